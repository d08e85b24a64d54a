"""Storing one downloaded export package: every invoice once, linked to the client.

Runs inside the transaction that also moves the cursor (invoices.sync.engine), so either
the whole package and the new high-water mark are stored, or nothing is. Invoices are
identified by KSeF number: one that is already here (a boundary record of the previous
package, or an invoice between two clients of the office) is not stored again, only
linked. Each XML must hash to the `invoiceHash` of its metadata row, and every row must
come with its XML: a package that fails either check is refused whole.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import JSONField, Model

from invoices.documents.corrections import CORRECTION_TYPES, corrections_index
from invoices.models import ClientInvoice, Invoice
from ksef.crypto import sha256_b64
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


def _batches(invoices: Iterable[Invoice]) -> Iterator[list[Invoice]]:
    """The invoices in batches, read ahead by a thread while the database stores the last.

    Reading a package (unzip, hash, build the rows) is the portal's CPU; storing it is the
    database's. Overlapped, they use both cores of a worker machine instead of taking
    turns: the reading thread holds the GIL while the storing one waits on PostgreSQL's
    socket. Only the reader runs in the thread — no database access leaves this one.
    """
    ahead: queue.Queue[list[Invoice] | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def read() -> None:
        try:
            iterator = iter(invoices)
            while not stop.is_set() and (batch := list(islice(iterator, BATCH))):
                ahead.put(batch)
            ahead.put(None)
        except BaseException as exc:  # handed to the storing thread, raised there
            ahead.put(exc)

    reader = threading.Thread(target=read, name="ingest-reader", daemon=True)
    reader.start()
    try:
        while (item := ahead.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while reader.is_alive():  # let a reader blocked on a full queue finish
            try:
                ahead.get_nowait()
            except queue.Empty:
                reader.join(timeout=0.05)


def store_invoices(
    *, client_id: int, subject_type: str, invoices: Iterable[Invoice]
) -> StoredCount:
    """Insert what is new and link every invoice to the client (call inside a transaction)."""
    invoices_new = links_new = received = 0
    for batch in _batches(invoices):
        received += len(batch)
        ids = _ids_of([invoice.ksef_number for invoice in batch])
        fresh = [invoice for invoice in batch if invoice.ksef_number not in ids]
        if fresh:
            _insert_new(fresh)
            ids.update(_ids_of([invoice.ksef_number for invoice in fresh]))
            invoices_new += len(fresh)
            _index_corrections(fresh, ids)
        links_new += _link(client_id, subject_type, batch, ids)
    return StoredCount(invoices_new=invoices_new, links_new=links_new, received=received)


def _index_corrections(fresh: list[Invoice], ids: dict[str, int]) -> None:
    """Record what the new corrections correct, so the invoice view links both ways; only
    correction types are parsed, so a package of ordinary invoices costs nothing here."""
    corrections = [invoice for invoice in fresh if invoice.invoice_type in CORRECTION_TYPES]
    for invoice in corrections:
        invoice.pk = ids[invoice.ksef_number]
    if corrections:
        corrections_index(invoices=corrections)


def _ids_of(numbers: list[str]) -> dict[str, int]:
    """The primary keys of the stored invoices among these KSeF numbers.

    On PostgreSQL the numbers travel as one server-side bound array: building an IN list
    of 500 literals through the ORM and psycopg's client-side binding cost more CPU than
    the query itself.
    """
    if connection.vendor != "postgresql":
        return dict(
            Invoice.objects.filter(ksef_number__in=numbers).values_list("ksef_number", "pk")
        )
    import psycopg

    connection.ensure_connection()
    table = connection.ops.quote_name(Invoice._meta.db_table)
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            f"SELECT ksef_number, id FROM {table} WHERE ksef_number = ANY(%b)",  # noqa: S608
            [numbers],
        )
        return dict(cursor.fetchall())


def _insert_new(objects: Sequence[Model], *, copy: bool = True) -> int:
    """INSERT the rows, skipping any another client's sync stored meanwhile (a unique
    KSeF number, or a link that exists).

    Not `bulk_create`: for 500 invoices of ~5 KB XML it compiles 14,000 placeholders, and
    with psycopg's client-side binding the statement travels as 5 MB of SQL literals for
    PostgreSQL to parse. PostgreSQL gets one statement with one array per column instead,
    bound server-side in binary (the XML as bytea), which stores several times faster;
    SQLite gets an executemany of the same INSERT.
    """
    meta = objects[0]._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            for obj in objects:
                f.pre_save(obj, add=True)  # the timestamp bulk_create would set
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    head = f"INSERT INTO {quote(meta.db_table)} ({columns})"
    if connection.vendor == "postgresql":
        if copy and _copy_new(meta.db_table, fields, objects):
            return len(objects)
        import psycopg

        # psycopg adapts these values itself; only JSON needs Django's adapter (Jsonb).
        arrays = [
            [f.get_db_prep_save(getattr(obj, f.attname), connection) for obj in objects]
            if isinstance(f, JSONField)
            else [getattr(obj, f.attname) for obj in objects]
            for f in fields
        ]
        casts = ", ".join(f"%b::{f.db_type(connection)}[]" for f in fields)
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:  # server-side binding
            sql = f"{head} SELECT * FROM unnest({casts}) ON CONFLICT DO NOTHING"  # noqa: S608
            cursor.execute(sql, arrays)
            return max(cursor.rowcount, 0)
    rows = [
        [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields] for obj in objects
    ]
    placeholders = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.executemany(f"{head} VALUES ({placeholders}) ON CONFLICT DO NOTHING", rows)
        return max(cursor.rowcount, 0)


def _copy_new(table: str, fields: Sequence[Any], objects: Sequence[Model]) -> bool:
    """COPY the rows in PostgreSQL's binary format; False if one of them already exists.

    COPY is PostgreSQL's bulk path: psycopg writes the rows in C, with no per-element
    array dumping, and the server skips the planner. It has no ON CONFLICT, so it runs in
    a savepoint: when another sync stored one of these rows after this batch looked
    (two clients of the office sharing invoices, syncing at once), the savepoint is rolled
    back and the caller's INSERT ... ON CONFLICT DO NOTHING stores the batch instead.
    """
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    types = [str(f.db_type(connection)).split("(", 1)[0].strip() for f in fields]
    prepared = [(f.attname, isinstance(f, JSONField) and f) for f in fields]
    import psycopg

    try:
        with transaction.atomic(savepoint=True), connection.cursor() as cursor:
            raw = cursor.cursor  # psycopg's own cursor beneath Django's wrapper
            with raw.copy(f"COPY {quote(table)} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for obj in objects:
                    copy.write_row(
                        [
                            json.get_db_prep_save(getattr(obj, name), connection)
                            if json
                            else getattr(obj, name)
                            for name, json in prepared
                        ]
                    )
    except (IntegrityError, psycopg.IntegrityError):  # the raw cursor's own error class
        return False
    return True


def _link(client_id: int, subject_type: str, batch: list[Invoice], ids: dict[str, int]) -> int:
    """Link every invoice of the batch to the client; the number of links that are new.

    The unique (client, invoice, subject type) constraint skips the links that exist (the
    boundary records of the previous package), so no query looks for them first. Each
    link carries the copies of its invoice's list columns (`ClientInvoice.of`).
    """
    links = []
    for invoice in batch:
        link = ClientInvoice.of(invoice, client_id=client_id, subject_type=subject_type)
        link.invoice_id = ids[invoice.ksef_number]  # the batch's invoices have no pk
        links.append(link)
    return _insert_new(links, copy=False)
