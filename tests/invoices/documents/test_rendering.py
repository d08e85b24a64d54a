"""Every official sample and every form the simulator generates renders, and shows every
value the Ministry's visualisation prints, in its formatting, in the HTML and in the PDF.

The expected values come from the XML through XPath (tests/invoices/documents/expected.py),
not from the renderer, so a value the renderer drops or misformats fails here."""

from __future__ import annotations

import io
import re
from datetime import date

import lxml.html
import pytest
from django.template.loader import render_to_string
from pypdf import PdfReader

from invoices.documents.pdf import render_pdf
from invoices.documents.render import document_for
from ksef_simulator import bulk
from ksef_simulator.fa3gen import TEMPLATES, Fa3Generator
from tests.invoices.documents.expected import compact, printed_values, squeeze
from tests.invoices.documents.support import (
    BUYER_NIP,
    SELLER_NIP,
    sample_names,
    store,
    store_sample,
)


def html_text(invoice) -> str:  # type: ignore[no-untyped-def]
    html = render_to_string(
        "invoices/documents/_document.html", {"document": document_for(invoice)}
    )
    return squeeze(lxml.html.fromstring(html).text_content())


def pdf_text(invoice) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    reader = PdfReader(io.BytesIO(render_pdf(invoice)))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def in_pdf(value: str, text: str) -> bool:
    """Whitespace-blind (a cell may wrap); a long name split across a table row's lines
    still has each of its words."""
    haystack = compact(text)
    return compact(value) in haystack or all(compact(word) in haystack for word in value.split())


def _simulator_invoices() -> list[tuple[str, bytes, str, str]]:
    generator = Fa3Generator(seed=7)
    seller, buyer = generator.party(SELLER_NIP), generator.party(BUYER_NIP)
    cases = []
    for template in TEMPLATES:
        made = generator.invoice(template, seller=seller, buyer=buyer, issue_date=date(2026, 2, 16))
        kind = {"kor": "Kor", "zal": "Zal"}.get(template, "Vat")
        cases.append((f"FA (3) {template}", made.xml, "FA (3)", kind))
    # The simulator's FA (2) and FA_RR (1) documents, as its bulk seeding stores them.
    forms = bulk._templates(SELLER_NIP, BUYER_NIP, seed=7)
    for key, form_code, kind in (("FA2", "FA (2)", "Vat"), ("FA_RR", "FA_RR (1)", "VatRr")):
        for n, form in enumerate(forms[key]):
            xml = form.content.replace(b"@@NUMER@@", f"{key}/2026/{n}".encode())
            cases.append((f"{form_code} #{n}", xml, form_code, kind))
    return cases


SIMULATED = _simulator_invoices()


@pytest.mark.django_db
@pytest.mark.parametrize("name", sample_names())
def test_every_official_sample_shows_what_the_official_visualisation_prints(name, client_company):  # type: ignore[no-untyped-def]
    stored = store_sample(client_company, name)
    expected = printed_values(stored.xml)
    assert len(expected) >= 5, "the sample should print parties, numbers and amounts"

    html = html_text(stored.invoice)
    missing_html = [value for value in expected if value not in html]
    assert not missing_html, f"{name}: missing from the HTML: {missing_html}"

    text, pages = pdf_text(stored.invoice)
    missing_pdf = [value for value in expected if not in_pdf(value, text)]
    assert not missing_pdf, f"{name}: missing from the PDF: {missing_pdf}"
    assert f"1 z {pages}" in text and f"{pages} z {pages}" in text


@pytest.mark.django_db
@pytest.mark.parametrize("label, xml, form_code, kind", SIMULATED, ids=[c[0] for c in SIMULATED])
def test_every_simulator_generated_form_renders_with_its_values(
    label, xml, form_code, kind, client_company
):  # type: ignore[no-untyped-def]
    invoice = store(
        client_company, xml, seller_nip=SELLER_NIP, issue_date=date(2026, 2, 16),
        form_code=form_code, invoice_type=kind,
    )  # fmt: skip
    expected = printed_values(xml)
    html = html_text(invoice)
    assert [value for value in expected if value not in html] == []
    assert "Kwota należności ogółem" in html
    assert document_for(invoice).other_data == [], "the simulator writes nothing unknown"


@pytest.mark.django_db
def test_the_pdf_of_the_ministry_example_reads_like_the_official_one(client_company):  # type: ignore[no-untyped-def]
    stored = store_sample(client_company, "mf-fa3-example-01.xml")
    text, pages = pdf_text(stored.invoice)
    flat = squeeze(text)
    for words in (
        "Krajowy System e-Faktur",
        "FV2026/02/150",
        "Faktura podstawowa",
        "Sprzedawca",
        "Nabywca",
        "Kwota należności ogółem: 2 051,00 PLN",
        "23% lub 22% 1 666,66 383,33 2 049,99",
        "5% 0,95 0,05 1,00",
        "Sprawdź, czy Twoja faktura znajduje się w KSeF!",
        stored.invoice.ksef_number,
    ):
        assert words in flat, words
    assert pages == 2 and "1 z 2" in text and "2 z 2" in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["invoice-template-fa-3-pef-correction.xml", "invoice-template-fa-3-pef.xml"]
)
def test_every_element_under_other_data_is_printed_in_the_pdf_with_its_path(name, client_company):  # type: ignore[no-untyped-def]
    """The PDF lays "Pozostałe dane" as lines of text rather than a table (the table cost
    the PEF correction over a second); every path and value must still be on the paper."""
    stored = store_sample(client_company, name)
    other = document_for(stored.invoice).other_data
    assert len(other) > 50
    text, pages = pdf_text(stored.invoice)
    # An element may wrap onto the next page: the page number "2 z 6" then sits inside it.
    haystack = compact(re.sub(rf"\n\d+ z {pages}\n", "\n", text))
    missing = [
        f"{item.label}: {item.value}"
        for item in other
        if compact(f"{item.label}: {item.value}") not in haystack
    ]
    assert missing == []
