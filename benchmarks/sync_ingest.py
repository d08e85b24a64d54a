"""Ingest throughput of the sync engine: ``python benchmarks/sync_ingest.py [--quick]``.

Times the path every downloaded export takes in ``Engine._download``: stream the parts,
hash-check and decrypt them (``KsefClient.open_export_package``), unzip and pair every
XML with its metadata row, checking its hash (``checked_invoices``), and store the
invoices and their links to the client in one transaction (``store_invoices``), for
packages of ``--package`` invoices (10,000, KSeF's maximum), each of a new seller so that
every invoice is new. The target is at least 2,000 invoices/s into PostgreSQL
(DATABASE_URL=postgres://...) on 2 cores.

The simulator runs in-process and builds each package before the clock starts; serving a
part is a memory copy. Its CPU while answering is counted apart and printed, and the
portal's CPU (process CPU minus the simulator's) is printed next to the wall time: the
rest of the wall time is the database server's work, on the other core. Repeats
``--repeat`` times and prints the median; exits non-zero if the median misses the target.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta

import sync_support as support
from django.db import transaction

from clients.models import Client
from invoices.models import ClientInvoice, Invoice
from invoices.sync.ingest import checked_invoices, store_invoices
from ksef.client import KsefClient
from ksef.crypto import SYMMETRIC_KEY_ENCRYPTION, select_public_key_certificate
from ksef.models import DateType, InvoicePackage, InvoiceQueryFilters, SubjectType
from ksef_simulator import SimulatorConfig, create_app
from ksef_simulator.bulk import bulk_seed
from tests.factories import make_office, valid_nip
from tests.ksef_simulator.helpers import owner_login

TARGET = 2_000.0  # invoices per second


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--package", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2,000-invoice packages, 3 runs")
    args = parser.parse_args()
    if args.quick:
        args.package, args.repeat = 2_000, 3
    print(f"sync_ingest: {args.repeat} packages of {args.package:,} invoices into "
          f"{support.database_label()}; {support.load_average()}")  # fmt: skip
    with support.fresh_database("ingest"):
        rates = run(args.package, args.repeat)
    print(f"{support.load_average()} at the end")
    median = statistics.median(rates)
    ok = support.verdict(median >= TARGET, f"median {median:,.0f} invoices/s >= {TARGET:,.0f}")
    return 0 if ok else 1


def run(size: int, repeat: int) -> list[float]:
    import httpx

    app = create_app(SimulatorConfig(profile="fast", export_package_invoice_limit=size))
    state = app.extensions["ksef_simulator"]
    transport = support.TimedTransport(app)
    http = httpx.Client(transport=transport, base_url=support.SIM_BASE_URL)
    client = KsefClient(support.SIM_BASE_URL, http=http, clock=state.now, sleep=lambda _: None)
    office = make_office("Biuro Rachunkowe Benchmark")
    now = state.now()
    sellers = []
    # Every seller's invoices first: KSeF (the simulator) adds none below a reported HWM.
    for run_number in range(1, repeat + 1):
        seller = Client.objects.create(office=office, nip=valid_nip(), name=f"Klient {run_number}")
        bulk_seed(
            state,
            seller_nip=seller.nip,
            buyer_nip=valid_nip(),
            count=size,
            stored_from=now - timedelta(days=80),
            stored_to=now - timedelta(days=1),
            seed=run_number,
        )
        sellers.append(seller)
    rates = []
    for run_number, seller in enumerate(sellers, start=1):
        package, encryption = _export(client, http, state, seller.nip, now - timedelta(days=81))
        transport.cpu = 0.0
        server = _database_cpu()
        cpu, began = time.process_time(), time.perf_counter()
        with client.open_export_package(package, encryption) as reader, transaction.atomic():
            rows = zip(reader.metadata, reader.metadata_rows, strict=True)
            invoices = checked_invoices(rows, reader.iter_invoices())
            stored = store_invoices(
                client_id=seller.pk, subject_type=SubjectType.SELLER, invoices=invoices
            )
        elapsed = time.perf_counter() - began
        portal_cpu = time.process_time() - cpu - transport.cpu
        server = _database_cpu() - server
        assert stored.invoices_new == stored.links_new == size, stored
        rate = size / elapsed
        rates.append(rate)
        print(
            f"  run {run_number}: {size:,} invoices in {elapsed:.2f} s = {rate:,.0f} invoices/s "
            f"(portal CPU {portal_cpu:.2f} s, simulator CPU {transport.cpu:.2f} s, "
            f"database server CPU {server:.2f} s, "
            f"package {package.size / 1e6:.1f} MB in {len(package.parts)} part(s))"
        )
    print(f"ingest: {support.median_line(rates, lambda r: f'{r:,.0f}/s')}")
    print(f"stored: {Invoice.objects.count():,} invoices, {ClientInvoice.objects.count():,} links")
    return rates


def _database_cpu() -> float:
    """CPU seconds of our PostgreSQL backend so far (0 for SQLite or a remote server)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _export(client, http, state, nip, date_from):  # type: ignore[no-untyped-def]
    """A finished export of everything NIP sold since DATE_FROM (not timed)."""
    access = owner_login(http, nip).access
    key = select_public_key_certificate(
        client.get_public_key_certificates(), SYMMETRIC_KEY_ENCRYPTION, state.now()
    )
    filters = InvoiceQueryFilters(
        subject_type=SubjectType.SELLER,
        date_from=date_from,
        date_type=DateType.PERMANENT_STORAGE,
        restrict_to_hwm=True,
    )
    export = client.start_invoice_export(access, filters, public_key=key)
    package: InvoicePackage = client.wait_for_invoice_export(access, export.reference_number)
    assert not package.is_truncated
    return package, export.encryption


if __name__ == "__main__":
    sys.exit(main())
