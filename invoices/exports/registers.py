"""Invoice registers: one row per invoice of a list, the columns an accountant posts from,
as CSV for Excel or as XLSX.

A row is one invoice as one client sees it (an invoice between two clients of the office
appears once per client, with that client's role). Columns: the client, its role, issue and
KSeF acceptance dates, numbers, parties, net and VAT per rate group (from the XML, see
`amounts.py`), the totals KSeF reported, VAT in PLN, currency, the kind of invoice in
words, the schema and the corrected invoices.

CSV for Excel: UTF-8 with a BOM (so Excel reads it as UTF-8), `;` between fields (the list
separator of Polish Windows), decimal comma, CRLF line ends, dates DD.MM.YYYY.
XLSX: numbers as numbers, dates as dates, written row by row (XlsxWriter's constant_memory)
so a register of 100,000 rows never sits in memory.

Formula injection (OWASP "CSV injection"): a text cell that starts with = + - @, a tab or a
carriage return could be run as a formula by a spreadsheet. In CSV such a cell gets a
leading apostrophe. In XLSX a text cell is stored typed as text, which no spreadsheet
evaluates, and gets Excel's own apostrophe (the cell's quote prefix) so that editing the
cell cannot turn it into a formula either, while its value stays exactly the invoice's.
Amounts and dates are never touched: they are numbers and dates, not text.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import xlsxwriter
from django.db.models import QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from invoices.exports.amounts import (
    FA_RR_KEY,
    OTHER_KEY,
    RATE_KEYS,
    VAT_RATE_KEYS,
    RegisterFacts,
    register_facts,
)
from invoices.exports.selection import documents_of, link_chunks
from invoices.models import ClientInvoice, SubjectType
from portal.spreadsheet import spreadsheet_safe, starts_formula

WARSAW = ZoneInfo("Europe/Warsaw")
TEXT, DATE, AMOUNT = "text", "date", "amount"
BOM = "\ufeff"

ROLE_WORDS: dict[str, Promise] = {
    SubjectType.SUBJECT1: _("sprzedaż"),
    SubjectType.SUBJECT2: _("zakup"),
    SubjectType.SUBJECT3: _("podmiot trzeci"),
    SubjectType.SUBJECT_AUTHORIZED: _("podmiot upoważniony"),
}
# KSeF's invoiceType values (metadata), in the words of the FA(3) schema's RodzajFaktury.
TYPE_WORDS: dict[str, Promise] = {
    "Vat": _("faktura podstawowa"),
    "Kor": _("faktura korygująca"),
    "Zal": _("faktura zaliczkowa"),
    "Roz": _("faktura rozliczeniowa"),
    "Upr": _("faktura uproszczona"),
    "KorZal": _("korekta faktury zaliczkowej"),
    "KorRoz": _("korekta faktury rozliczeniowej"),
    "VatRr": _("faktura VAT RR"),
    "KorVatRr": _("korekta faktury VAT RR"),
    "VatPef": _("faktura PEF"),
    "VatPefSp": _("faktura PEF dostawcy usług Peppol"),
    "KorPef": _("korekta faktury PEF"),
}
RATE_WORDS: dict[str, Promise] = {
    "1": _("23% lub 22%"),
    "2": _("8% lub 7%"),
    "3": _("5%"),
    "4": _("ryczałt taxi"),
    "5": _("OSS"),
    "6_1": _("0% kraj"),
    "6_2": _("0% WDT"),
    "6_3": _("0% eksport"),
    "7": _("zw"),
    "8": _("poza krajem"),
    "9": _("art. 100 ust. 1 pkt 4"),
    "10": _("odwrotne obciążenie"),
    "11": _("marża"),
    FA_RR_KEY: _("VAT RR"),
    OTHER_KEY: _("inne stawki"),
}


@dataclass(frozen=True)
class Column:
    label: Promise | str
    kind: str
    width: int = 14


def columns() -> list[Column]:
    """The register's columns, in order (labels in the active language)."""
    head = [
        Column(_("Klient"), TEXT, 30),
        Column(_("NIP klienta"), TEXT, 12),
        Column(_("Rola klienta"), TEXT, 12),
        Column(_("Data wystawienia"), DATE, 12),
        Column(_("Data przyjęcia w KSeF"), DATE, 12),
        Column(_("Numer faktury"), TEXT, 20),
        Column(_("Numer KSeF"), TEXT, 36),
        Column(_("NIP sprzedawcy"), TEXT, 12),
        Column(_("Sprzedawca"), TEXT, 30),
        Column(_("Identyfikator nabywcy"), TEXT, 14),
        Column(_("Nabywca"), TEXT, 30),
    ]
    rates: list[Column] = []
    for key in RATE_KEYS:
        rates.append(Column(_label("Netto", key), AMOUNT))
        if key in VAT_RATE_KEYS:
            rates.append(Column(_label("VAT", key), AMOUNT))
    tail = [
        Column(_("Netto razem"), AMOUNT),
        Column(_("VAT razem"), AMOUNT),
        Column(_("Brutto razem"), AMOUNT),
        Column(_("VAT w PLN"), AMOUNT),
        Column(_("Waluta"), TEXT, 7),
        Column(_("Rodzaj faktury"), TEXT, 22),
        Column(_("Schemat"), TEXT, 10),
        Column(_("Faktura korygowana: numer"), TEXT, 20),
        Column(_("Faktura korygowana: numer KSeF"), TEXT, 36),
    ]
    return head + rates + tail


def _label(prefix: str, key: str) -> str:
    words = {"Netto": _("Netto"), "VAT": _("VAT")}[prefix]
    return f"{words} {RATE_WORDS[key]}"


def row_values(link: ClientInvoice, facts: RegisterFacts) -> list[Any]:
    """One register row: text as str, dates as date, amounts as Decimal, blanks as None."""
    invoice, client = link.invoice, link.client
    head: list[Any] = [
        client.name,
        client.nip,
        str(ROLE_WORDS.get(link.subject_type, link.subject_type)),
        invoice.issue_date,
        invoice.invoicing_date.astimezone(WARSAW).date(),
        invoice.invoice_number,
        invoice.ksef_number,
        invoice.seller_nip,
        invoice.seller_name,
        invoice.buyer_identifier,
        invoice.buyer_name,
    ]
    rates: list[Any] = []
    for key in RATE_KEYS:
        amounts = facts.rates.get(key)
        rates.append(amounts.net if amounts else None)
        if key in VAT_RATE_KEYS:
            rates.append(amounts.vat if amounts else None)
    tail: list[Any] = [
        invoice.net_amount,
        invoice.vat_amount,
        invoice.gross_amount,
        facts.vat_pln,
        invoice.currency,
        str(TYPE_WORDS.get(invoice.invoice_type, invoice.invoice_type)),
        invoice.form_code,
        ", ".join(ref.number for ref in facts.corrected if ref.number),
        ", ".join(ref.ksef_number for ref in facts.corrected if ref.ksef_number),
    ]
    return head + rates + tail


def register_rows(links: QuerySet[ClientInvoice], *, on_chunk: Any = None) -> Iterator[list[Any]]:
    """Every row of the selection, reading the XML one chunk of links at a time.

    `on_chunk(n)` is called after each chunk with the number of rows in it (progress).
    """
    for chunk in link_chunks(links):
        documents = documents_of(link.invoice_id for link in chunk)
        for link in chunk:
            xml = documents.get(link.invoice_id, b"")
            yield row_values(link, register_facts(xml, currency=link.invoice.currency))
        if on_chunk is not None:
            on_chunk(len(chunk))


# --- CSV ------------------------------------------------------------------------------------


def neutralised(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (`portal.spreadsheet`: the
    full-width and small forms of = + - @ too)."""
    return str(spreadsheet_safe(text))


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, dt.date):
        return value.strftime("%d.%m.%Y")
    return neutralised(str(value))


class _Line(io.StringIO):
    def pop(self) -> str:
        text = self.getvalue()
        self.seek(0)
        self.truncate()
        return text


def csv_chunks(rows: Iterable[list[Any]]) -> Iterator[str]:
    """The CSV text piece by piece: the BOM and header first, then a few hundred rows each."""
    out = _Line()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([neutralised(str(column.label)) for column in columns()])
    yield BOM + out.pop()
    for count, row in enumerate(rows, start=1):
        writer.writerow([csv_cell(value) for value in row])
        if count % 200 == 0:
            yield out.pop()
    rest = out.pop()
    if rest:
        yield rest


def csv_write(rows: Iterable[list[Any]], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        for piece in csv_chunks(rows):
            handle.write(piece)


# --- XLSX -----------------------------------------------------------------------------------


def xlsx_write(rows: Iterable[list[Any]], path: Path) -> None:
    """The register as an XLSX workbook at `path`, one row in memory at a time."""
    workbook = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    try:
        _xlsx_sheet(workbook, rows)
    finally:
        workbook.close()


def _xlsx_sheet(workbook: Any, rows: Iterable[list[Any]]) -> None:
    sheet = workbook.add_worksheet(str(_("Rejestr faktur"))[:31])
    header = workbook.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    date_format = workbook.add_format({"num_format": "dd.mm.yyyy"})
    amount_format = workbook.add_format({"num_format": "#,##0.00"})
    quoted = workbook.add_format({"quote_prefix": True})
    cols = columns()
    for index, column in enumerate(cols):
        sheet.set_column(index, index, column.width)
        sheet.write_string(0, index, str(column.label), header)
    sheet.freeze_panes(1, 0)
    count = 0
    for count, row in enumerate(rows, start=1):
        for index, (column, value) in enumerate(zip(cols, row, strict=True)):
            if value is None:
                continue
            if column.kind == AMOUNT:
                sheet.write_number(count, index, float(value), amount_format)
            elif column.kind == DATE:
                sheet.write_datetime(count, index, value, date_format)
            else:
                text = str(value)
                if starts_formula(text):
                    sheet.write_string(count, index, text, quoted)
                else:
                    sheet.write_string(count, index, text)
    sheet.autofilter(0, 0, max(count, 1), len(cols) - 1)
