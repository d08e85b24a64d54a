"""The one write of the invoice lists: remembering when a member looked at a list.

Two queries per view: the row is read (its baseline is what the list compares with) and
`last_seen_at` moved by a conditional UPDATE.

A look at a list is not an audited action (it changes nothing anyone else sees), so no
audit event is recorded; the row exists only to answer "what is new since I last looked".
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from clients.models import Client
from invoices.models import InvoiceListVisit
from portal.models import Membership

# Views of one list closer together than this are one look: filtering, paging and
# reloading keep the same baseline. A view after a longer pause starts a new look.
SESSION_GAP = dt.timedelta(minutes=30)


def list_visit_record(
    *,
    membership: Membership,
    client: Client | None,
    role: str,
    now: dt.datetime | None = None,
) -> dt.datetime | None:
    """Note a view of the list scope (client + role, or office-wide with role "") and
    return the baseline of this look: rows stored after it are new (None: nothing is).

    Two tabs loading at once compute the same baseline from the same row, and the
    UPDATE is conditional, so neither can move the baseline twice."""
    now = now or timezone.now()
    role = role if client else ""
    scope = Q(membership=membership, role=role)
    scope &= Q(client=client) if client else Q(client__isnull=True)
    visit = InvoiceListVisit.objects.filter(scope).only("baseline", "last_seen_at").first()
    if visit is None:
        try:
            with transaction.atomic():
                InvoiceListVisit.objects.create(
                    membership=membership, client=client, role=role, last_seen_at=now
                )
        except IntegrityError:  # a parallel first view inserted it: the same look
            pass
        return None
    if now - visit.last_seen_at > SESSION_GAP:  # a new look: compare with the last one
        InvoiceListVisit.objects.filter(pk=visit.pk, last_seen_at=visit.last_seen_at).update(
            baseline=visit.last_seen_at, last_seen_at=now
        )
        return visit.last_seen_at
    if now > visit.last_seen_at:
        InvoiceListVisit.objects.filter(pk=visit.pk, last_seen_at__lt=now).update(last_seen_at=now)
    return visit.baseline
