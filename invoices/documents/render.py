"""From a stored invoice to its document: pick the renderer by the XML's root, add KOD I
and collect what no renderer consumed into "Pozostałe dane".

`document_for(invoice)` is pure (no database): the view adds the links to invoices the
portal holds. An XML none of the renderers knows still opens: every value it holds is in
"Pozostałe dane", so nothing is hidden from the reader.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import segno
from django.conf import settings
from django.utils.translation import gettext as _

from invoices.documents import fa, fa_rr, pef
from invoices.documents.model import Code, Document, Line
from invoices.documents.xmlread import XmlDocument
from invoices.models import Invoice
from ksef import qr
from ksef.environments import ENVIRONMENTS, TEST, Environment

FA3_NAMESPACE = "http://crd.gov.pl/wzor/2025/06/25/13775/"
FA2_NAMESPACE = "http://crd.gov.pl/wzor/2023/06/29/12648/"
FA_RR_NAMESPACE = "http://crd.gov.pl/wzor/2026/03/06/14189/"
UBL_ROOTS = {
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}
Renderer = Callable[[XmlDocument, str], Document]
RENDERERS: dict[str, Renderer] = {
    FA3_NAMESPACE: fa.render,
    FA2_NAMESPACE: fa.render,
    FA_RR_NAMESPACE: fa_rr.render,
    **{namespace: pef.render for namespace in UBL_ROOTS},
}


def qr_environment() -> Environment:
    """The Ministry environment whose QR host verifies our invoices. The simulator and
    custom URLs have no verification page of their own; their links use the TEST host,
    which is where the simulator's test data would be checked."""
    return ENVIRONMENTS.get(str(settings.KSEF_ENVIRONMENT).strip().lower(), TEST)


def kod1(invoice: Invoice, xml: bytes) -> Code | None:
    """KOD I: the verification link of the exact stored bytes and its QR code, labelled
    with the KSeF number (digest §7.2). None when the seller NIP is not a NIP (KSeF only
    issues the link for NIP sellers)."""
    try:
        url = qr.invoice_verification_url(
            qr_environment(), invoice.seller_nip, invoice.issue_date, xml
        )
    except qr.QrError:
        return None
    return Code(url=url, label=invoice.ksef_number, svg=qr_svg(url))


@lru_cache(maxsize=256)
def qr_svg(url: str) -> str:
    """The QR code of a verification link as inline SVG. Cached per link (a pure function
    of it; an SVG is ~10 kB): segno's choice of the best of eight masks, in Python, was
    7-11 ms of a 35 ms invoice view, and an invoice is opened again and again while it is
    being booked, and once more for its PDF."""
    qr_code = segno.make_qr(url, error="m")
    # No width/height: the stylesheet sizes it (screen and A4), the viewBox keeps it square.
    return str(qr_code.svg_inline(border=qr.QUIET_ZONE, dark="#000", light="#fff", omitsize=True))


def document_for(invoice: Invoice) -> Document:
    xml = bytes(invoice.xml)
    doc = XmlDocument(xml)
    renderer = RENDERERS.get(doc.namespace)
    if renderer is None:
        document = Document(
            form=invoice.form_code, number=invoice.invoice_number, kind=_("Dokument"), sections=[]
        )
    else:
        document = renderer(doc, invoice.form_code)
    document.ksef_number = invoice.ksef_number
    document.number = document.number or invoice.invoice_number
    document.other_data = [Line(item.path, item.value) for item in doc.leftovers()]
    document.kod1 = kod1(invoice, xml)
    return document
