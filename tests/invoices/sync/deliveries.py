"""Celery's delivery of `invoices.sync_step`, in virtual time: at least once, maybe twice.

What the task does (invoices/sync/tasks.py) — one `Engine.step` without force, then a
re-queue for the `next_at` it names — and what the beat does every 5 minutes
(`services.due_cursors`), with a seeded share of messages delivered twice: once on time
and once a moment later, as after a lost acknowledgement. Several threads take
deliveries from the one queue at once (workers sharing a queue); the clock moves only
while no step runs, to the earliest delivery due. On SQLite, whose writers take one
file lock and whose test database lives in shared memory, the steps take turns.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
from collections import Counter
from contextlib import nullcontext
from datetime import datetime, timedelta

from django.db import connection, connections

from invoices.models import SyncCursor
from invoices.sync import services
from invoices.sync.clock import ManualClock
from invoices.sync.engine import Engine

BEAT = 0  # the heap entry of the beat sweep (cursor ids start at 1)
BEAT_EVERY = timedelta(minutes=5)


class Deliveries:
    def __init__(
        self,
        clock: ManualClock,
        cursor_ids: list[int],
        *,
        duplicate_share: float = 0.0,
        seed: int = 0,
        max_steps: int = 5000,
    ) -> None:
        self.clock = clock
        self.cursor_ids = cursor_ids
        self.duplicate_share = duplicate_share
        self.random = random.Random(seed)
        self.max_steps = max_steps
        self.heap: list[tuple[float, int, int]] = []
        self.order = itertools.count()
        self.condition = threading.Condition()
        self.running = 0
        self.steps = 0
        self.unclaimed = 0
        self.duplicates = 0
        self.errors: Counter[str] = Counter()
        self.states: Counter[str] = Counter()
        self.failures: list[BaseException] = []
        self.turns = threading.Lock() if connection.vendor == "sqlite" else None

    def _push(self, cursor_id: int, at: float) -> None:
        heapq.heappush(self.heap, (at, next(self.order), cursor_id))

    def queue(self, cursor_id: int, at: datetime) -> None:
        """A task queued with a countdown; sometimes delivered a second time."""
        with self.condition:
            self._push(cursor_id, at.timestamp())
            if cursor_id != BEAT and self.random.random() < self.duplicate_share:
                self.duplicates += 1
                self._push(cursor_id, at.timestamp() + self.random.choice((0.0, 0.0, 2.0)))
            self.condition.notify_all()

    def run(self, engines: list[Engine], until: datetime) -> None:
        """Every engine in a thread of its own takes deliveries until `until`."""
        self.until = until.timestamp()
        for cursor_id in self.cursor_ids:
            self.queue(cursor_id, self.clock.now())
        self.queue(BEAT, self.clock.now() + BEAT_EVERY)
        threads = [threading.Thread(target=self._worker, args=(e,)) for e in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        assert not self.failures, self.failures

    def _take(self) -> int | None:
        with self.condition:
            while True:
                if self.failures or self.steps >= self.max_steps:
                    return None
                if not self.heap or self.heap[0][0] > self.until:
                    if self.running == 0:
                        return None
                    self.condition.wait()
                    continue
                at = self.heap[0][0]
                if at > self.clock.time():
                    if self.running:  # a step in flight may queue something sooner
                        self.condition.wait()
                        continue
                    self.clock.set(at)
                _, _, cursor_id = heapq.heappop(self.heap)
                self.running += 1
                self.steps += 1
                return cursor_id

    def _worker(self, engine: Engine) -> None:
        try:
            while (cursor_id := self._take()) is not None:
                try:
                    with self.turns or nullcontext():
                        self._deliver(engine, cursor_id)
                finally:
                    with self.condition:
                        self.running -= 1
                        self.condition.notify_all()
        except BaseException as error:  # reported by run()
            with self.condition:
                self.failures.append(error)
                self.condition.notify_all()
        finally:
            connections.close_all()

    def _deliver(self, engine: Engine, cursor_id: int) -> None:
        now = self.clock.now()
        if cursor_id == BEAT:
            cursors = SyncCursor.objects.filter(pk__in=self.cursor_ids)
            for due in services.due_cursors(now, cursors):
                self.queue(due, now)
            self.queue(BEAT, now + BEAT_EVERY)
            return
        result = engine.step(cursor_id)
        if not result.claimed:
            self.unclaimed += 1
        if result.error_code:
            self.errors[result.error_code] += 1
        self.states[result.state] += 1
        if result.next_at is not None:
            self.queue(cursor_id, max(result.next_at, now))
