"""The daily e-mail's beat task (07:00 Warsaw, registered in migration 0007). Safe to run
twice or on two workers at once: each member's e-mail is claimed in the exactly-once
ledger before it is sent (see services.py). Transient SMTP errors are retried per e-mail
inside the service; an e-mail left unsent is taken over by the next run."""

from __future__ import annotations

from celery import shared_task

from invoices.digest import services


@shared_task(name="invoices.digest_daily", acks_late=True)
def digest_daily() -> dict[str, int]:
    return services.digests_run()
