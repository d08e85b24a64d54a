"""python -m ksef_simulator --host 127.0.0.1 --port 8765 [--state FILE] [--profile ...]"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from werkzeug.serving import make_server

from ksef_simulator.app import create_app
from ksef_simulator.config import SimulatorConfig
from ksef_simulator.state import State


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ksef_simulator", description="Local KSeF 2.0 simulator (API under /v2)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--state", type=Path, help="snapshot file (pickle), loaded if present")
    parser.add_argument("--profile", choices=("production", "fast"), default="production")
    parser.add_argument("--seed", help="seed specification for invoice data (see seeding.py)")
    parser.add_argument("--time-scale", type=float, default=1.0, help="simulated s per real s")
    parser.add_argument(
        "--async-delay",
        type=float,
        default=1.0,
        help="simulated seconds asynchronous operations (auth, grants, enrollments, UPO, "
        "exports, permanent storage) stay in progress",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="start with a fault, e.g. error_rate=0.05, latency_ms=200, exports_stuck=true",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    faults: dict[str, object] = {}
    for item in args.fault:
        name, sep, value = item.partition("=")
        if not sep:
            print(f"--fault expects NAME=VALUE, got {item!r}", file=sys.stderr)
            return 2
        faults[name.strip()] = value.strip()
    config = SimulatorConfig(
        profile=args.profile,
        state_file=args.state,
        time_scale=args.time_scale,
        auth_processing_seconds=args.async_delay,
        permission_processing_seconds=args.async_delay,
        enrollment_processing_seconds=args.async_delay,
        token_activation_seconds=args.async_delay,
        permanent_storage_seconds=args.async_delay,
        session_upo_seconds=args.async_delay,
        batch_processing_seconds=args.async_delay,
        export_processing_seconds=args.async_delay,
        faults=faults,
        seed=args.seed,
    )
    try:
        app = create_app(config)
    except ValueError as exc:
        print(f"ksef_simulator: {exc}", file=sys.stderr)
        return 2
    state: State = app.extensions["ksef_simulator"]
    server = make_server(args.host, args.port, app, threaded=True)
    stop = threading.Event()
    writer = _SnapshotWriter(state, args.state, stop) if args.state else None

    def shutdown(signum: int, frame: FrameType | None) -> None:
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    if writer:
        writer.start()
    print(
        f"ksef_simulator listening on http://{args.host}:{server.server_port}/v2 "
        f"(profile {args.profile})",
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        stop.set()
        if writer:
            writer.join()
            state.save(args.state)
    return 0


class _SnapshotWriter(threading.Thread):
    """Writes the snapshot at most once a second after a change (and once at shutdown)."""

    def __init__(self, state: State, path: Path, stop: threading.Event) -> None:
        super().__init__(name="ksef-simulator-snapshot", daemon=True)
        self.state = state
        self.path = path
        self.stop = stop
        self.written_version = state.version

    def run(self) -> None:
        while not self.stop.wait(1.0):
            if self.state.version != self.written_version:
                self.written_version = self.state.version
                self.state.save(self.path)


if __name__ == "__main__":
    sys.exit(main())
