"""Reads of the invoices the portal sends, through the member's scope.

An outgoing invoice belongs to a client; the member sees it when they see the client
(every client of the office for managers and admins, the assigned ones for an
accountant), and never another office's (404).
"""

from __future__ import annotations

import datetime

from django.db.models import F, QuerySet
from django.http import Http404

from certificates.expiry.selectors import local_today
from clients.models import Client
from clients.selectors import clients_visible_to
from invoices.models import KsefOutage, OutgoingInvoice
from invoices.sending.offline_reminders import near_until, unsent_offline
from portal.models import Membership


def offline_unsent_visible_to(
    membership: Membership, *, client: Client | None = None
) -> QuerySet[OutgoingInvoice]:
    """The unsent offline invoices the member may see, soonest deadline first: overdue at
    the top, those still waiting for an outage to end (no deadline yet) at the bottom."""
    invoices = unsent_offline().filter(client__in=clients_visible_to(membership))
    if client is not None:
        invoices = invoices.filter(client=client)
    return invoices.select_related("client", "job").order_by(
        F("offline_deadline").asc(nulls_last=True), "issued_offline_at", "pk"
    )


def offline_near_count(membership: Membership, *, today: datetime.date | None = None) -> int:
    """How many of them are due within one business day (or overdue)."""
    cutoff = near_until(today or local_today())
    return offline_unsent_visible_to(membership).filter(offline_deadline__lte=cutoff).count()


def current_outage() -> KsefOutage | None:
    """The KSeF outage going on now (the latest, should two be open), or None."""
    return KsefOutage.objects.filter(ended_at__isnull=True).order_by("-started_at").first()


def outgoing_offline_get(client: Client, pk: int) -> OutgoingInvoice:
    """One invoice the portal issued offline for CLIENT (already scoped), or 404: the
    document with KOD I "OFFLINE" exists only for those."""
    try:
        return (
            OutgoingInvoice.objects.filter(client=client, issued_offline_at__isnull=False)
            .exclude(certificate_url="")
            .select_related("client", "job")
            .get(pk=pk)
        )
    except OutgoingInvoice.DoesNotExist as exc:
        raise Http404 from exc
