"""The corrections index: for each correction invoice, the invoices it corrects.

`corrections_index` is the write service the sync's ingest calls for the invoices it has
just stored (and `manage.py index_corrections` for those stored before); the invoice view
reads the index both ways — a correction links to what it corrects, a corrected invoice to
its corrections (`invoices.selectors`). Only correction types (KSeF's `invoiceType`) are
parsed, so indexing a package of ordinary invoices costs nothing. Re-indexing an invoice
replaces its rows, so running it twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db import transaction

from invoices.documents.xmlread import DocumentError, parse
from invoices.models import Invoice, InvoiceCorrection

# KSeF's invoiceType values of corrections (FA, FA_RR, PEF).
CORRECTION_TYPES = frozenset({"Kor", "KorZal", "KorRoz", "KorVatRr", "KorPef"})


@dataclass(frozen=True, slots=True)
class CorrectedReference:
    position: int
    ksef_number: str
    number: str
    issue_date: date | None


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _texts(element: object) -> dict[str, str]:
    return {_local(child.tag): (child.text or "").strip() for child in element}  # type: ignore[attr-defined]


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def _looks_like_ksef_number(text: str) -> bool:
    return len(text) in (35, 36) and text.count("-") >= 3


def corrected_references(xml: bytes) -> list[CorrectedReference]:
    """The corrected invoices an FA (2)/FA (3)/FA_RR correction (`DaneFaKorygowanej`) or
    a PEF credit note (`BillingReference/InvoiceDocumentReference`) names, in order."""
    try:
        root = parse(xml)
    except DocumentError:
        return []
    found: list[CorrectedReference] = []
    for element in root.iter():
        name = _local(element.tag)
        if name == "DaneFaKorygowanej":
            values = _texts(element)
            ksef_number = values.get("NrKSeFFaKorygowanej", "")
            number = values.get("NrFaKorygowanej", "")
            issued = values.get("DataWystFaKorygowanej", "")
        elif (
            name == "InvoiceDocumentReference"
            and _local(element.getparent().tag) == "BillingReference"
        ):
            values = _texts(element)
            number = values.get("ID", "")
            ksef_number = number if _looks_like_ksef_number(number) else ""
            issued = values.get("IssueDate", "")
        else:
            continue
        found.append(CorrectedReference(len(found) + 1, ksef_number, number[:256], _date(issued)))
    return found


def corrections_index(*, invoices: Iterable[Invoice]) -> int:
    """Record the corrected invoices of every correction among `invoices`; returns how
    many references it recorded. Other invoice types are skipped unparsed."""
    rows: list[InvoiceCorrection] = []
    indexed: list[int] = []  # a few per package: a list is as fast as a set here
    for invoice in invoices:
        if invoice.invoice_type not in CORRECTION_TYPES or invoice.pk in indexed:
            continue
        indexed.append(invoice.pk)
        rows += [
            InvoiceCorrection(
                correction_id=invoice.pk,
                position=reference.position,
                corrected_ksef_number=reference.ksef_number[:40],
                corrected_number=reference.number,
                corrected_issue_date=reference.issue_date,
            )
            for reference in corrected_references(bytes(invoice.xml))
        ]
    if not indexed:
        return 0
    with transaction.atomic():
        InvoiceCorrection.objects.filter(correction_id__in=indexed).delete()
        InvoiceCorrection.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
