"""The expiry reminder engine: which reminder is due, claiming it once, sending it, the digest.

Which reminder is due. Each office has thresholds (days before expiry; default 60, 30, 14, 7,
1 and 0 = the day of expiry). On a given day a credential with `d` days left is due the
reminder of the *smallest threshold not below d* — the latest threshold it has crossed. So a
credential uploaded with 10 days left gets the 14-day reminder once (the latest it crossed
before anyone could act), then 7, 1 and 0 as the days pass: never a flood of stale 60/30
ones. If the job did not run for a while, only the latest crossed threshold is sent and the
older unsent ones are marked superseded. The day-of-expiry reminder is still sent up to
`CATCH_UP_DAYS` after expiry, so a missed run on that day does not swallow it.

Exactly once. A `SentReminder` row, unique on (credential, threshold), is created with status
"claimed" in its own committed transaction *before* the e-mail goes out, and marked "sent"
only after the SMTP server accepted the message. A second run, or a second worker at the same
time, finds the row and leaves it alone (the unique constraint decides the race on INSERT). A
worker that dies after claiming leaves a "claimed" row; once its lease (`CLAIM_LEASE`) has
run out, the next run re-claims it with a conditional UPDATE (… WHERE status='claimed' AND
claimed_at < lease) and sends it. A send that failed (status "failed") is re-claimed by the
next run at once. The only duplicate left possible is a crash in the milliseconds between the
SMTP server's acceptance and our commit: SMTP offers no transaction to close that window.

Transient SMTP errors (disconnects, refused connections, timeouts, 4xx replies) are retried a
few times with exponential backoff and jitter, well inside the lease; anything else fails
the reminder at once (recorded on the row, retried by the next daily run).
"""

from __future__ import annotations

import datetime
import logging
import random
import smtplib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from certificates.expiry.selectors import (
    TOKEN_CUTOFF,
    WARSAW,
    credential_expires_at,
    days_left,
    expires_at_expression,
    local_today,
)
from certificates.models import (
    DEFAULT_REMINDER_THRESHOLDS,
    Credential,
    ExpiryDigest,
    ReminderSettings,
    SentReminder,
)
from clients.models import AccessModel, Client
from portal.audit import audit_record
from portal.ledger import ledger_claim, reclaimable
from portal.models import Membership, Office

logger = logging.getLogger(__name__)

CLAIM_LEASE = datetime.timedelta(minutes=15)
CATCH_UP_DAYS = 7
MAX_THRESHOLD_DAYS = 365
MAX_THRESHOLDS = 12
SEND_ATTEMPTS = 4
RETRY_BASE_SECONDS = 2.0  # 2, 4, 8 s (+ jitter): about 15 s at worst, far inside the lease
DIGEST_HORIZON_DAYS = 30

TRANSIENT_SMTP_ERRORS: tuple[type[BaseException], ...] = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    ConnectionError,
    TimeoutError,
)

SHORT_KIND: dict[str, Any] = {
    Credential.Kind.AUTHENTICATION: _("certyfikat uwierzytelniający KSeF"),
    Credential.Kind.OFFLINE: _("certyfikat offline KSeF"),
    Credential.Kind.TOKEN: _("token KSeF"),
}

Status = SentReminder.Status
Ledger = TypeVar("Ledger", SentReminder, ExpiryDigest)


# --- Settings -----------------------------------------------------------------------------------


def reminder_settings_of(office: Office) -> ReminderSettings:
    """The office's settings, or unsaved defaults when it never changed them."""
    found = ReminderSettings.objects.filter(office=office).first()
    return found or ReminderSettings(office=office)


def parse_thresholds(raw: str) -> list[int]:
    """'60, 30, 14' -> [60, 30, 14]; Polish, specific errors for anything else."""
    parts = [part.strip() for part in raw.replace(";", ",").replace(" ", ",").split(",")]
    parts = [part for part in parts if part]
    if not parts:
        raise ValidationError(_("Podaj co najmniej jeden próg, np. 60, 30, 14, 7, 1, 0."))
    values: list[int] = []
    for part in parts:
        if not part.isdigit():
            raise ValidationError(
                _("„%(part)s” nie jest liczbą dni. Wpisz liczby całkowite oddzielone przecinkami."),
                params={"part": part},
            )
        value = int(part)
        if value > MAX_THRESHOLD_DAYS:
            raise ValidationError(
                _("Próg %(value)d dni jest za duży: najwyżej %(max)d dni przed wygaśnięciem."),
                params={"value": value, "max": MAX_THRESHOLD_DAYS},
            )
        if value in values:
            raise ValidationError(_("Próg %(value)d podano dwa razy."), params={"value": value})
        values.append(value)
    if len(values) > MAX_THRESHOLDS:
        raise ValidationError(
            _("Za dużo progów: najwyżej %(max)d."), params={"max": MAX_THRESHOLDS}
        )
    return sorted(values, reverse=True)


def reminder_settings_update(
    *, actor: User, office: Office, thresholds: list[int], sender_email: str, weekly_digest: bool
) -> ReminderSettings:
    with transaction.atomic():
        current, _created = ReminderSettings.objects.select_for_update().get_or_create(
            office=office
        )
        before = {
            "thresholds": current.thresholds,
            "sender_email": current.sender_email,
            "weekly_digest": current.weekly_digest,
        }
        current.thresholds = sorted(set(thresholds), reverse=True)
        current.sender_email = sender_email
        current.weekly_digest = weekly_digest
        current.save()
        after = {
            "thresholds": current.thresholds,
            "sender_email": current.sender_email,
            "weekly_digest": current.weekly_digest,
        }
        audit_record(
            office=office,
            actor=actor,
            action="reminders.settings_changed",
            obj=current,
            details={"before": before, "after": after},
        )
    return current


def _settings_by_office() -> dict[int, ReminderSettings]:
    return {item.office_id: item for item in ReminderSettings.objects.all()}


def thresholds_of(settings_row: ReminderSettings | None) -> list[int]:
    """The office's thresholds, or the defaults when it never saved any."""
    if settings_row is None or not settings_row.thresholds:
        return list(DEFAULT_REMINDER_THRESHOLDS)
    return [int(value) for value in settings_row.thresholds]


def _sender(settings_row: ReminderSettings | None) -> str:
    return (settings_row.sender_email if settings_row else "") or settings.DEFAULT_FROM_EMAIL


# --- Which reminders are due --------------------------------------------------------------------


def due_threshold(days: int, thresholds: Sequence[int]) -> int | None:
    """The latest threshold crossed with `days` left (see the module docstring)."""
    if days < -CATCH_UP_DAYS:
        return None
    crossed = [threshold for threshold in thresholds if days <= threshold]
    return min(crossed) if crossed else None


@dataclass(frozen=True)
class DueReminder:
    credential_id: int
    office_id: int
    threshold: int
    expires_at: datetime.datetime


def reminders_due(*, now: datetime.datetime, client: Client | None = None) -> list[DueReminder]:
    """Every (credential, threshold) due today, across offices (two queries); only the
    client's own credentials when one is given ("send now")."""
    by_office = _settings_by_office()
    horizon = max(
        [*DEFAULT_REMINDER_THRESHOLDS, *(t for s in by_office.values() for t in thresholds_of(s))]
    )
    today_start = datetime.datetime.combine(local_today(now), datetime.time.min, tzinfo=WARSAW)
    credentials = Credential.objects.filter(status=Credential.Status.ACTIVE)
    if client is not None:
        credentials = credentials.filter(client=client)
    candidates = (
        credentials.filter(Q(client__isnull=True) | Q(client__is_archived=False))
        .annotate(expires_at=expires_at_expression())
        .filter(
            expires_at__gte=today_start - datetime.timedelta(days=CATCH_UP_DAYS),
            expires_at__lt=today_start + datetime.timedelta(days=horizon + 1),
        )
        .order_by("expires_at", "pk")
        .values_list("pk", "office_id", "expires_at")
    )
    due = []
    for pk, office_id, expires_at in candidates:
        threshold = due_threshold(
            days_left(expires_at, now), thresholds_of(by_office.get(office_id))
        )
        if threshold is not None:
            due.append(DueReminder(pk, office_id, threshold, expires_at))
    return due


# --- Claiming -----------------------------------------------------------------------------------


def _reclaimable(now: datetime.datetime) -> Q:
    return reclaimable(now, CLAIM_LEASE)


def _claim(
    model: type[Ledger], *, lookup: dict[str, Any], defaults: dict[str, Any]
) -> Ledger | None:
    """Create the ledger row as "claimed", or take over a failed or abandoned one
    (`portal.ledger`); committed before anything is sent."""
    extra: dict[str, Any] = {"attempts": F("attempts") + 1} if model is SentReminder else {}
    return ledger_claim(
        model, lookup=lookup, defaults=defaults, lease=CLAIM_LEASE, on_takeover=extra
    )


def reminder_claim(*, due: DueReminder) -> SentReminder | None:
    """Claim one due reminder (None: already sent, or being sent by another worker)."""
    credential = (
        Credential.objects.filter(pk=due.credential_id, status=Credential.Status.ACTIVE)
        .values("client_id", "office_id")
        .first()
    )
    if credential is None:
        return None  # replaced or deleted since the list was made: no more reminders
    # Older thresholds nobody managed to send are stale now that a later one is due.
    SentReminder.objects.filter(
        credential_id=due.credential_id, threshold__gt=due.threshold
    ).filter(_reclaimable(timezone.now())).update(status=Status.SUPERSEDED)
    return _claim(
        SentReminder,
        lookup={"credential_id": due.credential_id, "threshold": due.threshold},
        defaults={
            "office_id": credential["office_id"],
            "client_id": credential["client_id"],
            "expires_at": due.expires_at,
        },
    )


def _release(row: SentReminder | ExpiryDigest, **changes: Any) -> bool:
    """Finish a claimed row, only if the claim is still ours (conditional UPDATE)."""
    return bool(
        type(row)
        .objects.filter(pk=row.pk, status=Status.CLAIMED, claim_token=row.claim_token)
        .update(**changes)
    )


# --- Sending ------------------------------------------------------------------------------------


def is_transient(error: BaseException) -> bool:
    """SMTP trouble worth retrying in a moment: the connection, or a 4xx reply."""
    if isinstance(error, TRANSIENT_SMTP_ERRORS):
        return True
    return isinstance(error, smtplib.SMTPResponseException) and 400 <= error.smtp_code < 500


def send_with_retry(
    message: EmailMultiAlternatives, *, sleep: Callable[[float], None] | None = None
) -> None:
    """Send; retry transient errors with exponential backoff and full jitter."""
    pause = sleep or time.sleep
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            message.send(fail_silently=False)
            return
        except Exception as error:
            if not is_transient(error) or attempt == SEND_ATTEMPTS:
                raise
            delay = RETRY_BASE_SECONDS * 2 ** (attempt - 1)
            logger.warning("SMTP send failed (%s); retry %d in ~%.0fs", error, attempt, delay)
            pause(delay + random.uniform(0, delay))  # noqa: S311 - jitter, not security


def _emails(members: Iterable[Membership]) -> list[str]:
    return [m.user.email for m in members if m.user.is_active and m.user.email]


def _unique(addresses: Iterable[str], *, besides: Iterable[str] = ()) -> list[str]:
    seen = {address.lower() for address in besides}
    result = []
    for address in addresses:
        if address and address.lower() not in seen:
            seen.add(address.lower())
            result.append(address)
    return result


@dataclass
class Recipients:
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    reply_to: list[str] = field(default_factory=list)


def reminder_recipients(credential: Credential) -> Recipients:
    """The client's contacts, copied to its accountants; the office's admins for its own."""
    if credential.client is None:
        admins = Membership.objects.filter(
            office_id=credential.office_id, role=Membership.Role.ADMIN
        ).select_related("user")
        return Recipients(to=_unique(_emails(admins)))
    accountants = _unique(
        _emails(credential.client.assigned_accountants.select_related("user").order_by("pk"))
    )
    contacts = _unique(str(email) for email in credential.client.contact_emails or [])
    if not contacts:
        return Recipients(to=accountants)
    return Recipients(to=contacts, cc=_unique(accountants, besides=contacts), reply_to=accountants)


def _portal_url(name: str, *args: Any) -> str:
    try:
        return str(settings.PORTAL_BASE_URL).rstrip("/") + reverse(name, args=args)
    except NoReverseMatch:
        return str(settings.PORTAL_BASE_URL)


def reminder_context(
    credential: Credential, reminder: SentReminder, *, now: datetime.datetime | None = None
) -> dict[str, Any]:
    """What the e-mail templates see; `now` is the moment it is sent (the preview renders
    a reminder of a later day as it will read then)."""
    expires_at = credential_expires_at(credential) or reminder.expires_at
    expires_on = expires_at.astimezone(WARSAW).date()
    client = credential.client
    context: dict[str, Any] = {
        "credential": credential,
        "kind": credential.kind,
        "kind_label": credential.get_kind_display(),
        "short_kind": SHORT_KIND[credential.kind],
        "is_token": credential.kind == Credential.Kind.TOKEN,
        "is_offline": credential.kind == Credential.Kind.OFFLINE,
        "client": client,
        "office": credential.office,
        "holder": client.name if client else credential.office.name,
        "expires_at": expires_at,
        "expires_on": expires_on,
        "days_left": days_left(expires_at, now),
        "threshold": reminder.threshold,
        "renewal_from": expires_on - datetime.timedelta(days=30),
        "token_cutoff": TOKEN_CUTOFF.date(),
        "first_day_without_token": TOKEN_CUTOFF.date() + datetime.timedelta(days=1),
        "portal_url": (
            _portal_url("certificates:client", client.pk)
            if client
            else _portal_url("certificates:office")
        ),
    }
    if client is None:
        context["office_model_clients"] = Client.objects.filter(
            office_id=credential.office_id, is_archived=False, access_model=AccessModel.OFFICE
        ).count()
    return context


def render_subject(template_dir: str, context: dict[str, Any], *, language: str = "pl") -> str:
    """The one-line subject, in Polish (the clients' language) unless a preview asks for
    its reader's language."""
    with translation.override(language), timezone.override(WARSAW):
        return " ".join(render_to_string(f"{template_dir}/subject.txt", context).split())


def render_email(
    template_dir: str,
    context: dict[str, Any],
    *,
    sender: str,
    recipients: Recipients,
    headers: dict[str, str] | None = None,
) -> EmailMultiAlternatives:
    """Subject, text and HTML from templates/emails/reminders/<kind>/, in Polish, Warsaw time."""
    with translation.override("pl"), timezone.override(WARSAW):
        subject = render_subject(template_dir, context)
        text = render_to_string(f"{template_dir}/body.txt", context)
        html = render_to_string(f"{template_dir}/body.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=sender,
        to=recipients.to,
        cc=recipients.cc,
        reply_to=recipients.reply_to,
        headers={"Auto-Submitted": "auto-generated", **(headers or {})},
    )
    message.attach_alternative(html, "text/html")
    return message


def reminder_deliver(
    *, reminder: SentReminder, settings_row: ReminderSettings | None, actor: User | None = None
) -> str:
    """Send one claimed reminder and record the outcome; returns the final status. `actor`
    is the member who pressed "send now" (None: the daily job)."""
    credential = Credential.objects.select_related("client", "office").get(
        pk=reminder.credential_id
    )
    recipients = reminder_recipients(credential)
    if not recipients.to:
        # Stored in Polish; the reminder log translates it on display.
        _release(
            reminder,
            status=Status.SKIPPED,
            last_error=gettext_noop("Brak adresów e-mail klienta i biura."),
        )
        return str(Status.SKIPPED)
    message = render_email(
        "emails/reminders/expiry",
        reminder_context(credential, reminder),
        sender=_sender(settings_row),
        recipients=recipients,
        # Lets a mailbox rule (and our tests) tell reminders apart without parsing text.
        headers={"X-Portal-Reminder": f"{credential.pk}/{reminder.threshold}"},
    )
    try:
        send_with_retry(message)
    except Exception as error:
        logger.exception("Expiry reminder #%s not sent", reminder.pk)
        _release(
            reminder, status=Status.FAILED, last_error=f"{type(error).__name__}: {error}"[:500]
        )
        return str(Status.FAILED)
    with transaction.atomic():
        recorded = _release(
            reminder,
            status=Status.SENT,
            sent_at=timezone.now(),
            recipients=recipients.to,
            copy_to=recipients.cc,
            subject=message.subject[:300],
            last_error="",
        )
        if recorded:
            audit_record(
                office=credential.office,
                actor=actor,
                action="reminder.sent",
                obj=credential,
                details={
                    "threshold": reminder.threshold,
                    "to": recipients.to,
                    "cc": recipients.cc,
                },
            )
    return str(Status.SENT)


@dataclass
class RunReport:
    due: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    not_ours: int = 0  # already sent, or being sent by another worker

    def count(self, status: str) -> None:
        if status == Status.SENT:
            self.sent += 1
        elif status == Status.FAILED:
            self.failed += 1
        else:
            self.skipped += 1


def reminders_run() -> RunReport:
    """The daily job: claim and send every reminder due now. Safe to run twice, or twice at
    once: each reminder is sent by whichever run claims it first."""
    now = timezone.now()
    settings_by_office = _settings_by_office()
    report = RunReport()
    for due in reminders_due(now=now):
        report.due += 1
        reminder = reminder_claim(due=due)
        if reminder is None:
            report.not_ours += 1
            continue
        report.count(
            reminder_deliver(reminder=reminder, settings_row=settings_by_office.get(due.office_id))
        )
    logger.info("Expiry reminders: %s", report)
    return report


# --- Weekly digest ------------------------------------------------------------------------------


def digest_items(office: Office, *, now: datetime.datetime) -> list[dict[str, Any]]:
    """What the digest lists: active credentials expired or expiring within 30 days."""
    horizon = datetime.datetime.combine(
        local_today(now) + datetime.timedelta(days=DIGEST_HORIZON_DAYS + 1),
        datetime.time.min,
        tzinfo=WARSAW,
    )
    credentials = (
        Credential.objects.filter(office=office, status=Credential.Status.ACTIVE)
        .filter(Q(client__isnull=True) | Q(client__is_archived=False))
        .annotate(expires_at=expires_at_expression())
        .filter(expires_at__lt=horizon)
        .select_related("client")
        .order_by("expires_at", "pk")
    )
    return [
        {
            "credential": credential,
            "holder": credential.client.name if credential.client else office.name,
            "expires_at": credential.expires_at,
            "days_left": days_left(credential.expires_at, now),
        }
        for credential in credentials
    ]


def digest_send(*, office: Office, settings_row: ReminderSettings | None) -> str | None:
    """The office's digest for this week, at most once; None if nothing to say or not ours."""
    now = timezone.now()
    today = local_today(now)
    items = digest_items(office, now=now)
    managers = Membership.objects.filter(
        office=office, role__in=[Membership.Role.ADMIN, Membership.Role.MANAGER]
    ).select_related("user")
    recipients = Recipients(to=_unique(_emails(managers)))
    if not items or not recipients.to:
        return None
    week_start = today - datetime.timedelta(days=today.weekday())
    digest = _claim(ExpiryDigest, lookup={"office": office, "week_start": week_start}, defaults={})
    if digest is None:
        return None
    context = {
        "office": office,
        "items": items,
        "expired": [item for item in items if item["days_left"] < 0],
        "upcoming": [item for item in items if item["days_left"] >= 0],
        "horizon_days": DIGEST_HORIZON_DAYS,
        "dashboard_url": _portal_url("expiry:dashboard") + "?bucket=30",
        "today": today,
    }
    message = render_email(
        "emails/reminders/digest", context, sender=_sender(settings_row), recipients=recipients
    )
    try:
        send_with_retry(message)
    except Exception as error:
        logger.exception("Expiry digest of office #%s not sent", office.pk)
        _release(digest, status=Status.FAILED, last_error=f"{type(error).__name__}: {error}"[:500])
        return str(Status.FAILED)
    with transaction.atomic():
        if _release(
            digest,
            status=Status.SENT,
            sent_at=timezone.now(),
            recipients=recipients.to,
            item_count=len(items),
        ):
            audit_record(
                office=office,
                actor=None,
                action="reminders.digest_sent",
                details={"week_start": week_start.isoformat(), "items": len(items)},
            )
    return str(Status.SENT)


def digests_run() -> int:
    """The weekly job: one digest per office that has it switched on (the default)."""
    settings_by_office = _settings_by_office()
    sent = 0
    offices = Office.objects.exclude(reminder_settings__weekly_digest=False).order_by("pk")
    for office in offices:
        if digest_send(office=office, settings_row=settings_by_office.get(office.pk)) == "sent":
            sent += 1
    return sent
