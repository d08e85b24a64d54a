"""Which clients rely on a KSeF token, by the expiry audit's own rule (one source of truth).

A client relies on a token when the expiry dashboard lists it under the "token" gap
(`certificates.expiry.selectors.gap_conditions`): on its own credentials with an active token
and no active authentication certificate, or on the office model while the office itself
logs in only with a token. The cut-off is the audit's `TOKEN_CUTOFF`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from certificates.expiry.selectors import (
    TOKEN_CUTOFF,
    ExpiryFilters,
    OfficeCredentials,
    _clients_with_flags,
    gap_conditions,
    office_credential_kinds,
)
from clients.models import AccessModel, Client
from clients.selectors import clients_visible_to
from portal.models import Membership, Office

CUTOFF_DAY = TOKEN_CUTOFF.date()


def token_stopped(now: datetime.datetime | None = None) -> bool:
    """True from 1 January 2027 (Warsaw): tokens no longer authenticate."""
    return (now or timezone.now()) > TOKEN_CUTOFF


def own_token_condition() -> Q:
    """The "token" gap of a client on its own credentials (the office's credentials do
    not matter to it): the gap rule with an office that has no credential at all."""
    return gap_conditions(OfficeCredentials(frozenset()))["token"]


def token_clients(
    office: Office, office_credentials: OfficeCredentials | None = None
) -> QuerySet[Client]:
    """The office's current clients that rely on a token (the dashboard's "token" gap)."""
    credentials = office_credentials or office_credential_kinds(office)
    return _clients_with_flags(office, ExpiryFilters()).filter(gap_conditions(credentials)["token"])


def token_client_ids(office: Office) -> frozenset[int]:
    """For markers on a list of clients: one query for the whole page (plus the office's)."""
    return frozenset(token_clients(office).values_list("pk", flat=True))


def token_client_count(membership: Membership) -> int:
    """How many of the clients the member may see rely on a token."""
    visible = clients_visible_to(membership).values("pk")
    return token_clients(membership.office).filter(pk__in=visible).count()


@dataclass(frozen=True)
class TokenReliance:
    """Why one client's KSeF access hangs on a token, for its banner."""

    client: Client
    via_office: bool  # the office model: the office logs in with its own token
    stopped: bool  # after the cut-off: the token no longer works
    cutoff_day: datetime.date = CUTOFF_DAY


def token_reliance(client: Client, *, now: datetime.datetime | None = None) -> TokenReliance | None:
    """The client's token reliance, or None when its access does not hang on a token."""
    if client.is_archived or not token_clients(client.office).filter(pk=client.pk).exists():
        return None
    return TokenReliance(
        client=client,
        via_office=client.access_model == AccessModel.OFFICE,
        stopped=token_stopped(now),
    )
