"""Celery tasks of the bulk exports. They take ids only and are safe to run twice: the job
is claimed with a conditional UPDATE before anything is written (see services.py)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from invoices.exports import services


# A locked or briefly unreachable database before the claim is retried with backoff and
# jitter; once claimed, every failure ends on the job itself with its code.
@shared_task(
    name=services.RUN_TASK,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=5,
)
def export_run(job_id: int) -> str:
    return services.export_run(job_id)


@shared_task(name="invoices.exports_cleanup", acks_late=True)
def exports_cleanup() -> dict[str, int]:
    """Beat (hourly): old files out, dead runs ended, lost messages re-queued."""
    return services.exports_cleanup()
