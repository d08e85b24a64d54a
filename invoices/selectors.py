"""Reads of stored invoices, always through the member's scope.

An invoice belongs to no office itself: it is visible to a member when it is linked
(`ClientInvoice`) to a client the member sees — every client of the office for managers
and admins, only the assigned ones for an accountant. Anything else is 404, so the
existence of another office's invoice is never revealed.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404

from clients.selectors import clients_visible_to
from invoices.models import ClientInvoice, Invoice
from portal.models import Membership


def invoices_visible_to(membership: Membership) -> QuerySet[Invoice]:
    """Every invoice linked to at least one client the member sees (no duplicates)."""
    links = ClientInvoice.objects.filter(
        invoice=OuterRef("pk"), client__in=clients_visible_to(membership)
    )
    return Invoice.objects.filter(Exists(links))


def invoice_get(membership: Membership, pk: int) -> Invoice:
    """One invoice the member may see, or 404."""
    try:
        return invoices_visible_to(membership).get(pk=pk)
    except Invoice.DoesNotExist as exc:
        raise Http404 from exc
