"""Reads for automatic renewal: the office's settings, who opted in, what is due, and the
renewal state the client page and (later) the expiry dashboard show."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
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
    return renewal_states([credential])[credential.pk]


def renewal_states(credentials: Sequence[Credential]) -> dict[int, RenewalState]:
    """`renewal_state` of many credentials (a dashboard page) in four queries, whatever
    their number: the offices' settings, the clients' choices, the renewals of the
    credentials and the renewals that stored them."""
    renewable = [c for c in credentials if is_renewable(c)]
    states = {c.pk: RenewalState("not_renewable") for c in credentials if not is_renewable(c)}
    if not renewable:
        return states
    office_ids = {c.office_id for c in renewable}
    saved = {s.office_id: s for s in RenewalSettings.objects.filter(office_id__in=office_ids)}
    settings_of = {
        office_id: saved.get(office_id) or RenewalSettings(office_id=office_id)
        for office_id in office_ids
    }
    choices = {
        choice.client_id: choice
        for choice in ClientRenewalChoice.objects.filter(
            client_id__in={c.client_id for c in renewable if c.client_id is not None}
        )
    }
    ids = [c.pk for c in renewable]
    renewals = {
        r.credential_id: r
        for r in CredentialRenewal.objects.filter(credential_id__in=ids).select_related(
            "new_credential"
        )
    }
    stored_by = {
        r.new_credential_id: r for r in CredentialRenewal.objects.filter(new_credential_id__in=ids)
    }
    now = timezone.now()
    for credential in renewable:
        settings = settings_of[credential.office_id]
        if credential.client_id is None:
            enabled = settings.renew_office_credentials
        else:
            choice = choices.get(credential.client_id)
            enabled = choice.enabled if choice is not None else settings.enabled_by_default
        states[credential.pk] = _state(
            credential,
            renewals.get(credential.pk),
            stored_by.get(credential.pk),
            days_before=settings.days_before,
            enabled=enabled,
            now=now,
        )
    return states


def _state(
    credential: Credential,
    renewal: CredentialRenewal | None,
    came_from: CredentialRenewal | None,
    *,
    days_before: int,
    enabled: bool,
    now: datetime,
) -> RenewalState:
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
    on = credential.valid_to - timedelta(days=days_before) if credential.valid_to else None
    if came_from is not None and on is not None and on > now:
        # The successor a renewal stored: "renewed, valid to D" until its own window opens.
        return RenewalState("renewed", valid_to=credential.valid_to, renewal=came_from)
    if not enabled:
        return RenewalState("disabled")
    return RenewalState("scheduled", on=on, renewal=renewal)


def office_renewal_summary(office: Office) -> dict[str, int]:
    """How many of the office's active certificates are in each renewal state."""
    credentials = list(_renewable(Credential.objects.filter(office=office)))
    counts = Counter(state.code for state in renewal_states(credentials).values())
    codes = ("scheduled", "in_progress", "renewed", "failed", "disabled")
    return {code: counts.get(code, 0) for code in codes}
