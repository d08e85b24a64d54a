"""One invoice: the document view and its downloads (original XML, PDF).

Every member who sees a client linked to the invoice may open it; anyone else gets 404
(`invoices.selectors.invoice_get`). Read-only, so GET (and HEAD) only.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from invoices.selectors import invoice_get
from portal.access import ALL_ROLES, membership_of, role_required
from portal.http import HtmxHttpRequest


def _download(content: bytes, *, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Content-Length"] = str(len(content))
    return response


@require_safe
@role_required(*ALL_ROLES)
def invoice_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    invoice = invoice_get(membership_of(request), pk)
    return render(request, "invoices/detail.html", {"invoice": invoice})


@require_safe
@role_required(*ALL_ROLES)
def invoice_xml(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The original XML byte for byte: its SHA-256 is KSeF's invoice hash."""
    invoice = invoice_get(membership_of(request), pk)
    return _download(
        bytes(invoice.xml), filename=f"{invoice.ksef_number}.xml", content_type="application/xml"
    )


@require_safe
@role_required(*ALL_ROLES)
def invoice_pdf(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    from invoices.documents.pdf import render_pdf

    invoice = invoice_get(membership_of(request), pk)
    return _download(
        render_pdf(invoice), filename=f"{invoice.ksef_number}.pdf", content_type="application/pdf"
    )
