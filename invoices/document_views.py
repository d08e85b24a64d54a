"""One invoice: the document view and its downloads (original XML, PDF).

Every member who sees a client linked to the invoice may open it; anyone else gets 404
(`invoices.selectors.invoice_get`). Read-only, so GET (and HEAD) only. The view shows the
document as the Ministry's visualisation lays it out (invoices/documents/), with the
portal's facts above it: the member's clients it concerns and as which side, KSeF's hash,
the downloads, and the corrections of this invoice the member may see. HTMX asks for the
document alone (`#document`).
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from invoices import selectors
from invoices.documents.pdf import render_pdf
from invoices.documents.render import document_for
from portal.access import ALL_ROLES, membership_of, role_required
from portal.http import HtmxHttpRequest

PAGE = "invoices/detail.html"


def _download(content: bytes, *, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Content-Length"] = str(len(content))
    return response


@require_safe
@role_required(*ALL_ROLES)
def invoice_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = membership_of(request)
    invoice = selectors.invoice_get_for_document(membership, pk)
    document = document_for(invoice)
    held = selectors.invoices_by_ksef_number(
        membership, (c.ksef_number for c in document.corrected)
    )
    for corrected in document.corrected:
        if corrected.ksef_number in held:
            corrected.url = reverse("invoices:detail", args=[held[corrected.ksef_number]])
    links = selectors.invoice_links(membership, invoice)
    context = {
        "invoice": invoice,
        "document": document,
        "links": links,
        "upo_url": selectors.sent_upo_url(invoice, links),
        "corrections": selectors.corrections_of(membership, invoice),
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, f"{PAGE}#document", context)
    return render(request, PAGE, context)


@require_safe
@role_required(*ALL_ROLES)
def invoice_xml(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The original XML byte for byte: its SHA-256 is KSeF's invoice hash."""
    invoice = selectors.invoice_get(membership_of(request), pk)
    return _download(
        bytes(invoice.xml), filename=f"{invoice.ksef_number}.xml", content_type="application/xml"
    )


@require_safe
@role_required(*ALL_ROLES)
def invoice_pdf(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    invoice = selectors.invoice_get_for_document(membership_of(request), pk)
    return _download(
        render_pdf(invoice),
        filename=f"{invoice.ksef_number}.pdf",
        content_type="application/pdf",
    )
