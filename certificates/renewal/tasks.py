"""Background work of automatic renewal. Tasks take ids only — never a key.

Safe to deliver twice: a renewal is claimed with a conditional update of its lease before
anything is sent to KSeF, and its progress (key, enrollment reference) is persisted step by
step (certificates.renewal.services). Only `RenewalBusy` (KSeF unreachable, 5xx, 429, an
enrollment still processing) is retried, with exponential backoff and jitter; when the
retries run out the failure is recorded and the accountants are alerted.
"""

from __future__ import annotations

from celery import Task, shared_task

from certificates.models import CredentialRenewal
from certificates.renewal import services
from portal.queue import backoff_countdown

MAX_RETRIES = 6
BACKOFF_BASE_SECONDS = 30.0
BACKOFF_MAX_SECONDS = 3600.0


def retry_countdown(retries: int, retry_after: float | None = None) -> float:
    return backoff_countdown(
        retries, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_MAX_SECONDS, retry_after=retry_after
    )


@shared_task(name="certificates.renewal_run", bind=True, acks_late=True, max_retries=MAX_RETRIES)
def renewal_run(self: Task, renewal_id: int) -> str:  # type: ignore[type-arg]
    """Run or resume one renewal; retry while KSeF is busy, then give up loudly."""
    try:
        return services.renewal_perform(renewal_id=renewal_id).outcome
    except services.RenewalBusy as exc:
        if self.request.retries >= MAX_RETRIES:
            services.renewal_give_up(renewal_id=renewal_id)
            return "failed"
        if self.request.is_eager:
            # Eager mode (tests, the demo): Celery would hand its Retry to the caller.
            self.apply(args=(renewal_id,), retries=self.request.retries + 1)
            return "retried"
        raise self.retry(
            exc=exc, countdown=retry_countdown(self.request.retries, exc.retry_after)
        ) from exc


@shared_task(name="certificates.renewals_daily", acks_late=True)
def renewals_daily() -> int:
    """Beat entry point (daily): switch over, retire old keys, queue what is due."""
    return services.renewals_daily()


@shared_task(name="certificates.renewal_activate", acks_late=True)
def renewal_activate(renewal_id: int) -> bool:
    """At the successor's validFrom (queued with an ETA; the daily run catches up too)."""
    renewal = CredentialRenewal.objects.get(pk=renewal_id)
    return services.renewal_activate(renewal=renewal)


@shared_task(name="certificates.renewal_revoke_previous", acks_late=True)
def renewal_revoke_previous(renewal_id: int) -> bool:
    """Revoke the old certificate in KSeF (only when the office chose it)."""
    return services.renewal_revoke_previous(renewal_id=renewal_id)
