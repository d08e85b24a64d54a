"""Storing a package: every invoice once, linked once, whatever another sync did meanwhile."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from invoices.models import ClientInvoice, Invoice, InvoiceCorrection
from invoices.sync import ingest
from invoices.sync.ingest import store_invoices
from tests.factories import make_client, make_office

pytestmark = pytest.mark.django_db(transaction=True)

WHEN = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _invoice(n: int) -> Invoice:
    xml = f"<Faktura><P_2>FV/{n}</P_2></Faktura>".encode()
    return Invoice(
        ksef_number=f"5265877635-20260302-{n:012X}-00",
        invoice_number=f"FV/{n}",
        form_code="FA (3)",
        invoice_type="Vat",
        invoicing_mode="Online",
        issue_date=date(2026, 3, 2),
        invoicing_date=WHEN,
        acquisition_date=WHEN,
        permanent_storage_date=WHEN,
        seller_nip="5265877635",
        seller_name="Sprzedawca",
        buyer_identifier_type="Nip",
        buyer_identifier="7010002137",
        buyer_name="Nabywca",
        net_amount=Decimal("100.00"),
        vat_amount=Decimal("23.00"),
        gross_amount=Decimal("123.00"),
        currency="PLN",
        invoice_hash=base64.b64encode(hashlib.sha256(xml).digest()).decode(),
        metadata={"ksefNumber": f"n{n}", "grossAmount": 123.0},
        xml=xml,
        size=len(xml),
    )


@pytest.fixture(name="client")
def client_fixture():  # type: ignore[no-untyped-def]
    return make_client(make_office(), name="Klient")


def test_a_package_is_stored_once_and_a_second_delivery_adds_nothing(client):
    first = store_invoices(
        client_id=client.pk, subject_type="Subject1", invoices=[_invoice(n) for n in range(700)]
    )
    again = store_invoices(
        client_id=client.pk, subject_type="Subject1", invoices=[_invoice(n) for n in range(700)]
    )
    assert (first.invoices_new, first.links_new, first.received) == (700, 700, 700)
    assert (again.invoices_new, again.links_new, again.received) == (0, 0, 700)
    assert Invoice.objects.count() == ClientInvoice.objects.count() == 700
    stored = Invoice.objects.get(ksef_number=_invoice(5).ksef_number)
    assert bytes(stored.xml) == _invoice(5).xml
    assert stored.metadata == {"ksefNumber": "n5", "grossAmount": 123.0}


def test_invoices_another_sync_stored_meanwhile_are_linked_not_stored_twice(client, monkeypatch):
    """The race of two clients' syncs storing a shared invoice: this batch looked for the
    invoice before the other transaction committed it, so it tries to insert it too."""
    store_invoices(
        client_id=client.pk, subject_type="Subject2", invoices=[_invoice(n) for n in range(3)]
    )
    real_ids_of = ingest._ids_of
    calls = []

    def ids_of_before_the_other_commit(numbers):  # type: ignore[no-untyped-def]
        calls.append(len(numbers))
        return {} if len(calls) == 1 else real_ids_of(numbers)

    monkeypatch.setattr(ingest, "_ids_of", ids_of_before_the_other_commit)
    stored = store_invoices(
        client_id=client.pk, subject_type="Subject1", invoices=[_invoice(n) for n in range(5)]
    )
    assert stored.links_new == 5
    assert Invoice.objects.count() == 5
    assert ClientInvoice.objects.filter(subject_type="Subject1").count() == 5
    assert ClientInvoice.objects.filter(subject_type="Subject2").count() == 3


def test_a_stored_correction_is_indexed_with_the_invoice_it_corrects(client):
    original = _invoice(1)
    correction = _invoice(2)
    correction.invoice_type = "Kor"
    correction.xml = (
        '<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/"><Fa><P_2>KOR/1</P_2>'
        "<DaneFaKorygowanej><DataWystFaKorygowanej>2026-03-01</DataWystFaKorygowanej>"
        "<NrFaKorygowanej>FV/1</NrFaKorygowanej><NrKSeF>1</NrKSeF>"
        f"<NrKSeFFaKorygowanej>{original.ksef_number}</NrKSeFFaKorygowanej>"
        "</DaneFaKorygowanej></Fa></Faktura>"
    ).encode()
    store_invoices(client_id=client.pk, subject_type="Subject2", invoices=[original, correction])
    (reference,) = InvoiceCorrection.objects.all()
    assert reference.correction.ksef_number == correction.ksef_number
    assert (reference.corrected_ksef_number, reference.corrected_number) == (
        original.ksef_number,
        "FV/1",
    )


def test_a_link_carries_its_invoices_list_columns_and_counterparty(client):
    """The lists filter on the link's copies: the sync fills them as it links."""
    sale, purchase = _invoice(1), _invoice(2)
    purchase.invoice_type, purchase.form_code, purchase.has_attachment = "Kor", "FA (3)", True
    store_invoices(client_id=client.pk, subject_type="Subject1", invoices=[sale])
    store_invoices(client_id=client.pk, subject_type="Subject2", invoices=[purchase])
    as_seller = ClientInvoice.objects.get(subject_type="Subject1")
    as_buyer = ClientInvoice.objects.get(subject_type="Subject2")
    assert (as_seller.counterparty_nip, as_seller.counterparty_name) == ("7010002137", "Nabywca")
    assert (as_buyer.counterparty_nip, as_buyer.counterparty_name) == ("5265877635", "Sprzedawca")
    assert (as_buyer.gross_amount, as_buyer.net_amount, as_buyer.vat_amount) == (
        Decimal("123.00"),
        Decimal("100.00"),
        Decimal("23.00"),
    )
    assert (as_buyer.invoice_type, as_buyer.invoicing_mode, as_buyer.has_attachment) == (
        "Kor",
        "Online",
        True,
    )
    copied = (as_buyer.currency, as_buyer.form_code, as_buyer.invoicing_date)
    assert copied == ("PLN", "FA (3)", WHEN)
    assert as_seller.has_attachment is False
