"""Scheduled jobs of the expiry reminders (the beat schedule is in migration 0003).

Both are safe to run twice, or on two workers at once: every e-mail is claimed in the
exactly-once ledger before it is sent (see certificates/expiry/reminders.py). They take no
arguments — the work is "whatever is due now" — and do not retry as a whole: transient SMTP
errors are retried per e-mail inside the service, and anything left unsent is picked up by
the next run.
"""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from certificates.expiry import reminders


@shared_task(name="certificates.reminders_daily", acks_late=True)
def reminders_daily() -> dict[str, int]:
    return asdict(reminders.reminders_run())


@shared_task(name="certificates.expiry_digest_weekly", acks_late=True)
def expiry_digest_weekly() -> int:
    return reminders.digests_run()
