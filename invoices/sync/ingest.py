"""Storing one downloaded export package: every invoice once, linked to the client.

Runs inside the transaction that also moves the cursor (invoices.sync.engine), so either
the whole package and the new high-water mark are stored, or nothing is. Invoices are
identified by KSeF number: one that is already here (a boundary record of the previous
package, or an invoice between two clients of the office) is not stored again, only
linked. Each XML must hash to the `invoiceHash` of its metadata row, and every row must
come with its XML: a package that fails either check is refused whole.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from invoices.models import ClientInvoice, Invoice
from ksef.models import InvoiceMetadata

BATCH = 500


class PackageCorrupt(Exception):
    """The package's content does not match its metadata: download it again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class StoredCount:
    invoices_new: int  # rows added to Invoice
    links_new: int  # invoices newly linked to this client and subject type
    received: int  # invoices in the package


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def _invoice(row: InvoiceMetadata, raw: Mapping[str, Any], xml: bytes) -> Invoice:
    buyer = row.buyer_identifier
    return Invoice(
        ksef_number=row.ksef_number,
        invoice_number=row.invoice_number[:256],
        form_code=row.form_code[:20],
        invoice_type=row.invoice_type[:10],
        invoicing_mode=row.invoicing_mode[:10],
        issue_date=row.issue_date,
        invoicing_date=row.invoicing_date,
        acquisition_date=row.acquisition_date,
        permanent_storage_date=row.permanent_storage_date or row.acquisition_date,
        seller_nip=row.seller_nip[:10],
        seller_name=(row.seller_name or "")[:512],
        buyer_identifier_type=(buyer.type if buyer else "")[:10],
        buyer_identifier=((buyer.value or "") if buyer else "")[:50],
        buyer_name=(row.buyer_name or "")[:512],
        net_amount=row.net_amount,
        vat_amount=row.vat_amount,
        gross_amount=row.gross_amount,
        currency=row.currency[:3],
        is_self_invoicing=row.is_self_invoicing,
        has_attachment=row.has_attachment,
        invoice_hash=row.invoice_hash,
        hash_of_corrected_invoice=row.hash_of_corrected_invoice or "",
        metadata=dict(raw),
        xml=xml,
        size=len(xml),
    )


def checked_invoices(
    rows: Iterable[tuple[InvoiceMetadata, Mapping[str, Any]]],
    files: Iterable[tuple[str, bytes]],
) -> Iterator[Invoice]:
    """Pair each XML file with its metadata row, checking hashes and completeness."""
    by_number = {row.ksef_number: (row, raw) for row, raw in rows}
    seen: set[str] = set()
    for ksef_number, xml in files:
        if ksef_number not in by_number:
            raise PackageCorrupt(f"{ksef_number}.xml has no metadata row")
        row, raw = by_number[ksef_number]
        if sha256_b64(xml) != row.invoice_hash:
            raise PackageCorrupt(f"{ksef_number}.xml does not match its invoiceHash")
        seen.add(ksef_number)
        yield _invoice(row, raw, xml)
    missing = by_number.keys() - seen
    if missing:
        raise PackageCorrupt(f"{len(missing)} metadata rows without their XML")


def store_invoices(
    *, client_id: int, subject_type: str, invoices: Iterable[Invoice]
) -> StoredCount:
    """Insert what is new and link every invoice to the client (call inside a transaction)."""
    invoices_new = links_new = received = 0
    iterator = iter(invoices)
    while batch := list(islice(iterator, BATCH)):
        received += len(batch)
        numbers = [invoice.ksef_number for invoice in batch]
        existing = dict(
            Invoice.objects.filter(ksef_number__in=numbers).values_list("ksef_number", "pk")
        )
        fresh = [invoice for invoice in batch if invoice.ksef_number not in existing]
        if fresh:
            # ignore_conflicts: another client's sync may store the same invoice right now.
            Invoice.objects.bulk_create(fresh, ignore_conflicts=True)
            existing = dict(
                Invoice.objects.filter(ksef_number__in=numbers).values_list("ksef_number", "pk")
            )
            invoices_new += len(fresh)
        links_new += _link(client_id, subject_type, batch, existing)
    return StoredCount(invoices_new=invoices_new, links_new=links_new, received=received)


def _link(client_id: int, subject_type: str, batch: list[Invoice], ids: dict[str, int]) -> int:
    invoice_ids = [ids[invoice.ksef_number] for invoice in batch]
    linked = set(
        ClientInvoice.objects.filter(
            client_id=client_id, subject_type=subject_type, invoice_id__in=invoice_ids
        ).values_list("invoice_id", flat=True)
    )
    links = [
        ClientInvoice(
            client_id=client_id,
            invoice_id=ids[invoice.ksef_number],
            subject_type=subject_type,
            issue_date=invoice.issue_date,
        )
        for invoice in batch
        if ids[invoice.ksef_number] not in linked
    ]
    ClientInvoice.objects.bulk_create(links, ignore_conflicts=True)
    return len(links)
