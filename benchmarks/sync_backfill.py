"""Backfill of one client under KSeF's production limits: ``python benchmarks/sync_backfill.py``.

One client sold ``--invoices`` (50,000) invoices since KSeF became mandatory (1 Feb 2026,
the office's default history start): its Subject1 cursor must fetch them all, its
Subject2 cursor finds nothing. The engine runs with the production limits (its own
limiter and the simulator's ``SimulatorConfig(profile="production")``) in virtual time:
``Engine(clock=ManualClock, sleep=clock.advance)`` and the simulator follows that clock,
so waiting costs no real time. Printed: the simulated time from the first request to the
last step, next to

* **the bound the limits allow.** The requests the engine's algorithm must make, by
  group: per cursor one incremental probe (the metadata query) first; per 90-day backfill
  window with k packages (KSeF truncates at 10,000 invoices and the next package starts at
  the last one's permanentStorageDate, so it repeats that boundary invoice) k metadata
  probes, k exports and k status calls, and one probe for an empty window; the public
  login calls (challenge, XAdES, status, redeem, public keys; 60/s per IP) and one GET
  /rate-limits. KSeF counts each group in sliding windows of 1 s, 60 s and 3600 s: the
  i-th request (from 0) of a group limited to L per window w cannot come before
  floor(i / L) * w, so n requests take at least max over windows of floor((n-1) / L) * w.
  The bound is the largest of these over all groups, plus the simulator's delays: its
  export processing time times the longest chain of packages (packages of one window are
  sequential, windows could run side by side) and the 1 ms by which its high-water mark
  trails the clock (the newest window ends when the cursor was born). Ignoring every
  other dependency makes this a lower bound: the ratio bound / elapsed must be >= 0.9.
  (The engine makes a few requests more than counted, e.g. a second probe of the newest
  window once the mark has passed its end; the table of requests shows both.)
* **a per-invoice downloader** (what most open-source tools do): the metadata query page
  by page (250 rows, the maximum) per 90-day window and subject type, then
  ``GET /invoices/ksef/{n}`` for each invoice, 8/s, 16/min, 64/h. Computed with the same
  formula (its downloads alone need floor((50,000 - 1) / 64) hours); the engine must be
  >= 100 times faster.

The wall time and the CPU time are printed too: in virtual time the limits cost nothing,
storing 50,000 invoices does. ``--quick``: 5,000 invoices.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import math
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sync_support as support

from invoices.models import ClientInvoice
from invoices.sync import services, windows
from invoices.sync.runner import run_until_done
from ksef_simulator.bulk import bulk_seed, ground_truth
from ksef_simulator.ratelimit import PRODUCTION, PUBLIC, group_for
from tests.factories import make_office, valid_nip
from tests.invoices.sync.support import stored_set, sync_client

PACKAGE_LIMIT = 10_000
PAGE_SIZE = 250  # the metadata query's largest page
LOGIN_CALLS = 5  # challenge, XAdES signature, auth status, token redeem, public keys
HISTORY_FROM = datetime(2026, 2, 1, tzinfo=UTC)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true", help="5,000 invoices")
    args = parser.parse_args()
    if args.quick:
        args.invoices = 5_000
    print(f"sync_backfill: one client, {args.invoices:,} invoices, production limits, "
          f"{support.database_label()}; {support.load_average()}")  # fmt: skip
    with support.fresh_database("backfill"), tempfile.TemporaryDirectory() as tmp:
        ok = run(args.invoices, Path(tmp))
    print(f"{support.load_average()} at the end")
    return 0 if ok else 1


def run(count: int, tmp: Path) -> bool:
    with support.virtual_simulator(tmp, profile="production") as sim:
        office = make_office("Biuro Rachunkowe Benchmark")
        client = sync_client(office)
        now = sim.clock.now()
        began = time.perf_counter()
        seeded = bulk_seed(
            sim.state,
            seller_nip=client.nip,
            buyer_nip=valid_nip(),
            count=count,
            stored_from=HISTORY_FROM,
            stored_to=now - timedelta(days=1),
        )
        print(f"seeded {count:,} invoices in {time.perf_counter() - began:.1f} s")
        storage = sorted(sim.state.invoices[n].permanent_storage_date for n in seeded.ksef_numbers)
        cursors = services.cursors_ensure(client, clock=sim.clock)
        plans = [(c.subject_type, _windows(c)) for c in cursors]
        engine = sim.engine()
        start = sim.clock.time()
        cpu, began = time.process_time(), time.perf_counter()
        report = run_until_done(engine, [c.pk for c in cursors])
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
        elapsed = sim.clock.time() - start
        stored = stored_set(client, "Subject1")
        complete = stored == ground_truth(sim.state, client.nip, "Subject1")
        print(
            f"stored {len(stored):,} invoices ({ClientInvoice.objects.count():,} links) in "
            f"{sum(o.steps for o in report.outcomes.values())} steps; "
            f"wall {wall:.1f} s, portal CPU {cpu - sim.transport.cpu:.1f} s, "
            f"simulator CPU {sim.transport.cpu:.1f} s"
        )
        needed = _needed_requests(plans, storage)
        made = _made_requests(sim.transport.exchanges)
        print("requests by group (needed by the algorithm / made):")
        for group in sorted(set(needed) | set(made)):
            print(f"  {group:20s} {needed.get(group, 0):4d} / {made.get(group, 0):4d}")
        delay = sim.state.config.export_processing_seconds
        chain = max(_packages(storage, w) for _, ws in plans for w in ws)
        bound = max(max(_span(n, g) for g, n in needed.items()), chain * delay, 0.001)
        naive = _per_invoice(plans, storage)
        ratio = bound / elapsed if elapsed > 0 else 1.0
        speedup = naive / max(elapsed, 0.001)
        print(f"simulated time: {elapsed:,.3f} s; bound the limits allow: {bound:,.3f} s; "
              f"bound/elapsed = {ratio:.2f}")  # fmt: skip
        print(f"per-invoice downloader under the same limits: {naive:,.0f} s "
              f"({naive / 3600:,.0f} h) = {speedup:,.0f} x the engine")  # fmt: skip
        ok = support.verdict(
            report.failed == [] and complete, "every invoice stored once, as KSeF has them"
        )
        ok &= support.verdict(ratio >= 0.9, f"bound/elapsed {ratio:.2f} >= 0.9")
        ok &= support.verdict(speedup >= 100, f"per-invoice/engine {speedup:,.0f} >= 100")
        return ok


def _windows(cursor) -> list[tuple[datetime, datetime]]:  # type: ignore[no-untyped-def]
    """The cursor's backfill windows, newest first, as the engine walks them."""
    result = []
    upper, lower = cursor.backfill_next_to, cursor.backfill_from
    while upper > lower:
        result.append((max(lower, upper - windows.MAX_WINDOW), upper))
        upper = result[-1][0]
    return result


def _packages(storage: list[datetime], window: tuple[datetime, datetime]) -> int:
    """KSeF's packages of a window: 10,000 each, the next from the last one's date."""
    lo, hi = bisect.bisect_left(storage, window[0]), bisect.bisect_left(storage, window[1])
    packages = 0
    while lo < hi:
        packages += 1
        if hi - lo <= PACKAGE_LIMIT:
            break
        lo = bisect.bisect_left(storage, storage[lo + PACKAGE_LIMIT - 1], lo)
    return packages


def _needed_requests(plans, storage) -> dict[str, int]:  # type: ignore[no-untyped-def]
    needed: collections.Counter[str] = collections.Counter()
    for subject_type, cursor_windows in plans:
        needed["invoiceMetadata"] += 1  # the first incremental probe
        for window in cursor_windows:
            k = _packages(storage, window) if subject_type == "Subject1" else 0
            needed["invoiceMetadata"] += max(k, 1)
            needed["invoiceExport"] += k
            needed["invoiceExportStatus"] += k
    needed["public"] += LOGIN_CALLS
    needed["other"] += 1  # GET /rate-limits
    return dict(needed)


def _made_requests(exchanges: list[tuple[str, str, int]]) -> dict[str, int]:
    from tests.ksef_simulator.helpers import operation_for

    made: collections.Counter[str] = collections.Counter()
    for method, path, _ in exchanges:
        if path.startswith("/storage/"):
            continue  # pre-signed part links are not limited
        found = operation_for(method, path)
        made[group_for(method, found[0]) if found else "other"] += 1
    return dict(made)


def _span(requests: int, group: str) -> float:
    """The least time `requests` of GROUP take under its sliding-window limits."""
    limits = PUBLIC if group == "public" else PRODUCTION[group]
    windows_ = {"perSecond": 1.0, "perMinute": 60.0, "perHour": 3600.0}
    if requests <= 1:
        return 0.0
    return max(
        math.floor((requests - 1) / limits[k]) * w for k, w in windows_.items() if k in limits
    )


def _per_invoice(plans, storage) -> float:  # type: ignore[no-untyped-def]
    """Metadata pages (250 rows, per window and subject type) + one GET per invoice."""
    pages = downloads = 0
    for subject_type, cursor_windows in plans:
        for window in cursor_windows:
            lo, hi = bisect.bisect_left(storage, window[0]), bisect.bisect_left(storage, window[1])
            n = hi - lo if subject_type == "Subject1" else 0
            pages += max(1, math.ceil(n / PAGE_SIZE)) + n // 10_000  # + the 10,000-row cap
            downloads += n
    return max(_span(pages, "invoiceMetadata"), _span(downloads, "invoiceDownload"))


if __name__ == "__main__":
    sys.exit(main())
