"""Celery tasks of the invoice sync. They take ids only — never a token or a key.

`sync_step` runs one step of one cursor and, while the cursor has work, queues itself again
for the moment the step named (an export to poll, a rate-limit slot to free, a backoff to
sit out) with a countdown — a worker never sleeps waiting for KSeF. Delivered twice, or to
two workers at once, a step does its work once: the cursor is claimed first.
"""

from __future__ import annotations

from celery import Task, shared_task
from django.db import OperationalError

from invoices.sync import services
from invoices.sync.clock import SystemClock
from invoices.sync.engine import Engine


# A locked or briefly unreachable database is retried here with backoff and jitter: the
# engine records every other failure on the cursor itself and schedules the next step.
@shared_task(
    name=services.STEP_TASK,
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
)
def sync_step(self: Task, cursor_id: int) -> str:  # type: ignore[type-arg]
    engine = Engine(clock=SystemClock())
    result = engine.step(cursor_id)
    if result.next_at is not None and not self.request.is_eager:
        # Eager mode (tests) runs a queued task inline: the test drives the steps itself.
        countdown = max(0.0, (result.next_at - engine.clock.now()).total_seconds())
        self.apply_async(args=(cursor_id,), countdown=countdown)
    return result.state


@shared_task(name="invoices.sync_schedule", acks_late=True)
def sync_schedule() -> int:
    """Beat entry point (every 5 minutes): queue each cursor whose work is due."""
    return services.sync_schedule()
