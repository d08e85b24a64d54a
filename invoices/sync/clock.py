"""Where the sync engine reads the time, so that tests and benchmarks can move it.

The rate limiter takes every timestamp from a `Clock` it is given and never from the
server that stores the counters (no Redis TIME): a benchmark can then run production
limits in virtual time, with the simulator and the limiter reading the same clock.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the Unix epoch."""
        ...

    def now(self) -> datetime:
        """The same moment as an aware datetime (UTC)."""
        ...


class SystemClock:
    """The wall clock: what production runs on."""

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to, for tests and virtual-time benchmarks.

    Thread-safe, so that a benchmark driving several threads sees one timeline.
    """

    def __init__(self, start: float | datetime = 1_800_000_000.0) -> None:
        self._now = start.timestamp() if isinstance(start, datetime) else float(start)
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._now

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a manual clock never goes back")
        with self._lock:
            self._now += seconds

    def set(self, timestamp: float) -> None:
        """Jump to `timestamp` (not before the current time: windows assume order)."""
        with self._lock:
            if timestamp < self._now:
                raise ValueError("a manual clock never goes back")
            self._now = float(timestamp)
