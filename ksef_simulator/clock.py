"""Simulated time: real time scaled and shifted, so tests and benchmarks can move it.

Three ways to drive it:

* the default: real time × `scale` (CLI `--time-scale`), plus whatever `advance()` adds;
* `freeze(at)`: time stands still; only `advance(seconds)` moves it (unit tests);
* `follow(source)`: every `now()` asks SOURCE — any zero-argument callable returning an
  aware datetime, e.g. the `now` of the virtual clock a benchmark also hands to the code
  under test — so the simulator and its client share one clock ("one clock for both
  sides"); `advance()` still adds an offset on top. `follow(None)` returns to real time.

In-process (tests/ksef_simulator/conftest.py builds the app; `sim_state.clock` is this
object)::

    clock = VirtualClock(start)           # yours: .now() and .sleep(seconds) that advances
    sim_state.clock.follow(clock.now)
    client = KsefClient(url, http=..., clock=clock.now, sleep=clock.sleep)

A followed source is not pickled: a restored snapshot continues in real time from the
moment it was written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

TimeSource = Callable[[], datetime]


class Clock:
    """now() = start + (real elapsed × scale) + manual offset, or source() + offset.

    Tests call advance(seconds) instead of sleeping; benchmarks set scale > 1 so that
    rate-limit windows and token lifetimes pass faster than on the wall clock, or make the
    simulator follow their own virtual clock.
    """

    def __init__(
        self, scale: float = 1.0, start: datetime | None = None, source: TimeSource | None = None
    ) -> None:
        self.scale = scale
        self._start = start or datetime.now(UTC)
        self._real_start = time.monotonic()
        self._offset = 0.0
        self._frozen: datetime | None = None
        self._source = source
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            if self._source is not None:
                moment = self._source()
                if moment.tzinfo is None:
                    raise ValueError("the clock source must return timezone-aware datetimes")
                return moment.astimezone(UTC) + timedelta(seconds=self._offset)
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
            self._source = None
            self._frozen = current
            self._offset = 0.0

    def follow(self, source: TimeSource | None) -> None:
        """Take the time from SOURCE from now on (None: continue in real time from the
        current moment). Resets the advance() offset."""
        current = self.now()
        with self._lock:
            self._source = source
            self._frozen = None
            self._offset = 0.0
            if source is None:
                self._start, self._real_start = current, time.monotonic()

    @property
    def is_following(self) -> bool:
        return self._source is not None

    def __getstate__(self) -> dict[str, object]:
        # A restored snapshot continues from the moment it was written.
        return {"scale": self.scale, "now": self.now()}

    def __setstate__(self, data: dict[str, object]) -> None:
        self.__init__(scale=float(data["scale"]), start=data["now"])  # type: ignore[misc, arg-type]
