"""Background work for credentials. Tasks take ids only — never a secret."""

from __future__ import annotations

from celery import shared_task

from certificates import services


@shared_task(name="certificates.credential_check_run", acks_late=True)
def credential_check_run(check_id: int) -> None:
    """Run one live test login. Safe to deliver twice: the check row is claimed once.

    No automatic retry: a failed check is reported to the person who asked for it, who can
    run it again; a lost worker leaves a stale row that the next delivery may re-claim.
    """
    services.credential_check_perform(check_id=check_id)
