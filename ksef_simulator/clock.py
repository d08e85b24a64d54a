"""Simulated time: real time scaled and shifted, so tests and benchmarks can move it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class Clock:
    """now() = start + (real elapsed × scale) + manual offset.

    Tests call advance(seconds) instead of sleeping; benchmarks set scale > 1 so that
    rate-limit windows and token lifetimes pass faster than on the wall clock.
    """

    def __init__(self, scale: float = 1.0, start: datetime | None = None) -> None:
        self.scale = scale
        self._start = start or datetime.now(UTC)
        self._real_start = time.monotonic()
        self._offset = 0.0
        self._frozen: datetime | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            if self._frozen is not None:
                return self._frozen + timedelta(seconds=self._offset)
            elapsed = (time.monotonic() - self._real_start) * self.scale
            return self._start + timedelta(seconds=elapsed + self._offset)

    def timestamp(self) -> float:
        return self.now().timestamp()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def freeze(self, at: datetime | None = None) -> None:
        """Stop the clock (at `at` or now); only advance() moves it afterwards."""
        current = at or self.now()
        with self._lock:
            self._frozen = current
            self._offset = 0.0

    def __getstate__(self) -> dict[str, object]:
        # A restored snapshot continues from the moment it was written.
        return {"scale": self.scale, "now": self.now()}

    def __setstate__(self, data: dict[str, object]) -> None:
        self.__init__(scale=float(data["scale"]), start=data["now"])  # type: ignore[misc, arg-type]
