"""Parsing helpers and the types every area shares (status, identifiers, secrets)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

# --------------------------------------------------------------------------- helpers


def parse_datetime(value: str) -> datetime:
    """An ISO 8601 date-time from KSeF as aware UTC.

    KSeF prints up to seven fractional digits (``.2847874``) and may omit the offset, in
    which case the time is Europe/Warsaw local time (Gotcha 16) — we refuse to guess and
    raise, since every response schema field carries an offset in practice.
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    head, dot, tail = text.partition(".")
    if dot:
        digits = len(tail) - len(tail.lstrip("0123456789"))
        text = f"{head}.{tail[:digits][:6]}{tail[digits:]}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"date-time without UTC offset: {value!r}")
    return parsed.astimezone(UTC)


def _dt(value: Any) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) and value else None


def _req_dt(data: Mapping[str, Any], key: str) -> datetime:
    value = _dt(data.get(key))
    if value is None:
        raise ValueError(f"response lacks {key!r}")
    return value


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _dec(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float | str):
        return Decimal(str(value))
    raise ValueError(f"not a number: {value!r}")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in _list(value) if item is not None)


def _isoformat(moment: datetime) -> str:
    if moment.tzinfo is None:
        # Without an offset KSeF reads Europe/Warsaw time (Gotcha 16): force the caller
        # to say what they mean.
        raise ValueError("pass timezone-aware datetimes to KSeF")
    return moment.isoformat()


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


# --------------------------------------------------------------------------- common


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """``StatusInfo`` / ``InvoiceStatusInfo`` of an asynchronous operation."""

    code: int
    description: str
    details: tuple[str, ...] = ()
    extensions: Mapping[str, str | None] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StatusInfo:
        extensions = data.get("extensions")
        return cls(
            code=int(data["code"]),
            description=str(data.get("description") or ""),
            details=_strings(data.get("details")),
            extensions=dict(extensions) if isinstance(extensions, dict) else {},
        )


@dataclass(frozen=True, slots=True)
class Identifier:
    """A ``{type, value}`` pair (context, subject, buyer, target identifiers)."""

    type: str
    value: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> Identifier | None:
        if not isinstance(data, dict) or "type" not in data:
            return None
        return cls(type=str(data["type"]), value=_str(data.get("value")))

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type}
        if self.value is not None:
            body["value"] = self.value
        return body


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A bearer token with its expiry. ``repr`` never shows the token."""

    token: str = field(repr=False)
    valid_until: datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TokenInfo:
        return cls(token=str(data["token"]), valid_until=_req_dt(data, "validUntil"))

    def __repr__(self) -> str:
        return f"TokenInfo(token=<redacted>, valid_until={self.valid_until.isoformat()})"


class SecretStr:
    """A string that is a credential by itself (a KSeF token). ``repr``, ``str`` and
    f-strings print ``<redacted>``, so it cannot leak into logs, tracebacks or templates by
    accident; :meth:`reveal` hands out the value where it is really needed (encrypting it
    for ``/auth/ksef-token``, storing it encrypted)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretStr('<redacted>')"

    def __str__(self) -> str:
        return "<redacted>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretStr):
            return NotImplemented
        # Constant time: comparing a presented token must not reveal its prefix by timing.
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class DownloadedDocument:
    """Exact bytes of an invoice or UPO plus the ``x-ms-meta-hash`` the server sent."""

    content: bytes = field(repr=False)
    sha256_b64: str | None


@dataclass(frozen=True, slots=True)
class EncryptionMaterial:
    """The AES-256 key and IV of a session or export. Never printed."""

    key: bytes = field(repr=False)
    iv: bytes = field(repr=False)

    def __repr__(self) -> str:
        return "EncryptionMaterial(key=<redacted>, iv=<redacted>)"
