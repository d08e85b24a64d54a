"""The invoice as a PDF: WeasyPrint lays the document template of the HTML view on A4,
with the print rules of static/css/invoice.css and page numbers "1 z N" from CSS `@page`
counters (templates/invoices/documents/pdf.html).

`render_pdf(invoice)` is what the single download and the ZIP export call;
`render_outgoing_pdf(outgoing)` prints an invoice issued offline before KSeF numbers it. WeasyPrint
needs Pango and fonts with Polish glyphs from the system (`make system-packages`); it never
fetches anything: the only resource is the stylesheet, read from disk.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import translation

from invoices.documents.model import Document
from invoices.documents.render import document_for, document_for_outgoing
from invoices.models import Invoice, OutgoingInvoice

STYLESHEET = "css/invoice.css"
# WeasyPrint logs every layout step at INFO (seven lines per PDF, a flood in a ZIP export)
# and warns about the stylesheet's screen-only rules (overflow-x, width media queries).
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
logging.getLogger("weasyprint").setLevel(logging.ERROR)


@lru_cache(maxsize=1)
def _stylesheet() -> object:
    from weasyprint import CSS

    path = finders.find(STYLESHEET)
    if not path:
        raise FileNotFoundError(f"static file {STYLESHEET} not found")
    return CSS(filename=str(path))


def _refuse_fetch(url: str, *args: object, **kwargs: object) -> dict[str, object]:
    raise ValueError(f"the invoice PDF loads no external resource ({url})")


def render_pdf(invoice: Invoice) -> bytes:
    """The invoice's PDF (A4), the same document the view shows (with KOD II when the
    invoice comes with its `offline_certificate_url`)."""
    return render_document_pdf(document_for(invoice))


def render_outgoing_pdf(outgoing: OutgoingInvoice) -> bytes:
    """An offline invoice's PDF with KOD I "OFFLINE" and KOD II "CERTYFIKAT"."""
    return render_document_pdf(document_for_outgoing(outgoing))


def render_document_pdf(document: Document) -> bytes:
    from weasyprint import HTML

    with translation.override("pl"):  # the legal document is Polish, as the Ministry's is
        html = render_to_string("invoices/documents/pdf.html", {"document": document})
    pdf = HTML(string=html, url_fetcher=_refuse_fetch, media_type="print").write_pdf(
        stylesheets=[_stylesheet()]
    )
    assert pdf is not None
    return bytes(pdf)
