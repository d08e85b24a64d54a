"""From a stored invoice to its document: pick the renderer by the XML's root, add KOD I
(and KOD II for an invoice issued offline) and collect what no renderer consumed into
"Pozostałe dane".

`document_for(invoice)` is pure (no database): the view adds the links to invoices the
portal holds; the KOD II link of an invoice the portal issued offline comes annotated on
the invoice (`invoices.selectors.with_offline_certificate_url`). An XML none of
the renderers knows still opens: every value it holds is in "Pozostałe dane", so nothing is
hidden from the reader.

`document_for_outgoing(outgoing)` draws an invoice the portal issued offline and KSeF has
not numbered yet: KOD I is labelled "OFFLINE" and KOD II "CERTYFIKAT" (digest §7.2, §7.3),
as the Ministry's visualisation labels them; once KSeF numbers it, the number replaces
"OFFLINE".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import lru_cache

import segno
from django.conf import settings
from django.utils.translation import gettext as _

from invoices.documents import fa, fa_rr, pef
from invoices.documents.model import Code, Document, Line
from invoices.documents.xmlread import XmlDocument
from invoices.models import Invoice, OutgoingInvoice
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
    return _kod1(invoice.seller_nip, invoice.issue_date, xml, label=invoice.ksef_number)


def _kod1(seller_nip: str, issue_date: date | None, xml: bytes, *, label: str) -> Code | None:
    if issue_date is None:
        return None
    try:
        url = qr.invoice_verification_url(qr_environment(), seller_nip, issue_date, xml)
    except qr.QrError:
        return None
    return Code(url=url, label=label, svg=qr_svg(url))


def kod2(certificate_url: str) -> Code | None:
    """KOD II: the certificate link signed when the invoice was issued offline (stored on
    the outgoing invoice; it carries its signature, nothing secret), labelled CERTYFIKAT."""
    if not certificate_url:
        return None
    return Code(url=certificate_url, label=qr.LABEL_CERTIFICATE, svg=qr_svg(certificate_url))


@lru_cache(maxsize=256)
def qr_svg(url: str) -> str:
    """The QR code of a verification link as inline SVG. Cached per link (a pure function
    of it; an SVG is ~10 kB): segno's choice of the best of eight masks, in Python, was
    7-11 ms of a 35 ms invoice view, and an invoice is opened again and again while it is
    being booked, and once more for its PDF."""
    qr_code = segno.make_qr(url, error="m")
    # No width/height: the stylesheet sizes it (screen and A4), the viewBox keeps it square.
    return str(qr_code.svg_inline(border=qr.QUIET_ZONE, dark="#000", light="#fff", omitsize=True))


def _render(doc: XmlDocument, *, form_code: str, number: str) -> Document:
    renderer = RENDERERS.get(doc.namespace)
    if renderer is None:
        document = Document(form=form_code, number=number, kind=_("Dokument"), sections=[])
    else:
        document = renderer(doc, form_code)
    document.number = document.number or number
    document.other_data = [Line(item.path, item.value) for item in doc.leftovers()]
    return document


def document_for(invoice: Invoice) -> Document:
    """The stored invoice's document. An invoice the portal issued offline keeps KOD II
    "CERTYFIKAT" next to KOD I, now labelled with the KSeF number: its link comes with the
    invoice as `offline_certificate_url` (invoices.selectors.with_offline_certificate_url
    adds it to the query that reads the invoice, so this stays free of the database)."""
    xml = bytes(invoice.xml)
    document = _render(XmlDocument(xml), form_code=invoice.form_code, number=invoice.invoice_number)
    document.ksef_number = invoice.ksef_number
    document.kod1 = kod1(invoice, xml)
    document.kod2 = kod2(getattr(invoice, "offline_certificate_url", None) or "")
    return document


# The portal sends FA (3) only (invoices/sending/checks.py), so that is the outgoing form.
OUTGOING_FORMS = {FA3_NAMESPACE: "FA (3)", FA2_NAMESPACE: "FA (2)"}


def document_for_outgoing(outgoing: OutgoingInvoice) -> Document:
    """An invoice the portal holds for sending: KOD I of the exact bytes to be sent, with
    the KSeF number once KSeF gave one and "OFFLINE" until then, and KOD II (digest §7)."""
    xml = bytes(outgoing.xml)
    doc = XmlDocument(xml)
    form_code = OUTGOING_FORMS.get(doc.namespace, "FA (3)")
    document = _render(doc, form_code=form_code, number=outgoing.invoice_number)
    document.ksef_number = outgoing.ksef_number
    label = outgoing.ksef_number or qr.LABEL_OFFLINE
    document.kod1 = _kod1(outgoing.client.nip, outgoing.issue_date, xml, label=label)
    document.kod2 = kod2(outgoing.certificate_url)
    return document
