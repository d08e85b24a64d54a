"""Reads for automatic renewal: the office's settings, who opted in, what is due, and the
renewal state the client page and (later) the expiry dashboard show."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from certificates.models import (
    ClientRenewalChoice,
    Credential,
    CredentialRenewal,
    RenewalSettings,
)
from clients.models import Client
from portal.models import Office

RENEWABLE_KINDS = (Credential.Kind.AUTHENTICATION, Credential.Kind.OFFLINE)
# Only certificates KSeF itself issued are renewed through KSeF: a self-signed test
# certificate or a qualified seal is not what /certificates/enrollments gives back.
KSEF_ISSUED = (Credential.Environment.TEST_OR_DEMO, Credential.Environment.PRODUCTION)


def renewal_settings_of(office: Office) -> RenewalSettings:
    """The office's settings row, or the defaults (unsaved) when it never changed them."""
    found = RenewalSettings.objects.filter(office=office).first()
    return found or RenewalSettings(office=office)


def client_choice_of(client: Client) -> ClientRenewalChoice | None:
    return ClientRenewalChoice.objects.filter(client=client).first()


def renewal_enabled_for(credential: Credential, settings: RenewalSettings | None = None) -> bool:
    """Whether the office agreed that the portal renews this credential on its own."""
    settings = settings or renewal_settings_of(credential.office)
    if credential.client_id is None:
        return settings.renew_office_credentials
    choice = ClientRenewalChoice.objects.filter(client_id=credential.client_id).first()
    return choice.enabled if choice is not None else settings.enabled_by_default


def is_renewable(credential: Credential) -> bool:
    """A KSeF certificate of a NIP: never a PESEL certificate, never a token."""
    return (
        credential.kind in RENEWABLE_KINDS
        and credential.owner_identifier_type == Credential.OwnerIdentifierType.NIP
        and not credential.is_personal
        and credential.environment in KSEF_ISSUED
    )


def _renewable(queryset: QuerySet[Credential]) -> QuerySet[Credential]:
    return queryset.filter(
        status=Credential.Status.ACTIVE,
        kind__in=RENEWABLE_KINDS,
        owner_identifier_type=Credential.OwnerIdentifierType.NIP,
        is_personal=False,
        environment__in=KSEF_ISSUED,
    )


def credentials_due(
    *, now: datetime | None = None, office: Office | None = None, nips: list[str] | None = None
) -> list[Credential]:
    """Active renewable credentials inside their office's renewal window, opted in.

    Authentication certificates come first: an offline certificate is renewed with the
    authentication certificate's session. Already-expired ones are included, so their
    renewal fails with the message that says what the client must do.
    """
    now = now or timezone.now()
    offices = Office.objects.all() if office is None else Office.objects.filter(pk=office.pk)
    due: list[Credential] = []
    for each in offices:
        settings = renewal_settings_of(each)
        queryset = _renewable(Credential.objects.filter(office=each)).filter(
            valid_to__lte=now + timedelta(days=settings.days_before)
        )
        if nips:
            queryset = queryset.filter(
                Q(client__nip__in=nips) | Q(client__isnull=True, office__nip__in=nips)
            )
        for credential in queryset.select_related("client", "office"):
            if renewal_enabled_for(credential, settings):
                due.append(credential)
    due.sort(key=lambda c: (c.kind != Credential.Kind.AUTHENTICATION, c.valid_to or now, c.pk))
    return due


def renewal_of(credential: Credential) -> CredentialRenewal | None:
    return CredentialRenewal.objects.filter(credential=credential).first()


@dataclass(frozen=True)
class RenewalState:
    """What the screens say about one credential's renewal (issue #17, item 2).

    `code`: "not_renewable" | "disabled" | "scheduled" | "in_progress" | "renewed" |
    "failed"; `on` is the day renewal is due (scheduled), `valid_to` the new certificate's
    end (renewed), `message` the stored reason (failed) in the reader's language.
    """

    code: str
    on: datetime | None = None
    valid_to: datetime | None = None
    message: str = ""
    renewal: CredentialRenewal | None = None


IN_PROGRESS = (
    CredentialRenewal.State.PENDING,
    CredentialRenewal.State.ENROLLING,
    CredentialRenewal.State.ENROLLED,
)


def renewal_state(credential: Credential) -> RenewalState:
    """The renewal state of one credential, for the client page and the expiry dashboard."""
    if not is_renewable(credential):
        return RenewalState("not_renewable")
    renewal = renewal_of(credential)
    if renewal is not None and renewal.state in (
        CredentialRenewal.State.STORED,
        CredentialRenewal.State.RENEWED,
    ):
        new = renewal.new_credential
        return RenewalState("renewed", valid_to=new.valid_to if new else None, renewal=renewal)
    if renewal is not None and renewal.state == CredentialRenewal.State.FAILED:
        return RenewalState("failed", message=renewal.message_text, renewal=renewal)
    if renewal is not None and renewal.state in IN_PROGRESS and renewal.attempts:
        return RenewalState("in_progress", renewal=renewal)
    settings = renewal_settings_of(credential.office)
    on = credential.valid_to - timedelta(days=settings.days_before) if credential.valid_to else None
    came_from = CredentialRenewal.objects.filter(new_credential=credential).first()
    if came_from is not None and on is not None and on > timezone.now():
        # The successor a renewal stored: "renewed, valid to D" until its own window opens.
        return RenewalState("renewed", valid_to=credential.valid_to, renewal=came_from)
    if not renewal_enabled_for(credential, settings):
        return RenewalState("disabled")
    return RenewalState("scheduled", on=on, renewal=renewal)


def office_renewal_summary(office: Office) -> dict[str, int]:
    """How many of the office's active certificates are in each renewal state."""
    counts: Counter[str] = Counter()
    for credential in _renewable(Credential.objects.filter(office=office)).select_related("office"):
        counts[renewal_state(credential).code] += 1
    codes = ("scheduled", "in_progress", "renewed", "failed", "disabled")
    return {code: counts.get(code, 0) for code in codes}
