"""Reference numbers, challenges and checks of NIP / PESEL / InternalId values."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import datetime

NIP_PATTERN = re.compile(r"^[1-9]((\d[1-9])|([1-9]\d))\d{7}$")
PESEL_PATTERN = re.compile(r"^\d{11}$")
FINGERPRINT_PATTERN = re.compile(r"^[0-9A-F]{64}$")


def reference_number(kind: str, now: datetime) -> str:
    """36 chars like the real ones: YYYYMMDD-XX-10HEX-10HEX-2HEX (`kind` = AU, EC, ...)."""
    return (
        f"{now:%Y%m%d}-{kind}-{secrets.token_hex(5).upper()}-"
        f"{secrets.token_hex(5).upper()}-{secrets.token_hex(1).upper()}"
    )


def challenge(now: datetime) -> str:
    return reference_number("CR", now)


def permission_id() -> str:
    return str(uuid.uuid4())


def nip_valid(value: str) -> bool:
    if not NIP_PATTERN.match(value):
        return False
    weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
    remainder = sum(int(d) * w for d, w in zip(value, weights, strict=False)) % 11
    return remainder != 10 and remainder == int(value[9])


def internal_id_valid(value: str) -> bool:
    nip, sep, suffix = value.partition("-")
    if not sep or not nip_valid(nip) or not re.fullmatch(r"\d{5}", suffix):
        return False
    digits = (nip + suffix)[:14]
    check = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits)) % 10
    return check == int(suffix[-1])


def context_value_valid(context_type: str, value: str) -> bool:
    if context_type == "Nip":
        return nip_valid(value)
    if context_type == "InternalId":
        return internal_id_valid(value)
    if context_type == "NipVatUe":
        nip, sep, vat = value.partition("-")
        return bool(sep) and nip_valid(nip) and bool(re.fullmatch(r"[A-Z]{2}[0-9A-Z+*]{2,12}", vat))
    if context_type == "PeppolId":
        return bool(re.fullmatch(r"P[A-Z]{2}\d{6}", value))
    return False


def nip_of_context(context_type: str, value: str) -> str | None:
    """The NIP a context belongs to (InternalId and NipVatUe start with one)."""
    if context_type == "Nip":
        return value
    if context_type in ("InternalId", "NipVatUe"):
        return value.split("-", 1)[0]
    return None
