"""The weekly token reminder: one e-mail a week to each client still on a KSeF token, with a
self-upload link for a certificate, until the client has one or the token stops working.

Who. Clients on their own credentials (the client-credential model, or the model not yet
chosen) with an active token and no active authentication certificate — the "token" gap of
the expiry audit. A client on the office model is not asked: it is the office's own token
that stops working, the expiry reminders already tell the office's admins, and the client
has nothing to upload (its banner says so).

When. The job runs daily (beat: 07:15, after the 07:00 expiry reminders); each client gets at
most one token reminder per week (Monday to Sunday, Warsaw), usually on Monday. Never after
the cut-off (31.12.2026 23:59:59 Warsaw), never once the client has an active
authentication certificate (checked again right before sending).

Not twice in one week about the same token. The expiry reminders already remind about a
token at the office's thresholds (by default 30, 14, 7, 1 and 0 days before 31.12.2026:
their "przestaje działać jutro" e-mails are the most urgent of all). The weekly reminder
defers to them: it is not sent in a week in which an expiry reminder about one of the
client's tokens was sent (or is being sent) or is due on one of the week's remaining days by
the office's thresholds. So in every week the client hears about its token once, from
whichever reminder has the more urgent thing to say.

Exactly once. The `TokenReminder` ledger row, unique on (client, week), is claimed in its own
committed transaction before the link is made and the e-mail sent (portal/ledger.py, as the
expiry reminders do); a rerun or a second worker finds it and leaves it alone; a failed send
is re-claimed by the next run, with a fresh link (the failed one is revoked).

The link's token exists only in the e-mail: the link row keeps its hash, nothing logs it and
the job takes no arguments.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_noop

from certificates.expiry.reminders import (
    CLAIM_LEASE,
    Recipients,
    _emails,
    _portal_url,
    _sender,
    _settings_by_office,
    _unique,
    render_email,
    send_with_retry,
    thresholds_of,
)
from certificates.expiry.selectors import (
    TOKEN_CUTOFF,
    WARSAW,
    _active_of_client,
    credential_expires_at,
    days_left,
    local_today,
)
from certificates.models import (
    Credential,
    ReminderSettings,
    SentReminder,
    TokenReminder,
    UploadLink,
)
from certificates.services import upload_link_new
from certificates.tokens.selectors import own_token_condition, token_stopped
from clients.models import Client
from portal.audit import audit_record
from portal.ledger import ledger_claim

logger = logging.getLogger(__name__)

Status = SentReminder.Status
TEMPLATE_DIR = "emails/certificates/token_reminder"
# Expiry reminders about the token that count as "this week's e-mail about it".
EXPIRY_REMINDER_SENDING = (Status.SENT, Status.CLAIMED, Status.FAILED)


def week_start_of(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def _midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=WARSAW)


# --- Who is due ---------------------------------------------------------------------------------


def clients_on_own_token() -> QuerySet[Client]:
    """Current clients of every office on their own token without a certificate."""
    return (
        Client.objects.filter(is_archived=False)
        .annotate(
            has_authentication=_active_of_client(Credential.Kind.AUTHENTICATION),
            has_offline=_active_of_client(Credential.Kind.OFFLINE),
            has_token=_active_of_client(Credential.Kind.TOKEN),
        )
        .filter(own_token_condition())
        .order_by("office_id", "pk")
    )


def _active_tokens(client: Client) -> list[Credential]:
    return list(
        Credential.objects.filter(
            client=client, kind=Credential.Kind.TOKEN, status=Credential.Status.ACTIVE
        )
    )


def expiry_reminder_this_week(
    tokens: list[Credential], settings_row: ReminderSettings | None, *, now: datetime.datetime
) -> bool:
    """Whether an expiry reminder about one of these tokens goes out this week: already
    sent or under way since Monday, or due on a remaining day by the office's thresholds."""
    today = local_today(now)
    monday = week_start_of(today)
    sunday = monday + datetime.timedelta(days=6)
    if SentReminder.objects.filter(
        credential__in=tokens,
        claimed_at__gte=_midnight(monday),
        status__in=EXPIRY_REMINDER_SENDING,
    ).exists():
        return True
    for token in tokens:
        expires_at = credential_expires_at(token)
        if expires_at is None:
            continue
        expires_on = expires_at.astimezone(WARSAW).date()
        for threshold in thresholds_of(settings_row):
            if today <= expires_on - datetime.timedelta(days=threshold) <= sunday:
                return True
    return False


# --- Sending ------------------------------------------------------------------------------------


def token_reminder_recipients(client: Client) -> Recipients:
    """The client's contacts, copied to its assigned accountants (as the expiry reminders);
    nobody when the client has no contact: the link is for the client."""
    contacts = _unique(str(email) for email in client.contact_emails or [])
    if not contacts:
        return Recipients()
    accountants = _unique(
        _emails(client.assigned_accountants.select_related("user").order_by("pk"))
    )
    return Recipients(to=contacts, cc=_unique(accountants, besides=contacts), reply_to=accountants)


def _release(row: TokenReminder, **changes: Any) -> bool:
    """Finish a claimed row, only if the claim is still ours (conditional UPDATE)."""
    return bool(
        TokenReminder.objects.filter(
            pk=row.pk, status=Status.CLAIMED, claim_token=row.claim_token
        ).update(**changes)
    )


def _create_link(client: Client, recipient: str) -> tuple[UploadLink, str]:
    """A single-use link for an authentication certificate, with its URL."""
    return upload_link_new(
        actor=None, client=client, kind=Credential.Kind.AUTHENTICATION, recipient_email=recipient
    )


def token_reminder_context(
    client: Client, *, link: UploadLink | None, upload_url: str, now: datetime.datetime
) -> dict[str, Any]:
    return {
        "client": client,
        "office": client.office,
        "token_cutoff": TOKEN_CUTOFF.date(),
        "first_day_without_token": TOKEN_CUTOFF.date() + datetime.timedelta(days=1),
        "days_left": days_left(TOKEN_CUTOFF, now),
        "upload_url": upload_url,
        "link_expires_at": link.expires_at if link else None,
        "portal_url": _portal_url("certificates:client", client.pk),
    }


def token_reminder_send(
    *, client: Client, settings_row: ReminderSettings | None, now: datetime.datetime
) -> str | None:
    """This week's token reminder of the client, at most once. Returns the final status,
    "deferred" when an expiry reminder speaks about the token this week, or None when there
    is nothing to send (stopped, done, or another worker's)."""
    if token_stopped(now):
        return None
    if not clients_on_own_token().filter(pk=client.pk).exists():
        return None  # has a certificate by now, moved to the office model, archived...
    if expiry_reminder_this_week(_active_tokens(client), settings_row, now=now):
        return "deferred"
    row = ledger_claim(
        TokenReminder,
        lookup={"client": client, "week_start": week_start_of(local_today(now))},
        defaults={"office_id": client.office_id},
        lease=CLAIM_LEASE,
    )
    if row is None:
        return None
    recipients = token_reminder_recipients(client)
    if not recipients.to:
        _release(
            row,
            status=Status.SKIPPED,
            last_error=gettext_noop("Brak adresów e-mail klienta."),
        )
        return str(Status.SKIPPED)
    link, upload_url = _create_link(client, recipients.to[0])
    message = render_email(
        TEMPLATE_DIR,
        token_reminder_context(client, link=link, upload_url=upload_url, now=now),
        sender=_sender(settings_row),
        recipients=recipients,
        headers={"X-Portal-Reminder": f"token/{client.pk}/{row.week_start.isoformat()}"},
    )
    try:
        send_with_retry(message)
    except Exception as error:
        # The SMTP error, never the message: the message carries the link.
        logger.error("Token reminder #%s not sent: %s", row.pk, type(error).__name__)
        UploadLink.objects.filter(pk=link.pk).update(revoked_at=timezone.now())
        _release(row, status=Status.FAILED, last_error=f"{type(error).__name__}: {error}"[:500])
        return str(Status.FAILED)
    with transaction.atomic():
        if _release(
            row,
            status=Status.SENT,
            sent_at=timezone.now(),
            recipients=recipients.to,
            copy_to=recipients.cc,
            upload_link=link,
            last_error="",
        ):
            audit_record(
                office=client.office,
                actor=None,
                action="reminder.sent",
                obj=client,
                details={
                    "week_start": row.week_start.isoformat(),
                    "to": recipients.to,
                    "cc": recipients.cc,
                    "link_id": link.pk,
                },
            )
    return str(Status.SENT)


@dataclass
class TokenRunReport:
    due: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: int = 0  # an expiry reminder about the token goes out this week
    not_ours: int = 0  # already sent this week, or being sent by another worker


def token_reminders_run() -> TokenRunReport:
    """The daily run of the weekly reminder: safe to run twice, or twice at once."""
    now = timezone.now()
    report = TokenRunReport()
    if token_stopped(now):
        return report
    settings_by_office = _settings_by_office()
    for client in clients_on_own_token().select_related("office"):
        report.due += 1
        status = token_reminder_send(
            client=client, settings_row=settings_by_office.get(client.office_id), now=now
        )
        if status == Status.SENT:
            report.sent += 1
        elif status == Status.FAILED:
            report.failed += 1
        elif status == Status.SKIPPED:
            report.skipped += 1
        elif status == "deferred":
            report.deferred += 1
        else:
            report.not_ours += 1
    logger.info("Token reminders: %s", report)
    return report
