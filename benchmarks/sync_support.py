"""What the sync benchmarks share: Django on a fresh database, the KSeF simulator on the
engine's own virtual clock, clients ready to sync, and the statistics they print.

Import this module before anything of Django's: it puts the repository on sys.path and
selects the benchmarks' settings (benchmarks/sync_settings.py). With DATABASE_URL
(e.g. postgres://postgres@127.0.0.1:5432/bench_sync) the run gets a fresh database named
after it plus a suffix per benchmark, dropped at the end; without it, a fresh SQLite file
in a temporary directory (a file, not :memory:, so the data is not counted as memory).
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
os.environ["DJANGO_SETTINGS_MODULE"] = "sync_settings"

import django  # noqa: E402
import httpx  # noqa: E402

django.setup()
# One line per KSeF request would drown the numbers.
logging.getLogger("httpx").setLevel(logging.WARNING)

from django.conf import settings  # noqa: E402
from django.db import connection as db_connection  # noqa: E402

from certificates import connection  # noqa: E402
from invoices.sync.clock import ManualClock  # noqa: E402
from invoices.sync.engine import Engine  # noqa: E402
from invoices.sync.limiter import RateLimiter  # noqa: E402
from ksef_simulator import SimulatorConfig, create_app  # noqa: E402
from ksef_simulator.state import State  # noqa: E402
from tests.ksef_simulator.helpers import SimTransport  # noqa: E402

SIM_BASE_URL = "http://ksef-sim/v2"


def database_label() -> str:
    engine = settings.DATABASES["default"]["ENGINE"]
    return "PostgreSQL" if "postgresql" in engine else "SQLite"


@contextmanager
def fresh_database(suffix: str) -> Iterator[None]:
    """A migrated, empty database for this run (Django's test-database machinery)."""
    database = settings.DATABASES["default"]
    tmp = None
    if "sqlite" in database["ENGINE"]:
        tmp = tempfile.TemporaryDirectory(prefix="bench-db-")
        database.setdefault("TEST", {})["NAME"] = str(Path(tmp.name) / f"{suffix}.sqlite3")
    else:
        database.setdefault("TEST", {})["NAME"] = f"{database['NAME']}_{suffix}"
    old_name = db_connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        db_connection.creation.destroy_test_db(old_name, verbosity=0)
        if tmp is not None:
            tmp.cleanup()


class TimedTransport(SimTransport):
    """The in-process simulator, with the CPU time it spends answering counted apart, so
    that the portal's own CPU is the process's CPU minus this."""

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.cpu = 0.0
        self.requests = 0
        self.exchanges: list[tuple[str, str, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        began = time.process_time()
        try:
            response = super().handle_request(request)
            response.read()
        finally:
            self.cpu += time.process_time() - began
        self.requests += 1
        self.exchanges.append(
            (request.method, request.url.path.removeprefix("/v2"), response.status_code)
        )
        return response


@dataclass
class VirtualSim:
    app: Any
    state: State
    transport: TimedTransport
    clock: ManualClock
    limiter: RateLimiter

    def engine(self) -> Engine:
        return Engine(clock=self.clock, limiter=self.limiter, sleep=self.clock.advance)


@contextmanager
def virtual_simulator(tmp: Path, **config: Any) -> Iterator[VirtualSim]:
    """The simulator in-process, following the engine's ManualClock: one clock for both
    sides, so production limits, export delays and the 15-minute cadence pass in virtual
    time while every timestamp (KSeF's high-water mark included) agrees."""
    from datetime import UTC, datetime

    from tests.invoices.sync.support import limiter_for_test

    # Certificates made here are valid from the real now; KSeF refuses one not yet valid.
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    config.setdefault("jwt_secret", b"sync-benchmarks-sync-benchmarks!")
    app = create_app(SimulatorConfig(**config))
    state: State = app.extensions["ksef_simulator"]
    state.clock.follow(clock.now)
    transport = TimedTransport(app)
    settings.KSEF_BASE_URL = SIM_BASE_URL
    connection.set_transport(transport)
    try:
        yield VirtualSim(app, state, transport, clock, limiter_for_test(clock, tmp))
    finally:
        connection.set_transport(None)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def median_line(values: list[float], fmt: Callable[[float], str]) -> str:
    runs = ", ".join(fmt(v) for v in values)
    return f"median {fmt(statistics.median(values))} (runs: {runs})"


def verdict(ok: bool, what: str) -> bool:
    print(f"{'PASS' if ok else 'FAIL'}: {what}")
    return ok
