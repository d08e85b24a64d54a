"""Small builders for test data: offices, staff of each role, clients, valid identifiers.

Plain functions rather than a factory library: each says exactly what it creates.
"""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth import get_user_model

from clients.models import Client, LegalForm, Prerequisite
from portal.models import Membership, Office

PASSWORD = "Haslo-testowe-123!"
_sequence = itertools.count(1)

NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)
PESEL_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)


def valid_nip(n: int | None = None) -> str:
    """A checksum-valid NIP derived from n (a fresh one when n is None)."""
    base = 100_000_000 + (next(_sequence) * 7919 if n is None else n) % 800_000_000
    while True:
        digits = f"{base:09d}"
        if digits[1:3] == "00":  # the contract's NIP pattern forbids "00" in positions 2-3
            base += 1_000_000
            continue
        if digits[0] != "0":
            check = sum(int(d) * w for d, w in zip(digits, NIP_WEIGHTS, strict=True)) % 11
            if check != 10:
                return digits + str(check)
        base += 1


def valid_pesel(n: int | None = None) -> str:
    """A checksum-valid PESEL of someone born in 1980-1999 (a fresh one when n is None)."""
    n = next(_sequence) if n is None else n
    year, month, day, serial = 80 + n % 20, 1 + n % 12, 1 + n % 28, 1000 + n % 9000
    digits = f"{year:02d}{month:02d}{day:02d}{serial:04d}"
    check = (10 - sum(int(d) * w for d, w in zip(digits, PESEL_WEIGHTS, strict=True)) % 10) % 10
    return digits + str(check)


def make_office(name: str = "Biuro Rachunkowe", **fields: Any) -> Office:
    fields.setdefault("nip", valid_nip())
    return Office.objects.create(name=name, **fields)


def make_member(
    office: Office, role: str, username: str | None = None, **fields: Any
) -> Membership:
    username = username or f"{role}{next(_sequence)}"
    user = get_user_model().objects.create_user(
        username=username,
        password=PASSWORD,
        first_name=fields.pop("first_name", role.capitalize()),
        last_name=fields.pop("last_name", f"Testowy{next(_sequence)}"),
        email=fields.pop("email", f"{username}@biuro.example"),
    )
    return Membership.objects.create(user=user, office=office, role=role, **fields)


def make_client(
    office: Office,
    *,
    assigned: list[Membership] | tuple[Membership, ...] = (),
    prerequisite: str | None = Prerequisite.State.NOT_REQUIRED,
    **fields: Any,
) -> Client:
    fields.setdefault("nip", valid_nip())
    fields.setdefault("name", f"Klient {next(_sequence)} sp. z o.o.")
    fields.setdefault("legal_form", LegalForm.LIMITED_LIABILITY_COMPANY)
    fields.setdefault("contact_emails", ["ksiegowosc@klient.example"])
    client = Client.objects.create(office=office, **fields)
    client.assigned_accountants.set(assigned)
    if prerequisite:
        Prerequisite.objects.create(client=client, state=prerequisite)
    return client
