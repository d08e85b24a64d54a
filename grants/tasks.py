"""Background work for KSeF permission grants. Tasks take ids only — never a secret.

The task names still carry the "clients." prefix of the app these tasks were born in: the
beat schedule rows (django-celery-beat) and messages already queued refer to them.

Every task is safe to deliver twice: grants are claimed with a conditional update before
a non-idempotent request is sent (grants.services), checks and departure jobs are claimed
from "queued". Only named transient errors (`KsefBusy`: 429, 5xx, no answer, operation
still running) are retried, with exponential backoff and jitter, never sooner than KSeF's
Retry-After.
"""

from __future__ import annotations

from celery import Task, shared_task

from grants import departure, verification
from grants import services as grants
from portal.queue import backoff_countdown

MAX_RETRIES = 8
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 600.0


def retry_countdown(retries: int, retry_after: float | None = None) -> float:
    return backoff_countdown(
        retries, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_MAX_SECONDS, retry_after=retry_after
    )


@shared_task(name="clients.grant_process", bind=True, acks_late=True, max_retries=MAX_RETRIES)
def grant_process(self: Task, grant_id: int) -> None:  # type: ignore[type-arg]
    """Send a grant or revocation and follow its operation to the end."""
    try:
        grants.grant_follow(grant_id=grant_id)
    except grants.KsefBusy as exc:
        if self.request.retries >= MAX_RETRIES:
            grants.grant_give_up(grant_id=grant_id, message=exc.message)
            return
        if self.request.is_eager:
            # Eager mode (tests, the demo): with eager exceptions propagating, Celery would
            # hand its Retry to whoever queued us instead of re-running; do what it would.
            self.apply(args=(grant_id,), retries=self.request.retries + 1)
            return
        raise self.retry(
            exc=exc, countdown=retry_countdown(self.request.retries, exc.retry_after)
        ) from exc


@shared_task(name="clients.grants_check_run", acks_late=True)
def grants_check_run(check_id: int) -> None:
    """Verify one client's grants live in KSeF (queued by a person or by the schedule).

    No automatic retry: a failed check says why on its row and the next scheduled run (or
    "Sprawdź teraz") tries again; the grants keep their last known verification."""
    verification.grants_verify_client(check_id=check_id)


@shared_task(name="clients.grants_verify_all", acks_late=True)
def grants_verify_all() -> int:
    """Beat entry point (daily by default): queue a check for every client with grants."""
    return verification.grants_verify_all()


@shared_task(name="clients.staff_departure_run", acks_late=True)
def staff_departure_run(job_id: int) -> None:
    """Revoke a departing person's grants at every client, reporting per client."""
    departure.staff_departure_perform(job_id=job_id)


@shared_task(name="clients.staff_departures_resume", acks_late=True)
def staff_departures_resume() -> int:
    """Beat entry point (every 10 minutes): re-queue departure jobs a crash left behind."""
    return departure.staff_departures_resume()
