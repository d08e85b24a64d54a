"""Builders for the expiry tests: credentials with chosen expiry, without real key material.

The dashboard and the reminders read only metadata columns, so a `Credential` row with a
`valid_to` is all they need; upload and cryptography are tested elsewhere.
"""

from __future__ import annotations

import datetime
import itertools
from typing import Any

from django.utils import timezone

from certificates.expiry.selectors import WARSAW
from certificates.models import Credential
from clients.models import Client
from portal.models import Membership, Office
from tests.factories import make_client, valid_nip

_serials = itertools.count(1000)
_nips = itertools.count(1)


def fresh_nip() -> str:
    """A checksum-valid NIP not used by any other client of these tests (spaced apart so
    the factory's skipping of invalid prefixes cannot land two on the same number)."""
    return valid_nip(5_000_000 + next(_nips) * 1_000)


def new_client(
    office: Office, *, assigned: list[Membership] | tuple[Membership, ...] = (), **fields: Any
) -> Client:
    fields.setdefault("nip", fresh_nip())
    return make_client(office, assigned=assigned, **fields)


def warsaw(year: int, month: int, day: int, hour: int = 7, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=WARSAW)


def days_from_now(days: int, *, hour: int = 12) -> datetime.datetime:
    """Noon (Warsaw) of the day `days` calendar days from today."""
    today = timezone.now().astimezone(WARSAW).date() + datetime.timedelta(days=days)
    return datetime.datetime.combine(today, datetime.time(hour), tzinfo=WARSAW)


def make_credential(
    office: Office,
    client: Client | None,
    kind: str = Credential.Kind.AUTHENTICATION,
    *,
    valid_to: datetime.datetime | None = None,
    status: str = Credential.Status.ACTIVE,
    **fields: Any,
) -> Credential:
    serial = next(_serials)
    if kind == Credential.Kind.TOKEN:
        fields.setdefault("token_reference", f"20260101-EC-{serial:010d}-TOKEN")
    else:
        fields.setdefault("serial_number", f"5A{serial:08X}")
        fields.setdefault("owner_name", client.name if client else office.name)
        fields.setdefault("owner_identifier_type", Credential.OwnerIdentifierType.NIP)
        fields.setdefault("owner_identifier", client.nip if client else office.nip)
        fields.setdefault("valid_from", (valid_to or timezone.now()) - datetime.timedelta(days=730))
    return Credential.objects.create(
        office=office, client=client, kind=kind, valid_to=valid_to, status=status, **fields
    )
