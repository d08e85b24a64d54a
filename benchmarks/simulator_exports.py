"""Bulk seeding, export building and streaming reads, in-process:
``python benchmarks/simulator_exports.py [--invoices 100000] [--package 10000]``.

Prints:

* the time ``ksef_simulator.bulk.bulk_seed`` takes to store ``--invoices`` invoices between
  two NIPs (and to list the ground truth of one side);
* the time ``POST /invoices/exports`` takes to build a package of ``--package`` invoices
  (selection, ``_metadata.json``, ZIP, AES) — the simulator builds it synchronously; the
  first one also sorts the context's invoices by storage date once, the next one (from
  ``lastPermanentStorageDate``, as a backfill goes on) reuses that;
* the time and the Python heap peak (tracemalloc) of ``KsefClient.open_export_package`` +
  ``iter_invoices`` over that package, i.e. download, verify, decrypt and unpack, as
  invoices per second.

Everything runs in one process over ``httpx.WSGITransport``; on a shared, loaded machine the
absolute numbers move with the load.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402

from ksef.client import KsefClient  # noqa: E402
from ksef.crypto import SYMMETRIC_KEY_ENCRYPTION, select_public_key_certificate  # noqa: E402
from ksef.models import DateType, InvoiceQueryFilters, SubjectType  # noqa: E402
from ksef_simulator import SimulatorConfig, create_app  # noqa: E402
from ksef_simulator.bulk import bulk_seed, ground_truth  # noqa: E402
from tests.ksef_simulator.helpers import owner_login  # noqa: E402

SELLER, BUYER = "5265877635", "6808208874"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--package", type=int, default=10_000)
    args = parser.parse_args()

    config = SimulatorConfig(profile="fast", export_package_invoice_limit=args.package)
    app = create_app(config)
    state = app.extensions["ksef_simulator"]
    now = state.now()
    start = now - timedelta(days=80)

    began = time.perf_counter()
    bulk_seed(
        state,
        seller_nip=SELLER,
        buyer_nip=BUYER,
        count=args.invoices,
        stored_from=start,
        stored_to=now - timedelta(minutes=1),
    )
    seeded = time.perf_counter() - began
    began = time.perf_counter()
    truth = ground_truth(state, BUYER, "Subject2")
    listed = time.perf_counter() - began
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"bulk_seed: {args.invoices} invoices in {seeded:.2f} s (process RSS now {rss:.0f} MB)")
    print(f"ground_truth: {len(truth)} invoices in {listed:.3f} s")

    http = httpx.Client(transport=httpx.WSGITransport(app), base_url="http://ksef-sim/v2")
    access = owner_login(http, BUYER).access
    client = KsefClient("http://ksef-sim/v2", http=http, clock=state.now, sleep=lambda _: None)
    key = select_public_key_certificate(
        client.get_public_key_certificates(), SYMMETRIC_KEY_ENCRYPTION, state.now()
    )
    filters = InvoiceQueryFilters(
        subject_type=SubjectType.BUYER,
        date_from=start,
        date_type=DateType.PERMANENT_STORAGE,
        restrict_to_hwm=True,
    )
    began = time.perf_counter()
    export = client.start_invoice_export(access, filters, public_key=key)
    built = time.perf_counter() - began
    package = client.wait_for_invoice_export(access, export.reference_number)
    print(
        f"export build: {package.invoice_count} invoices, {package.size / 1e6:.1f} MB, "
        f"{len(package.parts)} part(s) in {built:.2f} s (truncated={package.is_truncated})"
    )

    if package.is_truncated and package.last_permanent_storage_date is not None:
        began = time.perf_counter()
        following = client.start_invoice_export(
            access, filters.starting_at(package.last_permanent_storage_date), public_key=key
        )
        print(f"next package (from lastPermanentStorageDate): {time.perf_counter() - began:.2f} s")
        del following

    began = time.perf_counter()
    count = 0
    with client.open_export_package(package, export.encryption) as reader:
        opened = time.perf_counter() - began
        for _, xml in reader.iter_invoices():
            hashlib.sha256(xml).digest()
            count += 1
        rows = len(reader.metadata)
    elapsed = time.perf_counter() - began
    print(
        f"streaming read: {count} invoices ({rows} metadata rows) in {elapsed:.2f} s "
        f"(download+verify+decrypt {opened:.2f} s) = {count / elapsed:,.0f} invoices/s"
    )
    # Again under tracemalloc (which slows allocation down a lot, hence not timed).
    tracemalloc.start()
    with client.open_export_package(package, export.encryption) as reader:
        for _, xml in reader.iter_invoices():
            hashlib.sha256(xml).digest()
        _, invoices_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        rows = len(reader.metadata)
        _, metadata_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"heap peak: {invoices_peak / 1e6:.1f} MB downloading and iterating invoices, "
        f"{metadata_peak / 1e6:.1f} MB parsing {rows} metadata rows; package "
        f"{package.size / 1e6:.1f} MB (the in-process transport holds each part's response "
        "in memory, a socket would not)"
    )


if __name__ == "__main__":
    main()
