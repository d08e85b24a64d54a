"""E-mails about offline invoices whose deadline to reach KSeF is near while they are
still unsent (the hourly beat task `invoices.offline_deadline_reminders`).

Near. An invoice issued offline must reach KSeF by its `offline_deadline` (the last day,
inclusive; digest §7.1 — offline24: the next business day after issue; unavailability: the
next business day after it ends; failure: 7 business days after it ends). It is near when
that day is today or the next business day (`_is_near`), and also when it has already
passed unnoticed (an invoice whose deadline passed and was never reminded about is the one
that needs a person most). An invoice whose outage has not ended has no deadline yet
(null) and is not near.

Who. The client's assigned accountants; a client nobody is assigned to goes to the office's
managers. One e-mail per recipient per run lists all of that person's near invoices.

Once. Each invoice is claimed by a conditional UPDATE of `deadline_reminded_at`
(… WHERE deadline_reminded_at IS NULL) before any e-mail goes out, so a second run or a
second worker at the same moment finds nothing left to claim: the database decides the
race row by row. An e-mail that fails to send releases its invoices again (only those it
claimed, by the claim's timestamp), so the next hourly run retries them. The e-mail holds
numbers, dates and links to the portal; nothing secret.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone, translation

from certificates.expiry.reminders import (
    Recipients,
    _emails,
    _portal_url,
    _unique,
    render_email,
    send_with_retry,
)
from certificates.expiry.selectors import local_today
from clients.models import Client
from invoices.models import OutgoingInvoice
from invoices.sending.deadline_text import deadline_of
from portal.audit import audit_record
from portal.models import Membership

logger = logging.getLogger(__name__)

TEMPLATE_DIR = "emails/invoices/offline_deadline"

# --- Business days ----------------------------------------------------------------------
# Statutory public holidays in Poland (ustawa z dnia 18 stycznia 1951 r. o dniach wolnych
# od pracy, art. 1; Wigilia free since 2025): the fixed ones, plus Easter Monday and Corpus
# Christi (Easter + 60), which move with Easter. Easter Sunday and Pentecost fall on Sundays.
FIXED_HOLIDAYS = {
    (1, 1),
    (1, 6),
    (5, 1),
    (5, 3),
    (8, 15),
    (11, 1),
    (11, 11),
    (12, 24),
    (12, 25),
    (12, 26),
}


def _easter(year: int) -> datetime.date:
    """Easter Sunday of the Gregorian calendar (the anonymous algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 19 * m) // 433
    month = (h + m - 7 * n + 90) // 25
    day = (h + m - 7 * n + 33 * month + 19) % 32
    return datetime.date(year, month, day)


def _is_business_day(day: datetime.date) -> bool:
    if day.weekday() >= 5 or (day.month, day.day) in FIXED_HOLIDAYS:
        return False
    easter = _easter(day.year)
    return day not in (easter + datetime.timedelta(days=1), easter + datetime.timedelta(days=60))


def _next_business_day(day: datetime.date) -> datetime.date:
    following = day + datetime.timedelta(days=1)
    while not _is_business_day(following):
        following += datetime.timedelta(days=1)
    return following


def near_until(today: datetime.date) -> datetime.date:
    """The last deadline that counts as near today: the next business day."""
    return _next_business_day(today)


def _is_near(deadline: datetime.date | None, today: datetime.date) -> bool:
    """Whether an unsent invoice with this deadline needs a reminder today: the deadline
    is today or the next business day (or has passed). None (outage still on): no."""
    return deadline is not None and deadline <= near_until(today)


# --- Who and what -----------------------------------------------------------------------


def unsent_offline() -> QuerySet[OutgoingInvoice]:
    """Invoices the portal issued offline that KSeF has not numbered yet, in every office."""
    return OutgoingInvoice.objects.filter(issued_offline_at__isnull=False).exclude(
        state=OutgoingInvoice.State.SENT
    )


def _reachable(member: Membership) -> bool:
    return bool(member.user.is_active and member.user.email)


def _recipients_of(client_ids: set[int]) -> dict[int, list[Membership]]:
    """client id -> the members to tell: its assigned accountants, else the office's
    managers (three queries, however many clients)."""
    members = Membership.objects.select_related("user").order_by("pk")
    clients = Client.objects.filter(pk__in=client_ids).prefetch_related(
        Prefetch("assigned_accountants", queryset=members)
    )
    managers: dict[int, list[Membership]] = defaultdict(list)
    for manager in members.filter(
        office_id__in={client.office_id for client in clients}, role=Membership.Role.MANAGER
    ):
        if _reachable(manager):
            managers[manager.office_id].append(manager)
    return {
        client.pk: [m for m in client.assigned_accountants.all() if _reachable(m)]
        or managers[client.office_id]
        for client in clients
    }


@dataclass
class OfflineReminderReport:
    claimed: int = 0  # invoices this run claimed
    emails: int = 0
    failed: int = 0  # e-mails that could not be sent (their invoices are released)
    unaddressed: int = 0  # invoices whose client has nobody to tell


@dataclass
class _Letter:
    member: Membership
    invoices: list[OutgoingInvoice] = field(default_factory=list)


def _claim(now: datetime.datetime, today: datetime.date) -> list[OutgoingInvoice]:
    """Claim every near, unreminded invoice; only the rows whose UPDATE this run won."""
    candidates = list(
        unsent_offline()
        .filter(
            deadline_reminded_at__isnull=True,
            offline_deadline__isnull=False,
            offline_deadline__lte=near_until(today),
        )
        .values_list("pk", flat=True)
    )
    won = [
        pk
        for pk in candidates
        if OutgoingInvoice.objects.filter(pk=pk, deadline_reminded_at__isnull=True).update(
            deadline_reminded_at=now
        )
    ]
    return list(
        OutgoingInvoice.objects.filter(pk__in=won)
        .select_related("client", "client__office", "job")
        .order_by("offline_deadline", "client__name", "invoice_number", "pk")
    )


def _release(invoices: list[OutgoingInvoice], now: datetime.datetime) -> None:
    OutgoingInvoice.objects.filter(
        pk__in=[i.pk for i in invoices], deadline_reminded_at=now
    ).update(deadline_reminded_at=None)


def offline_reminder_context(
    member: Membership, invoices: list[OutgoingInvoice], today: datetime.date
) -> dict[str, Any]:
    with translation.override("pl"):  # as the e-mail (render_email)
        rows = [
            {
                "invoice": invoice,
                "client": invoice.client,
                "due": deadline_of(invoice.offline_deadline, today),
                "url": _portal_url("invoices:outgoing_view", invoice.client_id, invoice.pk),
            }
            for invoice in invoices
        ]
    overdue = [i for i in invoices if i.offline_deadline and i.offline_deadline < today]
    return {
        "member": member,
        "office": member.office,
        "rows": rows,
        "count": len(rows),
        "overdue": len(overdue),
        "dashboard_url": _portal_url("invoices:offline"),
    }


def _send(letter: _Letter, today: datetime.date) -> None:
    member = letter.member
    message = render_email(
        TEMPLATE_DIR,
        offline_reminder_context(member, letter.invoices, today),
        sender=settings.DEFAULT_FROM_EMAIL,
        recipients=Recipients(to=_unique(_emails([member]))),
        headers={"X-Portal-Reminder": f"offline-deadline/{member.pk}/{today.isoformat()}"},
    )
    send_with_retry(message)


def offline_reminders_run(*, now: datetime.datetime | None = None) -> OfflineReminderReport:
    """One run: claim the near invoices, then one e-mail per recipient. Safe twice, or
    twice at once (see the module docstring)."""
    now = now or timezone.now()
    today = local_today(now)
    report = OfflineReminderReport()
    claimed = _claim(now, today)
    report.claimed = len(claimed)
    if not claimed:
        return report
    recipients = _recipients_of({invoice.client_id for invoice in claimed})
    letters: dict[int, _Letter] = {}
    unaddressed: list[OutgoingInvoice] = []
    for invoice in claimed:
        members = recipients.get(invoice.client_id) or []
        if not members:
            unaddressed.append(invoice)
        for member in members:
            letters.setdefault(member.pk, _Letter(member)).invoices.append(invoice)
    failed: dict[int, OutgoingInvoice] = {}
    delivered: set[int] = set()
    for letter in letters.values():
        try:
            _send(letter, today)
        except Exception as error:
            # The error's type only: the message is the e-mail, not for the log.
            logger.error(
                "Offline deadline e-mail to member #%s not sent: %s",
                letter.member.pk,
                type(error).__name__,
            )
            report.failed += 1
            failed.update({invoice.pk: invoice for invoice in letter.invoices})
            continue
        report.emails += 1
        delivered.update(invoice.pk for invoice in letter.invoices)
        _audit(letter, today)
    # An invoice counts as reminded when at least one of its recipients got the e-mail;
    # one that reached nobody goes back to the pool for the next hourly run.
    _release([i for pk, i in failed.items() if pk not in delivered], now)
    # Nobody to tell (no reachable accountant or manager): back to the pool, so the first
    # run after someone is assigned reminds them.
    _release(unaddressed, now)
    report.unaddressed = len(unaddressed)
    logger.info("Offline deadline reminders: %s", report)
    return report


def _audit(letter: _Letter, today: datetime.date) -> None:
    with transaction.atomic():
        for client_id in sorted({invoice.client_id for invoice in letter.invoices}):
            invoices = [i for i in letter.invoices if i.client_id == client_id]
            audit_record(
                office=invoices[0].client.office,
                actor=None,
                action="invoices.offline_deadline_reminded",
                obj=invoices[0].client,
                details={
                    "to_member": letter.member.pk,
                    "invoices": [i.pk for i in invoices],
                    "day": today.isoformat(),
                },
                client_id=client_id,
            )
