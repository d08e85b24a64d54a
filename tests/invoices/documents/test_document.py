"""The document model: nothing in the XML is lost, KOD I follows the official formula,
and the formatting helpers print what the Ministry prints."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.template import Context, Template

from invoices.documents import formatting as fmt
from invoices.documents.model import Box, Table
from invoices.documents.render import document_for
from tests.invoices.documents.support import sample_bytes, store, store_sample


def _with(xml: bytes, after: bytes, inserted: bytes) -> bytes:
    assert after in xml
    return xml.replace(after, after + inserted, 1)


@pytest.mark.django_db
def test_elements_no_section_knows_are_listed_under_other_data(client_company):  # type: ignore[no-untyped-def]
    xml = sample_bytes("mf-fa3-example-01.xml")
    xml = _with(
        xml, b"<P_1M>Warszawa</P_1M>", "<NowePoleFa>wartość spoza schematu</NowePoleFa>".encode()
    )
    xml = _with(xml, b"<Podmiot1>", b'<Znacznik kod="X1"/>')
    invoice = store(client_company, xml, seller_nip="9999999999", issue_date=date(2026, 2, 15))

    other = {line.label: line.value for line in document_for(invoice).other_data}

    assert other == {"Fa/NowePoleFa": "wartość spoza schematu", "Podmiot1/Znacznik": "kod=X1"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    ["mf-fa3-example-01.xml", "mf-fa3-example-04.xml", "mf-fa3-example-10.xml",
     "fa3-complete-example.xml", "invoice-template-fa-3-with-attachment.xml",
     "invoice-template-fa-rr-1.xml"],
)  # fmt: skip
def test_the_official_fa_samples_are_shown_without_leftovers(name, client_company):  # type: ignore[no-untyped-def]
    stored = store_sample(client_company, name)
    assert document_for(stored.invoice).other_data == []


@pytest.mark.django_db
def test_a_pef_invoice_keeps_ubl_elements_outside_the_layout_under_other_data(client_company):  # type: ignore[no-untyped-def]
    stored = store_sample(client_company, "invoice-template-fa-3-pef.xml")
    other = {line.label: line.value for line in document_for(stored.invoice).other_data}
    assert other["Delivery/DeliveryLocation/Address/CityName"] == "Stockholm"
    assert other["AccountingCost"] == "4025:123:4343"


@pytest.mark.django_db
def test_the_attachment_tables_and_texts_are_shown(client_company):  # type: ignore[no-untyped-def]
    stored = store_sample(client_company, "invoice-template-fa-3-with-attachment.xml")
    document = document_for(stored.invoice)
    attachments = next(s for s in document.sections if s.key == "attachments")
    tables = [
        block
        for box in attachments.blocks
        if isinstance(box, Box)
        for block in box.blocks
        if isinstance(block, Table)
    ]
    assert tables[0].title == "Odczyty"
    assert [c.label for c in tables[0].columns][:3] == [
        "Licznik/Strefa",
        "Data",
        "Wskazanie bieżące",
    ]


@pytest.mark.django_db
def test_kod_i_is_the_official_link_of_the_stored_bytes(client_company, ksef_data: Path, settings):  # type: ignore[no-untyped-def]
    vector = json.loads((ksef_data / "samples/test-vectors/ksef-test-vectors.json").read_text())[
        "qrKodI"
    ]
    derived = vector["derived_example"]
    xml = (ksef_data / derived["file"]).read_bytes()
    invoice = store(
        client_company,
        xml,
        seller_nip=derived["sellerNip"],
        issue_date=date.fromisoformat(derived["P_1"]),
    )
    settings.KSEF_ENVIRONMENT = "test"

    code = document_for(invoice).kod1

    assert code is not None
    assert code.url == derived["url_TEST"]
    assert code.label == invoice.ksef_number
    assert code.svg.startswith("<svg") and "path" in code.svg
    settings.KSEF_ENVIRONMENT = "production"
    production = document_for(invoice).kod1
    assert production is not None
    assert production.url.startswith(vector["qrBase"]["PRD"] + "/invoice/5265877635/31-10-2025/")


@pytest.mark.django_db
def test_the_qr_code_of_a_link_is_drawn_once_and_reused_on_the_next_view(
    client_company, monkeypatch
):  # type: ignore[no-untyped-def]
    from invoices.documents import render

    render.qr_svg.cache_clear()
    drawn: list[str] = []
    real = render.segno.make_qr

    def counted(url: str, **options: Any) -> Any:
        drawn.append(url)
        return real(url, **options)

    monkeypatch.setattr(render.segno, "make_qr", counted)
    first = store_sample(client_company, "mf-fa3-example-01.xml").invoice
    second = store_sample(client_company, "mf-fa3-example-02.xml").invoice

    codes = [document_for(invoice).kod1 for invoice in (first, second, first, second)]

    assert all(code is not None for code in codes)
    assert len(drawn) == 2 and drawn[0] != drawn[1]
    assert codes[0].svg == codes[2].svg != codes[1].svg  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "value, expected",
    [("1626.01", "1 626,01"), ("-200", "-200,00"), ("2051", "2 051,00"), ("0.95", "0,95"),
     ("1234567.891", "1 234 567,891"), ("12.50000000", "12,50000000"), ("abc", "abc")],
)  # fmt: skip
def test_amounts_are_printed_in_polish_format(value, expected):  # type: ignore[no-untyped-def]
    assert fmt.amount(value) == expected


def test_quantities_dates_and_rates_are_printed_like_the_official_layout():  # type: ignore[no-untyped-def]
    assert [fmt.quantity(v) for v in ("1", "1.000", "2.5", "1500")] == ["1", "1", "2,5", "1 500"]
    assert fmt.day("2026-02-15") == "15.02.2026" and fmt.day(date(2026, 1, 27)) == "27.01.2026"
    assert [fmt.rate(v) for v in ("23", "8", "0 KR", "zw")] == ["23%", "8%", "0 KR", "zw"]


def test_the_formatting_filters_work_in_templates():  # type: ignore[no-untyped-def]
    template = Template("{% load documents %}{{ a|amount }} · {{ d|day }} · {{ q|quantity }}")
    assert (
        template.render(Context({"a": "-1626.01", "d": "2026-02-15", "q": "3.50"}))
        == "-1 626,01 · 15.02.2026 · 3,5"
    )
