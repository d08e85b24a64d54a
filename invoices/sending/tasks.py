"""The sender's Celery task: the job's id is its only argument, never a secret. Safe to
run twice: the job is claimed with a lease (sender.Sender._claim) and every invoice's
"sending" state is committed before it is posted."""

from __future__ import annotations

import random
from dataclasses import asdict

from celery import shared_task
from django.db import OperationalError

from invoices.sending import offline_reminders, sender
from invoices.sending.services import RUN_TASK


@shared_task(
    name=RUN_TASK,
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    retry_jitter=True,
    max_retries=30,
)
def send_job_run(self, job_id: int) -> str:  # type: ignore[no-untyped-def]
    try:
        return sender.send_job_run(job_id)
    except sender.ComeBack as again:
        # KSeF busy, down or still processing: back later, with jitter.
        raise self.retry(countdown=again.countdown * random.uniform(1.0, 1.5)) from None  # noqa: S311


@shared_task(name="invoices.offline_deadline_reminders", acks_late=True)
def offline_deadline_reminders() -> dict[str, int]:
    """Hourly (beat: migration 0012): e-mails about offline invoices whose deadline is
    near. No arguments — the work is "whatever is near now" — and safe to run twice or on
    two workers at once (offline_reminders.py claims each invoice once)."""
    return asdict(offline_reminders.offline_reminders_run())
