"""Reads of stored invoices, always through the member's scope.

An invoice belongs to no office itself: it is visible to a member when it is linked
(`ClientInvoice`) to a client the member sees — every client of the office for managers
and admins, only the assigned ones for an accountant. Anything else is 404, so the
existence of another office's invoice is never revealed.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.urls import reverse

from clients.selectors import clients_visible_to
from invoices.models import ClientInvoice, Invoice, OutgoingInvoice, SubjectType
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


def with_offline_certificate_url(invoices: QuerySet[Invoice]) -> QuerySet[Invoice]:
    """Adds `offline_certificate_url`: the KOD II link when the portal issued the invoice
    offline (None otherwise), in the same query; `document_for` draws KOD II from it."""
    certificate_url = (
        OutgoingInvoice.objects.filter(invoice=OuterRef("pk"))
        .exclude(certificate_url="")
        .values("certificate_url")[:1]
    )
    return invoices.annotate(offline_certificate_url=Subquery(certificate_url))


def invoice_get_for_document(membership: Membership, pk: int) -> Invoice:
    """`invoice_get`, with `offline_certificate_url` (KOD II) for the view and the PDF, and
    `sent_upo` (pk, client pk) of the OutgoingInvoice when the portal sent it (its UPO)."""
    sent = OutgoingInvoice.objects.filter(
        Q(upo_xml__isnull=False) | Q(upo_page__isnull=False),  # online: its own; batch: a page
        invoice=OuterRef("pk"),
        state=OutgoingInvoice.State.SENT,
    )
    try:
        return (
            with_offline_certificate_url(invoices_visible_to(membership))
            .annotate(
                sent_upo_pk=Subquery(sent.values("pk")[:1]),
                sent_upo_client_id=Subquery(sent.values("client_id")[:1]),
            )
            .get(pk=pk)
        )
    except Invoice.DoesNotExist as exc:
        raise Http404 from exc


def sent_upo_url(invoice: Invoice, links: Iterable[ClientInvoice]) -> str:
    """The UPO of an invoice the portal sent, for a member who sees its seller (the UPO is
    the seller's: it lives under the seller client's pages); "" otherwise."""
    pk = getattr(invoice, "sent_upo_pk", None)
    client_id = getattr(invoice, "sent_upo_client_id", None)
    if pk is None or not any(
        link.client_id == client_id and link.subject_type == SubjectType.SUBJECT1 for link in links
    ):
        return ""
    return reverse("invoices:outgoing_upo", args=[client_id, pk])


def invoice_links(membership: Membership, invoice: Invoice) -> list[ClientInvoice]:
    """Which of the member's clients the invoice concerns, and as which side."""
    return list(
        ClientInvoice.objects.filter(invoice=invoice, client__in=clients_visible_to(membership))
        .select_related("client")
        .order_by("client__name", "subject_type")
    )


def invoices_by_ksef_number(membership: Membership, ksef_numbers: Iterable[str]) -> dict[str, int]:
    """KSeF number -> pk of the named invoices the member may see (the others are absent)."""
    numbers = {number for number in ksef_numbers if number}
    if not numbers:
        return {}
    rows = invoices_visible_to(membership).filter(ksef_number__in=numbers)
    return dict(rows.values_list("ksef_number", "pk"))


def corrections_of(membership: Membership, invoice: Invoice) -> list[Invoice]:
    """The correction invoices the member may see that name `invoice` as corrected."""
    return list(
        invoices_visible_to(membership)
        .filter(corrected_references__corrected_ksef_number=invoice.ksef_number)
        .only("pk", "ksef_number", "invoice_number", "issue_date")
        .distinct()
        .order_by("issue_date", "pk")
    )
