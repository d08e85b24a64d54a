"""The files themselves: the ZIP (names, bytes, hashes, each invoice once, chunked reads),
the CSV for Excel (BOM, `;`, decimal comma, CRLF, formulas neutralised) and the XLSX read
back with openpyxl (numbers as numbers, dates as dates, text kept as text)."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
import zipfile
from decimal import Decimal

import openpyxl
import pytest

from invoices.browse.filters import filtered_links
from invoices.exports import archive, registers
from invoices.exports import selection as selection_module
from invoices.models import ClientInvoice
from tests.factories import make_client
from tests.invoices.browse.support import link_also
from tests.invoices.exports.support import sample_link, sample_xml, xml_link

HOSTILE = '=HYPERLINK("http://zly.example","kliknij")'


@pytest.fixture
def samples(client_company):  # type: ignore[no-untyped-def]
    return [
        sample_link(client_company, "mf-fa3-example-01.xml", issue_date=dt.date(2026, 3, 3)),
        sample_link(
            client_company,
            "mf-fa3-example-02.xml",
            invoice_type="Kor",
            net_amount=Decimal("-162.60"),
            vat_amount=Decimal("-37.40"),
            gross_amount=Decimal("-200.00"),
            issue_date=dt.date(2026, 3, 2),
        ),
        xml_link(
            client_company,
            sample_xml("invoice-template-fa-rr-1.xml", nip="5265877635", buyer_nip="6808208874"),
            form_code="FA_RR (1)",
            invoice_type="VatRr",
            issue_date=dt.date(2026, 3, 1),
        ),
    ]


def _links(membership, **params):  # type: ignore[no-untyped-def]
    return filtered_links(membership=membership, params={"sort": ["issue_date"], **params})


# --- ZIP ------------------------------------------------------------------------------------


def test_the_zip_holds_each_invoices_original_xml_and_pdf_under_its_ksef_number(
    manager, samples, tmp_path, fake_pdf
):
    path = tmp_path / "faktury.zip"
    result = archive.archive_file(path, _links(manager), pdf=fake_pdf)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert zf.testzip() is None
        for link in samples:
            invoice = link.invoice
            data = zf.read(f"{invoice.ksef_number}.xml")
            assert data == bytes(invoice.xml)
            digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
            assert digest == invoice.invoice_hash
            assert zf.read(f"{invoice.ksef_number}.pdf") == fake_pdf(invoice)
    assert sorted(names) == sorted(
        f"{link.invoice.ksef_number}.{ext}" for link in samples for ext in ("xml", "pdf")
    )
    assert (result.invoices, result.files) == (3, 6)


def test_an_invoice_between_two_clients_is_in_the_office_wide_zip_once(
    office, manager, client_company, tmp_path, fake_pdf
):
    buyer = make_client(office, name="Hurtownia Zbożowa Kłos sp. z o.o.")
    link = sample_link(client_company, "mf-fa3-example-01.xml", "Subject1")
    link_also(link, buyer, "Subject2")
    assert _links(manager).count() == 2
    path = tmp_path / "a.zip"
    archive.archive_file(path, _links(manager), pdf=fake_pdf)
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == [
            f"{link.invoice.ksef_number}.xml",
            f"{link.invoice.ksef_number}.pdf",
        ]


def test_a_pdf_that_cannot_be_made_leaves_the_invoices_xml_alone_in_the_zip(
    manager, samples, tmp_path
):
    path = tmp_path / "a.zip"
    archive.archive_file(path, _links(manager), pdf=lambda invoice: None)
    with zipfile.ZipFile(path) as zf:
        assert all(name.endswith(".xml") for name in zf.namelist()) and len(zf.namelist()) == 3


def test_the_streamed_zip_is_a_valid_archive_with_the_same_files(manager, samples, fake_pdf):
    pieces = list(archive.archive_stream(_links(manager), pdf=fake_pdf))
    assert len(pieces) > 3  # handed on file by file, not as one block at the end
    with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as zf:
        assert zf.testzip() is None
        for link in samples:
            assert zf.read(f"{link.invoice.ksef_number}.xml") == bytes(link.invoice.xml)


def test_the_xml_is_read_one_chunk_at_a_time_with_one_query_per_chunk(
    manager, client_company, tmp_path, monkeypatch, django_assert_max_num_queries
):
    for _ in range(7):
        sample_link(client_company, "invoice-template-fa-3.xml")
    monkeypatch.setattr(selection_module, "CHUNK_SIZE", 3)
    fetched: list[int] = []
    original = selection_module.invoices_of

    def spy(ids):  # type: ignore[no-untyped-def]
        ids = list(ids)
        fetched.append(len(ids))
        return original(ids)

    monkeypatch.setattr(archive, "invoices_of", spy)
    links = _links(manager)
    # 1 cursor over the links + 1 query per chunk of documents.
    with django_assert_max_num_queries(1 + 3):
        archive.archive_file(tmp_path / "a.zip", links, with_pdf=False)
    assert fetched == [3, 3, 1]


# --- CSV ------------------------------------------------------------------------------------


def _csv(links) -> str:  # type: ignore[no-untyped-def]
    return "".join(registers.csv_chunks(registers.register_rows(links)))


def test_the_csv_is_utf8_with_a_bom_semicolons_decimal_commas_and_crlf(manager, samples):
    text = _csv(_links(manager))
    assert text.startswith("\ufeffKlient;NIP klienta;Rola klienta;Data wystawienia;")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    header, rr, correction, example01 = rows[0], rows[1], rows[2], rows[3]
    column = {name: index for index, name in enumerate(header)}
    assert len(rows) == 4 and all(len(row) == len(header) for row in rows)
    # Sorted by issue date: FA_RR (1 March), the correction (2 March), example 01 (3 March).
    assert rr[column["Data wystawienia"]] == "01.03.2026"
    assert rr[column["Netto VAT RR"]] == "2000,00" and rr[column["VAT VAT RR"]] == "140,00"
    assert rr[column["Rodzaj faktury"]] == "faktura VAT RR"
    assert correction[column["Netto 23% lub 22%"]] == "-162,60"  # a number, not neutralised
    assert correction[column["Brutto razem"]] == "-200,00"
    assert correction[column["Faktura korygowana: numer"]] == "FV2026/02/150"
    assert correction[column["Faktura korygowana: numer KSeF"]] == (
        "9999999999-20230908-8BEF280C8D35-4D"
    )
    assert correction[column["Rodzaj faktury"]] == "faktura korygująca"
    assert correction[column["Rola klienta"]] == "zakup"
    assert example01[column["Netto 23% lub 22%"]] == "1666,66"
    assert example01[column["VAT 5%"]] == "0,05"
    assert example01[column["VAT w PLN"]] == "383,38"
    assert example01[column["Netto 8% lub 7%"]] == ""


@pytest.mark.parametrize(
    "text", [HOSTILE, "+48 123", "-ABC", "@SUM(A1)", "\tx", "\rx", "＝1+1", "﹢48", "−5"]
)
def test_a_csv_text_cell_that_could_run_as_a_formula_gets_a_leading_apostrophe(
    manager, client_company, text
):
    sample_link(client_company, "invoice-template-fa-3.xml", invoice_number=text, seller_name=text)
    rows = list(csv.reader(io.StringIO(_csv(_links(manager))[1:]), delimiter=";"))
    column = {name: index for index, name in enumerate(rows[0])}
    assert rows[1][column["Numer faktury"]] == "'" + text
    assert rows[1][column["Sprzedawca"]] == "'" + text


# --- XLSX -----------------------------------------------------------------------------------


def test_the_xlsx_keeps_numbers_as_numbers_dates_as_dates_and_hostile_text_as_text(
    manager, samples, client_company, tmp_path
):
    sample_link(
        client_company,
        "invoice-template-fa-3.xml",
        invoice_number=HOSTILE,
        issue_date=dt.date(2026, 3, 9),
    )
    path = tmp_path / "rejestr.xlsx"
    registers.xlsx_write(registers.register_rows(_links(manager)), path)
    sheet = openpyxl.load_workbook(path).active
    header = [cell.value for cell in sheet[1]]
    column = {name: index for index, name in enumerate(header)}
    rows = list(sheet.iter_rows(min_row=2))
    assert len(rows) == 4
    correction = rows[1]
    issue = correction[column["Data wystawienia"]]
    assert issue.is_date and issue.value == dt.datetime(2026, 3, 2)
    net = correction[column["Netto 23% lub 22%"]]
    assert net.data_type == "n" and net.value == pytest.approx(-162.60)
    assert correction[column["Numer KSeF"]].data_type == "s"
    hostile = rows[3][column["Numer faktury"]]
    assert hostile.data_type == "s" and hostile.value == HOSTILE  # stored as text, exact
    assert hostile.quotePrefix  # Excel's own apostrophe: editing cannot make it a formula
    assert not any(cell.data_type == "f" for row in rows for cell in row)
    # Blank rate columns are empty cells, not zeros.
    assert rows[0][column["Netto 5%"]].value is None


def test_every_row_of_the_register_is_one_client_link(manager, office, client_company):
    buyer = make_client(office, name="Hurtownia")
    link = sample_link(client_company, "mf-fa3-example-01.xml", "Subject1")
    link_also(link, buyer, "Subject2")
    rows = list(registers.register_rows(_links(manager)))
    assert sorted(row[2] for row in rows) == ["sprzedaż", "zakup"]
    assert ClientInvoice.objects.count() == 2


def test_the_zip_carries_the_real_pdf_of_each_invoice(manager, client_company, tmp_path):
    import pypdf

    link = sample_link(client_company, "mf-fa3-example-01.xml")
    path = tmp_path / "faktury.zip"
    archive.archive_file(path, _links(manager))  # the portal's own render_pdf
    with zipfile.ZipFile(path) as zf:
        data = zf.read(f"{link.invoice.ksef_number}.pdf")
        assert zf.getinfo(f"{link.invoice.ksef_number}.pdf").compress_type == zipfile.ZIP_STORED
    reader = pypdf.PdfReader(io.BytesIO(data))
    text = " ".join(page.extract_text() for page in reader.pages)
    assert link.invoice.ksef_number in text.replace("\n", "")
    assert "FV2026/02/150" in text  # the number the document itself carries
