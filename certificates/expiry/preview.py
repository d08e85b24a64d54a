"""The reminders ahead: what the daily job will send next, and "send now" for one client.

The job sends at 07:00 (Europe/Warsaw), so a manager could not see a reminder before a
client did. The preview answers "who gets what, on which day" with the job's own rules —
the office's thresholds, `reminders.due_threshold`, the ledger of what was claimed or sent
— and renders the subject the client will read on that day.

"Send now" does for one client what the next daily run would do for it, through the same
`reminders_due` and `reminder_claim`: a reminder sent now is in the ledger before its
e-mail leaves, so the 07:00 run finds it claimed and leaves it alone; a reminder the job has
claimed or sent is not sent now. Nothing is sent ahead of its threshold: before a threshold
is crossed there is nothing to send, now or at 07:00.
"""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Q
from django.utils import timezone, translation

from certificates.expiry.reminders import (
    CATCH_UP_DAYS,
    CLAIM_LEASE,
    Recipients,
    RunReport,
    due_threshold,
    reminder_claim,
    reminder_context,
    reminder_deliver,
    reminder_recipients,
    reminders_due,
    render_subject,
    thresholds_of,
)
from certificates.expiry.selectors import WARSAW, days_left, expires_at_expression, local_today
from certificates.models import Credential, ReminderSettings, SentReminder
from clients.models import Client
from portal.access import MANAGERS
from portal.audit import audit_record
from portal.models import Membership, Office

Status = SentReminder.Status
# The hour the daily job runs (migration 0003's beat row): the preview renders a later
# day's subject as of that moment.
RUN_TIME = datetime.time(7, 0)


@dataclass
class PlannedReminder:
    """The next reminder of one credential: its threshold, the day it is due, and whether
    it is waiting to go out now ("due", or "failed" and retried), being sent ("sending") or
    still ahead ("scheduled")."""

    credential: Credential
    threshold: int
    on: datetime.date
    in_days: int  # from today
    state: str
    last_error: str = ""
    job_runs_today: bool = False  # for one waiting now: the 07:00 run is still ahead today

    @property
    def is_due(self) -> bool:
        return self.state in ("due", "failed")

    @property
    def holder(self) -> str:
        client = self.credential.client
        return client.name if client else self.credential.office.name

    @property
    def _moment(self) -> datetime.datetime:
        moment = datetime.datetime.combine(self.on, RUN_TIME, tzinfo=WARSAW)
        return max(moment, timezone.now()) if self.is_due else moment

    @cached_property
    def recipients(self) -> Recipients:
        return reminder_recipients(self.credential)

    @cached_property
    def subject(self) -> str:
        reminder = SentReminder(
            threshold=self.threshold,
            expires_at=self.credential.expires_at,  # type: ignore[attr-defined]
        )
        context = reminder_context(self.credential, reminder, now=self._moment)
        # In the reader's language, like the rest of the page: the client gets it in Polish,
        # which is what a Polish reader sees here word for word.
        language = translation.get_language() or "pl"
        return render_subject("emails/reminders/expiry", context, language=language)


LedgerRow = tuple[str, datetime.datetime | None, str]


def _next_reminder(
    days: int,
    thresholds: list[int],
    ledger: dict[int, LedgerRow],
    now: datetime.datetime,
) -> tuple[int, int, str, str] | None:
    """(threshold, days from today, state, last error) of the credential's next reminder,
    with `days` left today; None when none is ahead."""
    due = due_threshold(days, thresholds)
    if due is not None:
        row = ledger.get(due)
        if row is None:
            return due, 0, "due", ""
        status, claimed_at, error = row
        if status == Status.FAILED:
            return due, 0, "failed", error
        if status == Status.CLAIMED:
            abandoned = claimed_at is None or claimed_at < now - CLAIM_LEASE
            return due, 0, "due" if abandoned else "sending", ""
    later = [threshold for threshold in thresholds if threshold < days]
    if not later:
        return None
    return max(later), days - max(later), "scheduled", ""


def _ledgers(credential_ids: list[int]) -> dict[int, dict[int, LedgerRow]]:
    ledgers: dict[int, dict[int, LedgerRow]] = {}
    rows = SentReminder.objects.filter(credential_id__in=credential_ids).values_list(
        "credential_id", "threshold", "status", "claimed_at", "last_error"
    )
    for credential_id, threshold, status, claimed_at, error in rows:
        ledgers.setdefault(credential_id, {})[threshold] = (status, claimed_at, error)
    return ledgers


def reminders_planned(
    office: Office,
    *,
    now: datetime.datetime,
    client: Client | None = None,
    horizon_days: int | None = None,
) -> list[PlannedReminder]:
    """The next reminder of every active credential of the office (or of one client),
    soonest first; only those due within `horizon_days` when given. Two queries; the
    recipients and subject of a row are read when shown."""
    settings_row = ReminderSettings.objects.filter(office=office).first()
    thresholds = thresholds_of(settings_row)
    today = local_today(now)
    today_start = datetime.datetime.combine(today, datetime.time.min, tzinfo=WARSAW)
    credentials = (
        Credential.objects.filter(office=office, status=Credential.Status.ACTIVE)
        .filter(Q(client__isnull=True) | Q(client__is_archived=False))
        .annotate(expires_at=expires_at_expression())
        .filter(expires_at__gte=today_start - datetime.timedelta(days=CATCH_UP_DAYS))
        .select_related("client", "office")
        .order_by("expires_at", "pk")
    )
    if client is not None:
        credentials = credentials.filter(client=client)
    if horizon_days is not None:
        latest = today_start + datetime.timedelta(days=max(thresholds) + horizon_days + 1)
        credentials = credentials.filter(expires_at__lt=latest)
    found = list(credentials)
    ledgers = _ledgers([credential.pk for credential in found])
    job_runs_today = now.astimezone(WARSAW).time() < RUN_TIME
    planned = []
    for credential in found:
        days = days_left(credential.expires_at, now)  # type: ignore[attr-defined]
        upcoming = _next_reminder(days, thresholds, ledgers.get(credential.pk, {}), now)
        if upcoming is None:
            continue
        threshold, offset, state, error = upcoming
        if horizon_days is not None and offset > horizon_days:
            continue
        on = today + datetime.timedelta(days=offset)
        planned.append(
            PlannedReminder(credential, threshold, on, offset, state, error, job_runs_today)
        )
    return sorted(planned, key=lambda item: (item.on, item.holder, item.credential.pk))


def reminders_ahead_context(membership: Membership, client: Client, *, back: str) -> dict[str, Any]:
    """Template context of a client's next reminders, for a manager or an admin (nothing
    for an accountant); `back` names the page "send now" returns to."""
    if membership.role not in MANAGERS:
        return {"show_planned": False}
    planned = reminders_planned(membership.office, now=timezone.now(), client=client)
    return {
        "show_planned": True,
        "planned": planned,
        "due_count": sum(item.is_due for item in planned),
        "back": back,
    }


def reminders_send_now(*, actor: User, client: Client) -> RunReport:
    """Claim and send the client's reminders that are due now — those the next daily run
    would send — and record who asked."""
    now = timezone.now()
    settings_row = ReminderSettings.objects.filter(office_id=client.office_id).first()
    report = RunReport()
    for due in reminders_due(now=now, client=client):
        report.due += 1
        reminder = reminder_claim(due=due)
        if reminder is None:
            report.not_ours += 1  # sent already, or being sent by the daily job
            continue
        report.count(reminder_deliver(reminder=reminder, settings_row=settings_row, actor=actor))
    audit_record(
        office=client.office,
        actor=actor,
        action="reminders.sent_now",
        obj=client,
        details=asdict(report),
    )
    return report
