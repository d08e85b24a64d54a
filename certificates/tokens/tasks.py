"""The scheduled job of the token reminders (beat schedule: migration 0008).

Takes no arguments — the work is "whatever is due now" — so no client data and no link ever
sits in the broker; safe to run twice or on two workers at once (see reminders.py).
"""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from certificates.tokens import reminders


@shared_task(name="certificates.token_reminders_weekly", acks_late=True)
def token_reminders_weekly() -> dict[str, int]:
    return asdict(reminders.token_reminders_run())
