"""The daily e-mail of new purchase invoices: opt-in per member, exactly once per day.

What it says. For the previous Polish calendar day: how many purchase invoices KSeF
accepted for each of the member's clients (accountants: only their assigned clients;
managers and admins: every client of the office), each with a link to that client's
purchases filtered to that day. The counts are made by the invoice lists' own filter
(`filtered_links` with role=purchases, date_field=ksef and the day), in the member's scope,
so the number in the e-mail is the number of rows the link shows. A day without new
invoices sends nothing.

Exactly once. An `InvoiceDigestSent` row, unique on (member, day), is created "claimed" in
its own committed transaction before the e-mail goes out and marked "sent" only after the
SMTP server accepted it. A second run, or a second worker at the same moment, meets the
unique constraint and leaves it alone. A claim whose worker died is taken over after
`CLAIM_LEASE`; a failed send is taken over by the next run. (As with every e-mail: a crash
between the server's acceptance and our commit is the one window SMTP cannot close.)
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import ngettext

from certificates.expiry.reminders import Recipients, render_email, send_with_retry
from clients.models import Client
from invoices.browse.filters import filtered_links
from invoices.models import InvoiceDigestSent, InvoiceDigestSubscription
from portal.audit import audit_record
from portal.ledger import ledger_claim
from portal.models import Membership

logger = logging.getLogger(__name__)

WARSAW = ZoneInfo("Europe/Warsaw")
CLAIM_LEASE = dt.timedelta(minutes=15)
TEMPLATES = "emails/invoices/digest"
Status = InvoiceDigestSent.Status


# --- The member's choice --------------------------------------------------------------------


def digest_enabled(membership: Membership) -> bool:
    return InvoiceDigestSubscription.objects.filter(
        membership=membership, daily_purchases=True
    ).exists()


def digest_subscription_set(*, membership: Membership, enabled: bool) -> None:
    with transaction.atomic():
        InvoiceDigestSubscription.objects.update_or_create(
            membership=membership, defaults={"daily_purchases": enabled}
        )
        audit_record(
            office=membership.office,
            actor=membership.user,
            action="invoices.digest_subscribed" if enabled else "invoices.digest_unsubscribed",
            obj=membership,
        )


# --- What the e-mail says -------------------------------------------------------------------


def local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(WARSAW).date()


def day_params(day: dt.date) -> dict[str, list[str]]:
    """The list's query string for the purchases KSeF accepted on `day`."""
    iso = day.isoformat()
    return {"role": ["purchases"], "date_field": ["ksef"], "date_from": [iso], "date_to": [iso]}


@dataclass(frozen=True)
class ClientCount:
    client_id: int
    name: str
    nip: str
    count: int
    url: str


@dataclass
class Digest:
    membership: Membership
    day: dt.date
    clients: list[ClientCount] = field(default_factory=list)

    @property
    def invoice_count(self) -> int:
        return sum(item.count for item in self.clients)


def _absolute(path: str, params: dict[str, list[str]]) -> str:
    return f"{str(settings.PORTAL_BASE_URL).rstrip('/')}{path}?{urlencode(params, doseq=True)}"


def client_list_url(client_id: int, params: dict[str, list[str]]) -> str:
    try:
        path = reverse("invoices:client", kwargs={"pk": client_id})
    except NoReverseMatch:  # the lists' URLs are not installed: the portal's front page
        return str(settings.PORTAL_BASE_URL)
    return _absolute(path, params)


def office_list_url(params: dict[str, list[str]]) -> str:
    try:
        path = reverse("invoices:list")
    except NoReverseMatch:
        return str(settings.PORTAL_BASE_URL)
    return _absolute(path, params)


def digest_for(membership: Membership, day: dt.date) -> Digest:
    """The member's new purchase invoices of `day`, per client (two queries)."""
    params = day_params(day)
    links = filtered_links(membership=membership, params=params)
    counts = dict(
        links.filter(client__is_archived=False)
        .order_by()
        .values_list("client_id")
        .annotate(n=Count("pk"))
        .values_list("client_id", "n")
    )
    clients = Client.objects.filter(pk__in=counts).only("pk", "name", "nip").order_by("name")
    digest = Digest(membership=membership, day=day)
    for client in clients:
        url = client_list_url(client.pk, params)
        digest.clients.append(
            ClientCount(client.pk, client.name, client.nip, counts[client.pk], url)
        )
    return digest


def _invoices_text(count: int) -> str:
    return ngettext(
        "%(count)d nowa faktura zakupowa", "%(count)d nowych faktur zakupowych", count
    ) % {"count": count}


def _clients_text(count: int) -> str:
    return ngettext("u %(count)d klienta", "u %(count)d klientów", count) % {"count": count}


def digest_context(digest: Digest) -> dict[str, Any]:
    return {
        "membership": digest.membership,
        "day": digest.day,
        "clients": digest.clients,
        "summary": f"{_invoices_text(digest.invoice_count)} {_clients_text(len(digest.clients))}",
        "lines": [
            {"client": item, "text": _count_text(item.count), "url": item.url}
            for item in digest.clients
        ],
        "all_url": office_list_url(day_params(digest.day)),
        "settings_url": _settings_url(),
    }


def _count_text(count: int) -> str:
    return ngettext("%(count)d faktura", "%(count)d faktur", count) % {"count": count}


def _settings_url() -> str:
    try:
        return str(settings.PORTAL_BASE_URL).rstrip("/") + reverse("invoices:notifications")
    except NoReverseMatch:
        return str(settings.PORTAL_BASE_URL)


# --- Claiming and sending -------------------------------------------------------------------


def digest_claim(*, membership: Membership, day: dt.date) -> InvoiceDigestSent | None:
    """Claim the member's e-mail of `day` (None: sent, or being sent by another run)."""
    return ledger_claim(
        InvoiceDigestSent, lookup={"membership": membership, "day": day}, lease=CLAIM_LEASE
    )


def _release(row: InvoiceDigestSent, **changes: Any) -> bool:
    return bool(
        InvoiceDigestSent.objects.filter(
            pk=row.pk, status=Status.CLAIMED, claim_token=row.claim_token
        ).update(**changes)
    )


def digest_send(*, membership: Membership, day: dt.date) -> str:
    """The member's e-mail about `day`: "sent", "failed", "empty" or "not_ours"."""
    digest = digest_for(membership, day)
    if not digest.clients:
        return "empty"
    row = digest_claim(membership=membership, day=day)
    if row is None:
        return "not_ours"
    message = render_email(
        TEMPLATES,
        digest_context(digest),
        sender=settings.DEFAULT_FROM_EMAIL,
        recipients=Recipients(to=[membership.user.email]),
        headers={"X-Portal-Digest": f"invoices/{membership.pk}/{day.isoformat()}"},
    )
    try:
        send_with_retry(message)
    except Exception as error:
        logger.exception("Invoice digest of member #%s not sent", membership.pk)
        _release(row, status=Status.FAILED, last_error=f"{type(error).__name__}: {error}"[:500])
        return str(Status.FAILED)
    _release(
        row,
        status=Status.SENT,
        sent_at=timezone.now(),
        invoice_count=digest.invoice_count,
        client_count=len(digest.clients),
        last_error="",
    )
    return str(Status.SENT)


def subscribers() -> list[Membership]:
    return list(
        Membership.objects.filter(invoice_digest__daily_purchases=True, user__is_active=True)
        .exclude(user__email="")
        .select_related("user", "office")
        .order_by("pk")
    )


def digests_run(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The daily job: every subscriber's e-mail about yesterday (Polish days). Safe to run
    twice, or twice at once: each member's e-mail is sent by whichever run claims it."""
    day = local_day(now or timezone.now()) - dt.timedelta(days=1)
    report: dict[str, int] = {}
    for membership in subscribers():
        outcome = digest_send(membership=membership, day=day)
        report[outcome] = report.get(outcome, 0) + 1
    logger.info("Invoice digests for %s: %s", day, report)
    return report
