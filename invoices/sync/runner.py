"""Running the engine in the foreground until the named cursors are up to date.

What `manage.py sync_invoices`, the tests and the benchmarks use instead of Celery: the
same `Engine.step`, driven from one loop that always runs the cursor due soonest and
sleeps (on the engine's clock) until then. A cursor is finished when a step says there
is nothing more to do; it has failed when its error needs a person (no credential, no
InvoiceRead...) or keeps coming back `max_failures` times in a row.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from invoices.models import SyncCursor
from invoices.sync.engine import Engine, StepResult


@dataclass
class CursorOutcome:
    cursor_id: int
    stored: int = 0
    steps: int = 0
    error_code: str = ""
    done: bool = False


@dataclass
class RunReport:
    outcomes: dict[int, CursorOutcome] = field(default_factory=dict)

    @property
    def stored(self) -> int:
        return sum(o.stored for o in self.outcomes.values())

    @property
    def failed(self) -> list[CursorOutcome]:
        return [o for o in self.outcomes.values() if not o.done]


UNCLAIMED_RETRY = timedelta(seconds=1)
Progress = Callable[[CursorOutcome, StepResult], None]


def run_until_done(
    engine: Engine,
    cursor_ids: Iterable[int],
    *,
    max_failures: int = 3,
    deadline: datetime | None = None,
    progress: Progress | None = None,
) -> RunReport:
    report = RunReport()
    now = engine.clock.now()
    queue: list[tuple[datetime, int]] = []
    for cursor_id in cursor_ids:
        report.outcomes[cursor_id] = CursorOutcome(cursor_id)
        heapq.heappush(queue, (now, cursor_id))
    while queue:
        due, cursor_id = heapq.heappop(queue)
        if deadline is not None and due > deadline:
            break
        wait = (due - engine.clock.now()).total_seconds()
        if wait > 0:
            engine.sleep(wait)
        result = engine.step(cursor_id, force=True)
        outcome = report.outcomes[cursor_id]
        _record(outcome, result, cursor_id)
        if progress is not None:
            progress(outcome, result)
        if _finished(outcome, result, max_failures):
            continue
        if not result.claimed:  # another worker holds it: look again shortly
            heapq.heappush(queue, (engine.clock.now() + UNCLAIMED_RETRY, cursor_id))
            continue
        heapq.heappush(queue, (result.next_at or engine.clock.now(), cursor_id))
    return report


def _record(outcome: CursorOutcome, result: StepResult, cursor_id: int) -> None:
    outcome.steps += 1
    outcome.stored += result.stored
    outcome.error_code = result.error_code
    if result.claimed and result.next_at is None and not result.error_code:
        outcome.done = True


def _finished(outcome: CursorOutcome, result: StepResult, max_failures: int) -> bool:
    if outcome.done:
        return True
    if result.permanent:
        return True
    if result.error_code:
        failures = (
            SyncCursor.objects.filter(pk=outcome.cursor_id)
            .values_list("failures", flat=True)
            .first()
        )
        return (failures or 0) >= max_failures
    return False
