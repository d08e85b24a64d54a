"""One incremental cycle of many clients: ``python benchmarks/sync_cycle.py [--quick]``.

``--clients`` (1,000) clients, each its own KSeF context with its own company seal, two
subject types each (Subject1 and Subject2: 2,000 cursors), their history already fetched.
After a warm-up cycle (the first login of every client and its first probe), two
measured cycles, each 15 minutes after the previous one, as the cadence has it:

(a) nothing new: one metadata probe per cursor (plus the token refresh KSeF asks for
    when the 15-minute access token has expired);
(b) 10 new invoices per client, each sold to the next client, so every cursor has 10:
    probe, export, status, download, store.

Everything runs with the production limits in virtual time (``Engine(clock=ManualClock,
sleep=clock.advance)``, the simulator following the same clock): the simulated time of a
cycle must fit the 15-minute cadence.

CPU: the simulator runs in-process, so the process's CPU time (``time.process_time``)
includes its work. The transport between the engine and the simulator measures the
process CPU spent inside each request the simulator answers (routing, contract checks,
building and encrypting the package) and that is subtracted; what remains is the portal's
side: the engine, Django, the HTTP client, decryption, unzipping and storing (the database
server's own CPU, a separate process, is not included). The target is at most 0.3 s of
portal CPU per client-cycle (one client, both subject types). ``--repeat`` repeats both
cycles (each 15 minutes after the last) and prints medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sync_support as support
from django.db.models import F

from invoices.models import ClientInvoice, SyncCursor
from invoices.sync import services
from invoices.sync.engine import CADENCE
from invoices.sync.runner import run_until_done
from ksef_simulator.bulk import bulk_seed
from ksef_simulator.invoices import reported_high_water_mark
from tests.factories import make_office, valid_nip
from tests.invoices.sync.support import sync_client

CPU_TARGET = 0.3  # seconds of portal CPU per client-cycle
NEW_PER_CLIENT = 10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100 clients, 2 repeats")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.repeat = 100, 2
    print(f"sync_cycle: {args.clients:,} clients x 2 subject types, production limits, "
          f"{support.database_label()}; {support.load_average()}")  # fmt: skip
    with support.fresh_database("cycle"), tempfile.TemporaryDirectory() as tmp:
        ok = run(args.clients, args.repeat, Path(tmp))
    print(f"{support.load_average()} at the end")
    return 0 if ok else 1


def run(count: int, repeat: int, tmp: Path) -> bool:
    with support.virtual_simulator(tmp, profile="production") as sim:
        began = time.perf_counter()
        office = make_office("Biuro Rachunkowe Benchmark")
        clients = [sync_client(office, nip=valid_nip()) for _ in range(count)]
        cursor_ids = [
            c.pk for client in clients for c in services.cursors_ensure(client, clock=sim.clock)
        ]
        # History already fetched: these cursors only run incremental cycles.
        SyncCursor.objects.update(backfill_next_to=F("backfill_from"))
        print(f"{count:,} clients with credentials in {time.perf_counter() - began:.1f} s")
        engine = sim.engine()
        # The first logins, 10 clients at a time: KSeF limits the public login endpoints
        # to 60/s per IP, and a login refused a slot halfway starts over, so 1,000 clients
        # logging in at once would spend most of the warm-up retrying (not measured here).
        warm = True
        cursors_each = len(cursor_ids) // count
        for first in range(0, len(cursor_ids), 10 * cursors_each):
            chunk = cursor_ids[first : first + 10 * cursors_each]
            warm &= (
                _cycle(sim, engine, chunk, len(chunk) // cursors_each, "", quiet=True) is not None
            )
        print("  warm-up: first logins, 10 clients at a time")
        results: dict[str, list[tuple[float, float, float]]] = {"a": [], "b": []}
        ok = warm
        for run_number in range(repeat):
            sim.clock.advance(CADENCE.total_seconds())
            results["a"].append(
                _cycle(sim, engine, cursor_ids, count, "(a) nothing new") or (0, 0, 0)
            )
            before = ClientInvoice.objects.count()
            _seed_new(sim, clients, run_number)
            sim.clock.advance(CADENCE.total_seconds())
            results["b"].append(
                _cycle(sim, engine, cursor_ids, count, f"(b) {NEW_PER_CLIENT} new each")
                or (0, 0, 0)
            )
            linked = ClientInvoice.objects.count() - before
            ok &= support.verdict(
                linked == 2 * NEW_PER_CLIENT * count, f"{linked:,} new links stored"
            )
        for name, label in (("a", "(a) nothing new"), ("b", f"(b) {NEW_PER_CLIENT} new each")):
            simulated = [r[0] for r in results[name]]
            cpu = [r[1] for r in results[name]]
            wall = [r[2] for r in results[name]]
            print(f"{label}: simulated {support.median_line(simulated, lambda v: f'{v:.1f} s')}")
            per_client = support.median_line(cpu, lambda v: f"{v * 1000:.0f} ms")
            print(f"{label}: portal CPU per client-cycle {per_client}")
            walls = support.median_line(wall, lambda v: f"{v:.1f} s")
            print(f"{label}: wall {walls} for {count:,} clients")
            ok &= support.verdict(
                statistics.median(simulated) <= CADENCE.total_seconds(),
                f"{label} fits the 15-minute cadence in simulated time",
            )
            ok &= support.verdict(
                statistics.median(cpu) <= CPU_TARGET,
                f"{label} portal CPU per client-cycle <= {CPU_TARGET * 1000:.0f} ms",
            )
        return ok


def _cycle(sim, engine, cursor_ids, count, label, quiet=False):  # type: ignore[no-untyped-def]
    """One run of every cursor to the end of its cycle: (simulated s, CPU/client, wall s)."""
    start = sim.clock.time()
    sim.transport.cpu = 0.0
    cpu, began = time.process_time(), time.perf_counter()
    report = run_until_done(engine, cursor_ids)
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    simulated = sim.clock.time() - start
    portal = (cpu - sim.transport.cpu) / count
    if quiet and not report.failed:
        return simulated, portal, wall
    print(
        f"  {label}: simulated {simulated:.1f} s, wall {wall:.1f} s, portal CPU "
        f"{portal * 1000:.0f} ms per client-cycle (process {cpu:.1f} s - simulator "
        f"{sim.transport.cpu:.1f} s), {report.stored:,} stored, {len(report.failed)} failed"
    )
    if report.failed:
        print(f"  failed: {report.failed[:3]}")
        return None
    return simulated, portal, wall


def _seed_new(sim, clients, run_number):  # type: ignore[no-untyped-def]
    """10 invoices from each client to the next, landing before the next cycle."""
    reported = reported_high_water_mark(sim.state) or sim.clock.now()
    for i, seller in enumerate(clients):
        bulk_seed(
            sim.state,
            seller_nip=seller.nip,
            buyer_nip=clients[(i + 1) % len(clients)].nip,
            count=NEW_PER_CLIENT,
            stored_from=reported + timedelta(seconds=1),
            stored_to=sim.clock.now() + timedelta(minutes=5),
            seed=run_number * len(clients) + i,
            number_prefix=f"C{run_number}",
        )


if __name__ == "__main__":
    sys.exit(main())
