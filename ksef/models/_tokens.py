"""KSeF tokens: generation, metadata and listing (``/tokens``, digest §10).

A KSeF token authenticates unattended access to one context (``/auth/ksef-token``). KSeF
shows the token string once, in the answer to ``POST /tokens``; afterwards only its
metadata can be read, so the string is wrapped in :class:`~ksef.models.SecretStr`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ksef.models._common import Identifier, SecretStr, _dt, _list, _req_dt, _str, _strings


class KsefTokenPermission(enum.StrEnum):
    """``TokenPermissionType``: what a token may do; fixed when it is generated."""

    INVOICE_READ = "InvoiceRead"
    INVOICE_WRITE = "InvoiceWrite"
    CREDENTIALS_READ = "CredentialsRead"
    CREDENTIALS_MANAGE = "CredentialsManage"
    SUBUNIT_MANAGE = "SubunitManage"
    ENFORCEMENT_OPERATIONS = "EnforcementOperations"
    INTROSPECTION = "Introspection"


class KsefTokenStatus(enum.StrEnum):
    """``AuthenticationTokenStatus``: only ``ACTIVE`` tokens log in."""

    PENDING = "Pending"  # permissions are still being attached
    ACTIVE = "Active"
    REVOKING = "Revoking"
    REVOKED = "Revoked"
    FAILED = "Failed"  # activation failed: generate a new one


@dataclass(frozen=True, slots=True)
class GeneratedKsefToken:
    """``202`` of ``POST /tokens``. This is the only time KSeF returns ``token``: store it
    (encrypted) before doing anything else. It starts ``Pending``; poll
    ``get_ksef_token(reference_number)`` until ``Active`` before logging in with it."""

    reference_number: str
    token: SecretStr

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GeneratedKsefToken:
        return cls(str(data["referenceNumber"]), SecretStr(str(data["token"])))


def _identifier(data: Mapping[str, Any], key: str) -> Identifier:
    value = Identifier.from_json(data.get(key))
    if value is None:
        raise ValueError(f"response lacks {key!r}")
    return value


@dataclass(frozen=True, slots=True)
class KsefTokenMetadata:
    """A token as ``GET /tokens`` and ``GET /tokens/{ref}`` describe it (never the secret).

    ``status`` and ``requested_permissions`` are plain strings so a value added to the
    contract later does not break parsing; compare them with :class:`KsefTokenStatus` and
    :class:`KsefTokenPermission` members.
    """

    reference_number: str
    author_identifier: Identifier  # Nip, Pesel or certificate Fingerprint
    context_identifier: Identifier
    description: str
    requested_permissions: tuple[str, ...]
    date_created: datetime
    last_use_date: datetime | None
    status: str
    status_details: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KsefTokenMetadata:
        return cls(
            reference_number=str(data["referenceNumber"]),
            author_identifier=_identifier(data, "authorIdentifier"),
            context_identifier=_identifier(data, "contextIdentifier"),
            description=str(data["description"]),
            requested_permissions=_strings(data.get("requestedPermissions")),
            date_created=_req_dt(data, "dateCreated"),
            last_use_date=_dt(data.get("lastUseDate")),
            status=str(data["status"]),
            status_details=_strings(data.get("statusDetails")),
        )

    @property
    def is_active(self) -> bool:
        """Whether ``/auth/ksef-token`` accepts it now (any other status fails with 450)."""
        return self.status == KsefTokenStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class KsefTokenPage:
    """One page of ``GET /tokens`` (newest first); ``continuation_token`` is ``None`` on the
    last page."""

    tokens: tuple[KsefTokenMetadata, ...]
    continuation_token: str | None = field(repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KsefTokenPage:
        return cls(
            tokens=tuple(KsefTokenMetadata.from_json(i) for i in _list(data.get("tokens"))),
            # The contract says an empty value also means "no more pages".
            continuation_token=_str(data.get("continuationToken")) or None,
        )
