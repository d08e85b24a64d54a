"""The one write of the invoice lists: remembering when a member looked at a list.

A look at a list is not an audited action (it changes nothing anyone else sees), so no
audit event is recorded; the row exists only to answer "what is new since I last looked".
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Greatest
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
) -> None:
    """Note a view of the list scope (client + role, or office-wide with role "").

    One conditional UPDATE in the usual case, so two tabs loading at once cannot both
    start a new look; the first view of a scope inserts the row."""
    now = now or timezone.now()
    scope = Q(membership=membership, role=role if client else "")
    scope &= Q(client=client) if client else Q(client__isnull=True)
    new_look = Q(last_seen_at__lt=now - SESSION_GAP)
    updated = InvoiceListVisit.objects.filter(scope).update(
        baseline=Case(When(new_look, then=F("last_seen_at")), default=F("baseline")),
        last_seen_at=Greatest(F("last_seen_at"), Value(now)),
    )
    if updated:
        return
    try:
        with transaction.atomic():
            InvoiceListVisit.objects.create(
                membership=membership,
                client=client,
                role=role if client else "",
                baseline=None,
                last_seen_at=now,
            )
    except IntegrityError:  # a parallel first view inserted it: this view is the same look
        pass
