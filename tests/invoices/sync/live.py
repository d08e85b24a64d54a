"""The KSeF simulator as a real HTTP server on 127.0.0.1 (Werkzeug in a thread), for the
tests whose other side is another process (a killed worker, a Celery worker) or that need
real sockets (an answer later than the client's timeout)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection
from werkzeug.serving import make_server

from certificates import connection as ksef_connection
from ksef_simulator import SimulatorConfig, create_app
from ksef_simulator.bulk import ground_truth
from ksef_simulator.state import State


@dataclass
class LiveSim:
    state: State
    base_url: str
    last_request_at: list[float]  # time.monotonic() of the latest request served

    def quiet_for(self) -> float:
        """Seconds since the simulator last answered anything."""
        return time.monotonic() - self.last_request_at[0]

    def truth(self, nip: str, subject_type: str) -> dict[str, str]:
        with self.state.lock:
            return ground_truth(self.state, nip, subject_type)


@contextmanager
def live_simulator(settings: Any, **config: Any) -> Iterator[LiveSim]:
    app = create_app(
        SimulatorConfig(
            jwt_secret=b"live-sync-tests-live-sync-tests!", **{"profile": "fast", **config}
        )
    )
    last_request_at = [time.monotonic()]
    inner = app.wsgi_app

    def stamped(environ: Any, start_response: Any) -> Any:
        last_request_at[0] = time.monotonic()
        return inner(environ, start_response)

    app.wsgi_app = stamped  # type: ignore[method-assign]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.server_port}/v2"
    settings.KSEF_BASE_URL = base_url
    ksef_connection.set_transport(None)
    try:
        yield LiveSim(app.extensions["ksef_simulator"], base_url, last_request_at)
    finally:
        server.shutdown()
        thread.join(timeout=10)


def database_url_for_subprocess(tmp_path: Path) -> str:
    """A DATABASE_URL another process can open holding what this test wrote: the test
    database itself on PostgreSQL; on SQLite (an in-memory test database) a file copy,
    read back with `database_read_back`."""
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
        return f"postgres://{s['USER']}{password}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}"
    path = tmp_path / "portal.sqlite3"
    connection.ensure_connection()
    with sqlite3.connect(path) as copy:
        connection.connection.backup(copy)
    return f"sqlite:///{path}"


def database_read_back(url: str) -> None:
    """On SQLite, load what the other processes wrote into the test database."""
    if connection.vendor != "sqlite":
        return
    with sqlite3.connect(url.removeprefix("sqlite:///")) as source:
        source.backup(connection.connection)
