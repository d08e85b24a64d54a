"""KOD I and KOD II of an invoice issued offline, in the document, its HTML and its PDF:
"OFFLINE" and "CERTYFIKAT" before KSeF numbers it, the KSeF number (and still
"CERTYFIKAT") after, and QR codes that carry exactly the verification links."""

from __future__ import annotations

import base64
import datetime
import io

import pytest
import segno
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from django.urls import reverse
from pypdf import PdfReader

from invoices.documents.render import document_for, document_for_outgoing, qr_environment
from invoices.models import OutgoingInvoice
from ksef import qr
from tests.invoices.documents.support import store
from tests.invoices.sending.offline_support import offline_invoice, offline_key
from tests.ksef.keys import make_rsa_key

pytestmark = pytest.mark.django_db
DEADLINE = datetime.date(2026, 2, 16)


def _segno_svg(url: str) -> str:
    """The QR code of URL as segno draws it, independently of the portal's cache."""
    return str(
        segno.make_qr(url, error="m").svg_inline(
            border=qr.QUIET_ZONE, dark="#000", light="#fff", omitsize=True
        )
    )


def _store(client, xml: bytes | memoryview):  # type: ignore[no-untyped-def]
    """The invoice as the sync stores it: the client's sale."""
    return store(
        client,
        bytes(xml),
        seller_nip=client.nip,
        issue_date=datetime.date(2026, 2, 15),
        subject_type="Subject1",
    )


def _b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def test_an_unsent_offline_invoice_shows_kod_i_offline_and_kod_ii_certyfikat(client_company):
    signer = offline_key(client_company)
    outgoing = offline_invoice(client_company, deadline=DEADLINE, signer=signer)

    document = document_for_outgoing(outgoing)

    assert document.kod1 is not None and document.kod2 is not None
    assert document.kod1.label == "OFFLINE"
    assert document.kod2.label == "CERTYFIKAT"
    xml = bytes(outgoing.xml)
    assert document.kod1.url == qr.invoice_verification_url(
        qr_environment(), client_company.nip, datetime.date(2026, 2, 15), xml
    )
    expected_kod2 = qr.certificate_verification_url(
        qr_environment(),
        "Nip",
        client_company.nip,
        client_company.nip,
        signer.certificate,
        signer.key,
        xml,
    )
    # ECDSA signatures differ each time: compare the signed part, verify the signature.
    signed, _, signature = document.kod2.url.removeprefix("https://").rpartition("/")
    assert signed == expected_kod2.removeprefix("https://").rpartition("/")[0]
    raw = _b64url(signature)
    public = signer.certificate.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(
        encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
        signed.encode(),
        ec.ECDSA(hashes.SHA256()),
    )
    assert document.kod1.svg == _segno_svg(document.kod1.url)
    assert document.kod2.svg == _segno_svg(document.kod2.url)
    assert document.ksef_number == ""


def test_kod_ii_signed_with_rsa_pss_verifies_against_the_offline_certificate(client_company):
    signer = offline_key(client_company, make_rsa_key())
    outgoing = offline_invoice(client_company, deadline=DEADLINE, signer=signer)

    code = document_for_outgoing(outgoing).kod2
    assert code is not None
    signed, _, signature = code.url.removeprefix("https://").rpartition("/")
    public = signer.certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(
        _b64url(signature),
        signed.encode(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )
    assert f"/{qr.invoice_hash_b64url(bytes(outgoing.xml))}" in signed


def test_an_online_invoice_has_no_kod_ii(client_company):
    stored = _store(client_company, offline_invoice(client_company, deadline=DEADLINE).xml)
    document = document_for(stored)
    assert document.kod1 is not None and document.kod1.label == stored.ksef_number
    assert document.kod2 is None


def _sent(outgoing: OutgoingInvoice) -> OutgoingInvoice:
    """What the sender leaves once KSeF numbered the invoice: the stored Invoice."""
    stored = _store(outgoing.client, outgoing.xml)
    OutgoingInvoice.objects.filter(pk=outgoing.pk).update(
        state=OutgoingInvoice.State.SENT, ksef_number=stored.ksef_number, invoice=stored
    )
    outgoing.refresh_from_db()
    return outgoing


def test_the_outgoing_page_shows_both_codes_with_their_captions(client_company, login, accountant):
    outgoing = offline_invoice(client_company, deadline=DEADLINE)
    url = reverse("invoices:outgoing_view", args=[client_company.pk, outgoing.pk])

    html = login(accountant).get(url).content.decode()

    assert "KOD I – weryfikacja faktury w KSeF" in html
    assert "KOD II – weryfikacja certyfikatu wystawcy (tryb offline)" in html
    assert '<figure class="doc-qr-code" id="kod1">' in html
    kod1 = html.split('id="kod1">', 1)[1].split("</figure>", 1)[0]
    kod2 = html.split('id="kod2">', 1)[1].split("</figure>", 1)[0]
    assert "<figcaption>OFFLINE</figcaption>" in kod1
    assert "<figcaption>CERTYFIKAT</figcaption>" in kod2
    assert outgoing.certificate_url in html
    assert _segno_svg(outgoing.certificate_url) in kod2


def test_the_outgoing_pdf_prints_offline_and_certyfikat(client_company, login, accountant):
    outgoing = offline_invoice(client_company, deadline=DEADLINE, number="FV/2026/02/77")
    response = login(accountant).get(
        reverse("invoices:outgoing_pdf", args=[client_company.pk, outgoing.pk])
    )

    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="FV-2026-02-77-OFFLINE.pdf"'
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "OFFLINE" in text and "CERTYFIKAT" in text
    assert "KOD II" in text and "FV/2026/02/77" in text


def test_once_sent_the_invoice_view_shows_the_ksef_number_and_still_certyfikat(
    client_company, login, accountant
):
    outgoing = _sent(offline_invoice(client_company, deadline=DEADLINE))

    html = (
        login(accountant)
        .get(reverse("invoices:detail", args=[outgoing.invoice_id]))
        .content.decode()
    )

    kod1 = html.split('id="kod1">', 1)[1].split("</figure>", 1)[0]
    kod2 = html.split('id="kod2">', 1)[1].split("</figure>", 1)[0]
    assert f"<figcaption>{outgoing.ksef_number}</figcaption>" in kod1
    assert "OFFLINE" not in kod1
    assert "<figcaption>CERTYFIKAT</figcaption>" in kod2
    assert _segno_svg(outgoing.certificate_url) in kod2


def test_once_sent_the_invoice_pdf_has_the_ksef_number_in_place_of_offline(
    client_company, login, accountant
):
    outgoing = _sent(offline_invoice(client_company, deadline=DEADLINE))

    response = login(accountant).get(reverse("invoices:pdf", args=[outgoing.invoice_id]))

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert outgoing.ksef_number in text and "CERTYFIKAT" in text
    assert "OFFLINE" not in text


def test_once_sent_the_outgoing_links_lead_to_the_stored_invoice(client_company, login, accountant):
    outgoing = _sent(offline_invoice(client_company, deadline=DEADLINE))
    browser = login(accountant)
    view = browser.get(reverse("invoices:outgoing_view", args=[client_company.pk, outgoing.pk]))
    pdf = browser.get(reverse("invoices:outgoing_pdf", args=[client_company.pk, outgoing.pk]))
    assert view["Location"] == reverse("invoices:detail", args=[outgoing.invoice_id])
    assert pdf["Location"] == reverse("invoices:pdf", args=[outgoing.invoice_id])


def test_the_invoice_view_issues_as_many_queries_with_kod_ii_as_without(
    client_company, login, accountant
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    plain = _store(client_company, offline_invoice(client_company, deadline=DEADLINE).xml)
    offline = _sent(offline_invoice(client_company, deadline=DEADLINE))
    browser = login(accountant)
    browser.get(reverse("invoices:detail", args=[plain.pk]))  # warm the session
    with CaptureQueriesContext(connection) as without:
        browser.get(reverse("invoices:detail", args=[plain.pk]))
    with CaptureQueriesContext(connection) as with_kod2:
        html = browser.get(reverse("invoices:detail", args=[offline.invoice_id])).content.decode()
    assert 'id="kod2"' in html
    assert len(with_kod2) == len(without)


def test_the_export_archive_prints_kod_ii_of_a_sent_offline_invoice_too(client_company):
    from invoices.documents.pdf import render_pdf
    from invoices.exports.selection import invoices_of

    outgoing = _sent(offline_invoice(client_company, deadline=DEADLINE))
    plain = _store(client_company, offline_invoice(client_company, deadline=DEADLINE).xml)
    read = invoices_of([outgoing.invoice_id, plain.pk])  # type: ignore[list-item]

    def text(pdf: bytes) -> str:
        return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)

    assert "CERTYFIKAT" in text(render_pdf(read[outgoing.invoice_id]))  # type: ignore[index]
    assert "CERTYFIKAT" not in text(render_pdf(read[plain.pk]))
