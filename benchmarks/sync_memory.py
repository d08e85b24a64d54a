"""Peak memory of a worker backfilling 100,000 invoices: ``python benchmarks/sync_memory.py``.

Three processes, so that only the engine's memory is measured:

* the KSeF simulator as a real HTTP server on 127.0.0.1 (``python -m ksef_simulator``,
  profile ``fast``: the limits decide how long a backfill takes, not how much memory it
  needs, and the production hourly limits would make this run take real hours), seeded
  with ``--invoices`` invoices through its control endpoint ``/_sim/invoices/bulk``,
  all sold by one client since 1 Feb 2026 (12+ packages of up to 10,000 invoices, each
  ~14 MB compressed, ~55 MB of XML);
* a child process (this script with ``--engine``) that sets Django up on a fresh
  database, stores the client's company seal and runs the engine on the wall clock until
  both cursors are done, over HTTP like a production worker;
* this process, which waits for the child with ``os.wait4`` and reads its peak resident
  set size (``ru_maxrss``) from the kernel.

The target is a peak RSS of at most 300 MB: parts are streamed to a temporary file,
invoices are read from the archive one at a time and stored 500 at a time, never a whole
package in memory. The child also prints its RSS right after Django set-up and the
package count, for scale. ``--quick``: 20,000 invoices.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET_MB = 300.0
SELLER, BUYER = "5265877635", "6808208874"
HISTORY_FROM = datetime(2026, 2, 1, tzinfo=UTC)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="20,000 invoices")
    parser.add_argument("--engine", metavar="URL", help=argparse.SUPPRESS)  # the child
    args = parser.parse_args()
    if args.engine:
        return engine_child(args.engine)
    if args.quick:
        args.invoices = 20_000
    one, five, fifteen = os.getloadavg()
    print(f"sync_memory: {args.invoices:,} invoices, simulator in its own process; "
          f"load average {one:.2f} {five:.2f} {fifteen:.2f}")  # fmt: skip
    port = _free_port()
    command = [sys.executable, "-m", "ksef_simulator", "--port", str(port), "--profile", "fast"]
    simulator = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [*command, "--async-delay", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _seed(base, args.invoices)
        child = subprocess.Popen(  # noqa: S603 - this script, as the engine's process
            [sys.executable, __file__, "--engine", f"{base}/v2"], cwd=REPO_ROOT,
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert child.stdout is not None
        output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
    finally:
        simulator.terminate()
        simulator.wait(timeout=30)
    print(output, end="")
    result = json.loads(output.strip().splitlines()[-1])
    peak = usage.ru_maxrss / 1024  # kilobytes on Linux
    print(f"engine process peak RSS: {peak:.0f} MB (after Django set-up: "
          f"{result['baseline_mb']:.0f} MB); {result['stored']:,} invoices stored in "
          f"{result['wall']:.0f} s")  # fmt: skip
    ok = os.waitstatus_to_exitcode(status) == 0 and result["stored"] == args.invoices
    print(f"{'PASS' if ok else 'FAIL'}: the engine stored all {args.invoices:,} invoices")
    ok &= peak <= TARGET_MB
    print(f"{'PASS' if peak <= TARGET_MB else 'FAIL'}: peak RSS {peak:.0f} MB <= {TARGET_MB:.0f}")
    return 0 if ok else 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _seed(base: str, count: int) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/_sim/clock", timeout=2).raise_for_status()
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    began = time.perf_counter()
    now = datetime.now(UTC)
    reply = httpx.post(
        f"{base}/_sim/invoices/bulk",
        json={
            "sellerNip": SELLER,
            "buyerNip": BUYER,
            "count": count,
            "storedFrom": HISTORY_FROM.isoformat(),
            "storedTo": (now - timedelta(days=1)).isoformat(),
        },
        timeout=600,
    )
    reply.raise_for_status()
    print(f"seeded {count:,} invoices over HTTP in {time.perf_counter() - began:.1f} s")


def engine_child(base_url: str) -> int:
    import resource

    import sync_support as support  # Django set-up

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    from django.conf import settings

    from certificates import connection
    from invoices.sync import services
    from invoices.sync.engine import Engine
    from invoices.sync.runner import run_until_done
    from tests.factories import make_office
    from tests.invoices.sync.support import sync_client

    settings.KSEF_BASE_URL = base_url
    connection.set_transport(None)  # real HTTP to the simulator's process
    with support.fresh_database("memory"):
        office = make_office("Biuro Rachunkowe Benchmark")
        client = sync_client(office, nip=SELLER)
        cursors = [c.pk for c in services.cursors_ensure(client)]
        began = time.perf_counter()
        report = run_until_done(Engine(), cursors)
        wall = time.perf_counter() - began
        steps = sum(o.steps for o in report.outcomes.values())
        print(f"engine: {report.stored:,} stored in {steps} steps, {len(report.failed)} failed")
        print(json.dumps({"stored": report.stored, "baseline_mb": baseline, "wall": wall}))
    return 0 if not report.failed else 1


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    sys.exit(main())
