"""Typed request and response objects of the KSeF API 2.0 client.

Responses are frozen dataclasses built with ``from_json``; they read the fields they know
and ignore the rest, because the contract grows additively (digest §1, "clients must
ignore unknown JSON properties"). Amounts arrive as :class:`~decimal.Decimal` (the client
decodes JSON numbers that way), date-times as timezone-aware UTC :class:`datetime`.

Request objects (``InvoiceQueryFilters``, ``PersonSubjectDetails``...) build the exact JSON
the contract's request schemas describe via ``to_json``.

Objects that hold a secret (tokens, AES keys, pre-signed URLs) keep it out of ``repr``.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

__all__ = [
    "AuthenticationChallenge",
    "AuthenticationInit",
    "AuthenticationMethodInfo",
    "AuthenticationSession",
    "AuthenticationSessionPage",
    "AuthenticationStatus",
    "AuthenticationTokens",
    "CertificateEnrollment",
    "CertificateEnrollmentData",
    "CertificateEnrollmentStatus",
    "CertificateInfo",
    "CertificateLimits",
    "CertificatePage",
    "ContextLimits",
    "DateType",
    "DownloadedDocument",
    "EncryptionMaterial",
    "EntityPermissionGrant",
    "ExportStatus",
    "ExportedPackage",
    "Identifier",
    "InvoiceExport",
    "InvoiceMetadata",
    "InvoiceMetadataPage",
    "InvoicePackage",
    "InvoicePackagePart",
    "InvoiceQueryFilters",
    "Limit",
    "OnlineSession",
    "PermissionGrant",
    "PermissionPage",
    "PersonSubjectDetails",
    "RateLimitValues",
    "RetrievedCertificate",
    "SentInvoice",
    "SessionInvoiceStatus",
    "SessionLimits",
    "SessionStatus",
    "StatusInfo",
    "SubjectLimits",
    "SubjectType",
    "TokenInfo",
    "UpoPage",
    "parse_datetime",
]


T = TypeVar("T")

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


@dataclass(frozen=True, slots=True)
class DownloadedDocument:
    """Exact bytes of an invoice or UPO plus the ``x-ms-meta-hash`` the server sent."""

    content: bytes = field(repr=False)
    sha256_b64: str | None


# --------------------------------------------------------------------------- authentication


@dataclass(frozen=True, slots=True)
class AuthenticationChallenge:
    challenge: str
    timestamp: datetime
    timestamp_ms: int
    client_ip: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuthenticationChallenge:
        return cls(
            challenge=str(data["challenge"]),
            timestamp=_req_dt(data, "timestamp"),
            timestamp_ms=int(data["timestampMs"]),
            client_ip=str(data.get("clientIp") or ""),
        )


@dataclass(frozen=True, slots=True)
class AuthenticationInit:
    """``202`` of ``/auth/xades-signature`` and ``/auth/ksef-token``."""

    reference_number: str
    authentication_token: TokenInfo

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuthenticationInit:
        return cls(
            reference_number=str(data["referenceNumber"]),
            authentication_token=TokenInfo.from_json(data["authenticationToken"]),
        )


@dataclass(frozen=True, slots=True)
class AuthenticationMethodInfo:
    category: str
    code: str
    display_name: str

    @classmethod
    def from_json(cls, data: Any) -> AuthenticationMethodInfo | None:
        if not isinstance(data, dict):
            return None
        return cls(
            category=str(data.get("category") or ""),
            code=str(data.get("code") or ""),
            display_name=str(data.get("displayName") or ""),
        )


@dataclass(frozen=True, slots=True)
class AuthenticationStatus:
    """``GET /auth/{ref}``: ``status.code`` 100 in progress, 200 done, 4xx/5xx failed."""

    start_date: datetime
    status: StatusInfo
    method_info: AuthenticationMethodInfo | None
    is_token_redeemed: bool | None
    last_token_refresh_date: datetime | None
    refresh_token_valid_until: datetime | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuthenticationStatus:
        return cls(
            start_date=_req_dt(data, "startDate"),
            status=StatusInfo.from_json(data["status"]),
            method_info=AuthenticationMethodInfo.from_json(data.get("authenticationMethodInfo")),
            is_token_redeemed=data.get("isTokenRedeemed"),
            last_token_refresh_date=_dt(data.get("lastTokenRefreshDate")),
            refresh_token_valid_until=_dt(data.get("refreshTokenValidUntil")),
        )


@dataclass(frozen=True, slots=True)
class AuthenticationTokens:
    """``POST /auth/token/redeem``: access + refresh token (redeemable once)."""

    access_token: TokenInfo
    refresh_token: TokenInfo

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuthenticationTokens:
        return cls(
            access_token=TokenInfo.from_json(data["accessToken"]),
            refresh_token=TokenInfo.from_json(data["refreshToken"]),
        )


@dataclass(frozen=True, slots=True)
class AuthenticationSession:
    """One item of ``GET /auth/sessions``."""

    reference_number: str
    start_date: datetime
    status: StatusInfo
    method_info: AuthenticationMethodInfo | None
    is_current: bool
    is_token_redeemed: bool | None
    last_token_refresh_date: datetime | None
    refresh_token_valid_until: datetime | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuthenticationSession:
        return cls(
            reference_number=str(data["referenceNumber"]),
            start_date=_req_dt(data, "startDate"),
            status=StatusInfo.from_json(data["status"]),
            method_info=AuthenticationMethodInfo.from_json(data.get("authenticationMethodInfo")),
            is_current=bool(data.get("isCurrent")),
            is_token_redeemed=data.get("isTokenRedeemed"),
            last_token_refresh_date=_dt(data.get("lastTokenRefreshDate")),
            refresh_token_valid_until=_dt(data.get("refreshTokenValidUntil")),
        )


@dataclass(frozen=True, slots=True)
class AuthenticationSessionPage:
    items: tuple[AuthenticationSession, ...]
    continuation_token: str | None = field(repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuthenticationSessionPage:
        return cls(
            items=tuple(AuthenticationSession.from_json(i) for i in _list(data.get("items"))),
            continuation_token=_str(data.get("continuationToken")),
        )


# --------------------------------------------------------------------------- certificates


@dataclass(frozen=True, slots=True)
class Limit:
    remaining: int
    limit: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Limit:
        return cls(remaining=int(data["remaining"]), limit=int(data["limit"]))


@dataclass(frozen=True, slots=True)
class CertificateLimits:
    can_request: bool
    enrollment: Limit
    certificate: Limit

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CertificateLimits:
        return cls(
            can_request=bool(data["canRequest"]),
            enrollment=Limit.from_json(data["enrollment"]),
            certificate=Limit.from_json(data["certificate"]),
        )


@dataclass(frozen=True, slots=True)
class CertificateEnrollmentData:
    """The subject DN to put into the CSR, exactly as returned (Gotcha 7)."""

    common_name: str
    country_name: str
    given_name: str | None = None
    surname: str | None = None
    serial_number: str | None = None
    unique_identifier: str | None = None
    organization_name: str | None = None
    organization_identifier: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CertificateEnrollmentData:
        return cls(
            common_name=str(data["commonName"]),
            country_name=str(data["countryName"]),
            given_name=_str(data.get("givenName")),
            surname=_str(data.get("surname")),
            serial_number=_str(data.get("serialNumber")),
            unique_identifier=_str(data.get("uniqueIdentifier")),
            organization_name=_str(data.get("organizationName")),
            organization_identifier=_str(data.get("organizationIdentifier")),
        )

    def to_json(self) -> dict[str, str]:
        """The response's fields again (empty ones left out), as ``build_csr`` takes them."""
        fields = {
            "commonName": self.common_name,
            "countryName": self.country_name,
            "givenName": self.given_name,
            "surname": self.surname,
            "serialNumber": self.serial_number,
            "uniqueIdentifier": self.unique_identifier,
            "organizationName": self.organization_name,
            "organizationIdentifier": self.organization_identifier,
        }
        return {name: value for name, value in fields.items() if value}


@dataclass(frozen=True, slots=True)
class CertificateEnrollment:
    reference_number: str
    timestamp: datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CertificateEnrollment:
        return cls(str(data["referenceNumber"]), _req_dt(data, "timestamp"))


@dataclass(frozen=True, slots=True)
class CertificateEnrollmentStatus:
    request_date: datetime
    status: StatusInfo
    certificate_serial_number: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CertificateEnrollmentStatus:
        return cls(
            request_date=_req_dt(data, "requestDate"),
            status=StatusInfo.from_json(data["status"]),
            certificate_serial_number=_str(data.get("certificateSerialNumber")),
        )


@dataclass(frozen=True, slots=True)
class RetrievedCertificate:
    certificate_der: bytes = field(repr=False)
    name: str
    serial_number: str
    certificate_type: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RetrievedCertificate:
        return cls(
            certificate_der=base64.b64decode(data["certificate"], validate=True),
            name=str(data["certificateName"]),
            serial_number=str(data["certificateSerialNumber"]),
            certificate_type=str(data["certificateType"]),
        )


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """One item of ``POST /certificates/query``."""

    serial_number: str
    name: str
    type: str
    common_name: str
    status: str
    subject_identifier: Identifier | None
    valid_from: datetime
    valid_to: datetime
    last_use_date: datetime | None
    request_date: datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CertificateInfo:
        return cls(
            serial_number=str(data["certificateSerialNumber"]),
            name=str(data["name"]),
            type=str(data["type"]),
            common_name=str(data["commonName"]),
            status=str(data["status"]),
            subject_identifier=Identifier.from_json(data.get("subjectIdentifier")),
            valid_from=_req_dt(data, "validFrom"),
            valid_to=_req_dt(data, "validTo"),
            last_use_date=_dt(data.get("lastUseDate")),
            request_date=_req_dt(data, "requestDate"),
        )


@dataclass(frozen=True, slots=True)
class CertificatePage:
    certificates: tuple[CertificateInfo, ...]
    has_more: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CertificatePage:
        items = tuple(CertificateInfo.from_json(i) for i in _list(data.get("certificates")))
        return cls(items, bool(data.get("hasMore")))


# --------------------------------------------------------------------------- permissions


@dataclass(frozen=True, slots=True)
class PersonSubjectDetails:
    """``PersonPermissionSubjectDetails`` — mandatory on every person grant (Gotcha 11).

    Use :meth:`by_identifier` for a NIP/PESEL subject; :meth:`by_fingerprint` for a
    certificate fingerprint with (``identifier``) or without (``birth_date`` + ID document)
    a Polish identifier.
    """

    first_name: str
    last_name: str
    identifier: Identifier | None = None
    birth_date: date | None = None
    id_document_type: str | None = None
    id_document_number: str | None = None
    id_document_country: str | None = None
    by_fingerprint: bool = False

    @classmethod
    def by_identifier(cls, first_name: str, last_name: str) -> PersonSubjectDetails:
        return cls(first_name, last_name)

    @classmethod
    def for_fingerprint(
        cls,
        first_name: str,
        last_name: str,
        *,
        identifier: Identifier | None = None,
        birth_date: date | None = None,
        id_document: tuple[str, str, str] | None = None,
    ) -> PersonSubjectDetails:
        """``id_document`` is ``(type, number, ISO alpha-2 country)``."""
        doc_type, number, country = id_document or (None, None, None)
        return cls(
            first_name,
            last_name,
            identifier=identifier,
            birth_date=birth_date,
            id_document_type=doc_type,
            id_document_number=number,
            id_document_country=country,
            by_fingerprint=True,
        )

    def to_json(self) -> dict[str, Any]:
        names = {"firstName": self.first_name, "lastName": self.last_name}
        if not self.by_fingerprint:
            return {"subjectDetailsType": "PersonByIdentifier", "personById": names}
        if self.identifier is not None:
            return {
                "subjectDetailsType": "PersonByFingerprintWithIdentifier",
                "personByFpWithId": {**names, "identifier": self.identifier.to_json()},
            }
        if self.birth_date is None or self.id_document_number is None:
            raise ValueError("a fingerprint without identifier needs birth date and ID document")
        return {
            "subjectDetailsType": "PersonByFingerprintWithoutIdentifier",
            "personByFpNoId": {
                **names,
                "birthDate": self.birth_date.isoformat(),
                "idDocument": {
                    "type": self.id_document_type,
                    "number": self.id_document_number,
                    "country": self.id_document_country,
                },
            },
        }


def _subject_name(data: Mapping[str, Any]) -> str | None:
    person = data.get("subjectPersonDetails")
    if isinstance(person, dict):
        return f"{person.get('firstName', '')} {person.get('lastName', '')}".strip() or None
    entity = data.get("subjectEntityDetails")
    if isinstance(entity, dict):
        return _str(entity.get("fullName"))
    return None


@dataclass(frozen=True, slots=True)
class PermissionGrant:
    """An item of the personal / persons grant queries.

    ``author_identifier`` is ``None`` for personal grants (the contract has none there).
    """

    id: str
    scope: str
    description: str
    state: str
    start_date: datetime
    can_delegate: bool
    context_identifier: Identifier | None
    authorized_identifier: Identifier | None
    target_identifier: Identifier | None
    author_identifier: Identifier | None
    subject_name: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PermissionGrant:
        return cls(
            id=str(data["id"]),
            scope=str(data["permissionScope"]),
            description=str(data.get("description") or ""),
            state=str(data.get("permissionState") or ""),
            start_date=_req_dt(data, "startDate"),
            can_delegate=bool(data.get("canDelegate")),
            context_identifier=Identifier.from_json(data.get("contextIdentifier")),
            authorized_identifier=Identifier.from_json(data.get("authorizedIdentifier")),
            target_identifier=Identifier.from_json(data.get("targetIdentifier")),
            author_identifier=Identifier.from_json(data.get("authorIdentifier")),
            subject_name=_subject_name(data),
        )


@dataclass(frozen=True, slots=True)
class EntityPermissionGrant:
    """``POST /permissions/query/entities/grants``: a client (``context_identifier``) that
    granted the current context ``InvoiceRead``/``InvoiceWrite``."""

    id: str
    context_identifier: Identifier | None
    scope: str
    description: str
    start_date: datetime
    can_delegate: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EntityPermissionGrant:
        return cls(
            id=str(data["id"]),
            context_identifier=Identifier.from_json(data.get("contextIdentifier")),
            scope=str(data["permissionScope"]),
            description=str(data.get("description") or ""),
            start_date=_req_dt(data, "startDate"),
            can_delegate=bool(data.get("canDelegate")),
        )


@dataclass(frozen=True, slots=True)
class PermissionPage(Generic[T]):
    items: tuple[T, ...]
    has_more: bool


# --------------------------------------------------------------------------- invoices


class SubjectType(enum.StrEnum):
    SELLER = "Subject1"
    BUYER = "Subject2"
    THIRD_PARTY = "Subject3"
    AUTHORIZED = "SubjectAuthorized"


class DateType(enum.StrEnum):
    ISSUE = "Issue"
    INVOICING = "Invoicing"
    PERMANENT_STORAGE = "PermanentStorage"


@dataclass(frozen=True, slots=True)
class InvoiceQueryFilters:
    """``InvoiceQueryFilters`` for metadata queries and exports (digest §5.6).

    ``date_from``/``date_to`` must be timezone-aware: a naive time would be read by KSeF
    as Europe/Warsaw (Gotcha 16). Incremental sync should use ``PERMANENT_STORAGE`` with
    ``restrict_to_hwm=True`` (Gotcha 14).
    """

    subject_type: SubjectType | str
    date_from: datetime
    date_to: datetime | None = None
    date_type: DateType | str = DateType.PERMANENT_STORAGE
    restrict_to_hwm: bool | None = None
    ksef_number: str | None = None
    invoice_number: str | None = None
    amount_type: str | None = None  # Brutto | Netto | Vat
    amount_from: Decimal | None = None
    amount_to: Decimal | None = None
    seller_nip: str | None = None
    buyer_identifier: Identifier | None = None
    currency_codes: Sequence[str] = ()
    invoicing_mode: str | None = None
    is_self_invoicing: bool | None = None
    form_type: str | None = None
    invoice_types: Sequence[str] = ()
    has_attachment: bool | None = None

    def to_json(self) -> dict[str, Any]:
        date_range: dict[str, Any] = {
            "dateType": str(self.date_type),
            "from": _isoformat(self.date_from),
        }
        if self.date_to is not None:
            date_range["to"] = _isoformat(self.date_to)
        if self.restrict_to_hwm is not None:
            date_range["restrictToPermanentStorageHwmDate"] = self.restrict_to_hwm
        body: dict[str, Any] = {"subjectType": str(self.subject_type), "dateRange": date_range}
        optional: dict[str, Any] = {
            "ksefNumber": self.ksef_number,
            "invoiceNumber": self.invoice_number,
            "sellerNip": self.seller_nip,
            "invoicingMode": self.invoicing_mode,
            "isSelfInvoicing": self.is_self_invoicing,
            "formType": self.form_type,
            "hasAttachment": self.has_attachment,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        if self.amount_type is not None:
            amount: dict[str, Any] = {"type": self.amount_type}
            if self.amount_from is not None:
                amount["from"] = float(self.amount_from)
            if self.amount_to is not None:
                amount["to"] = float(self.amount_to)
            body["amount"] = amount
        if self.buyer_identifier is not None:
            body["buyerIdentifier"] = self.buyer_identifier.to_json()
        if self.currency_codes:
            body["currencyCodes"] = list(self.currency_codes)
        if self.invoice_types:
            body["invoiceTypes"] = list(self.invoice_types)
        return body

    def starting_at(self, moment: datetime) -> InvoiceQueryFilters:
        """The same filters with ``dateRange.from`` moved (resuming a truncated query)."""
        return replace(self, date_from=moment)


@dataclass(frozen=True, slots=True)
class ThirdSubject:
    identifier: Identifier | None
    name: str | None
    role: int


@dataclass(frozen=True, slots=True)
class InvoiceMetadata:
    """``InvoiceMetadata`` of the metadata query and of an export's ``_metadata.json``."""

    ksef_number: str
    invoice_number: str
    issue_date: date
    invoicing_date: datetime
    acquisition_date: datetime
    permanent_storage_date: datetime | None
    seller_nip: str
    seller_name: str | None
    buyer_identifier: Identifier | None
    buyer_name: str | None
    net_amount: Decimal
    gross_amount: Decimal
    vat_amount: Decimal
    currency: str
    invoicing_mode: str
    invoice_type: str
    form_code: str  # systemCode, e.g. "FA (3)"
    is_self_invoicing: bool
    has_attachment: bool
    invoice_hash: str
    hash_of_corrected_invoice: str | None
    third_subjects: tuple[ThirdSubject, ...]
    authorized_subject_nip: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InvoiceMetadata:
        seller = data.get("seller") or {}
        buyer = data.get("buyer") or {}
        form = data.get("formCode") or {}
        authorized = data.get("authorizedSubject")
        issue_date = _date(data.get("issueDate"))
        if issue_date is None:
            raise ValueError("InvoiceMetadata lacks issueDate")
        return cls(
            ksef_number=str(data["ksefNumber"]),
            invoice_number=str(data["invoiceNumber"]),
            issue_date=issue_date,
            invoicing_date=_req_dt(data, "invoicingDate"),
            acquisition_date=_req_dt(data, "acquisitionDate"),
            # Null right after sending (Gotcha 17), although the schema requires it.
            permanent_storage_date=_dt(data.get("permanentStorageDate")),
            seller_nip=str(seller.get("nip") or ""),
            seller_name=_str(seller.get("name")),
            buyer_identifier=Identifier.from_json(buyer.get("identifier")),
            buyer_name=_str(buyer.get("name")),
            net_amount=_dec(data["netAmount"]),
            gross_amount=_dec(data["grossAmount"]),
            vat_amount=_dec(data["vatAmount"]),
            currency=str(data["currency"]),
            invoicing_mode=str(data.get("invoicingMode") or ""),
            invoice_type=str(data.get("invoiceType") or ""),
            form_code=str(form.get("systemCode") or ""),
            is_self_invoicing=bool(data.get("isSelfInvoicing")),
            has_attachment=bool(data.get("hasAttachment")),
            invoice_hash=str(data.get("invoiceHash") or ""),
            hash_of_corrected_invoice=_str(data.get("hashOfCorrectedInvoice")),
            third_subjects=tuple(
                ThirdSubject(
                    identifier=Identifier.from_json(item.get("identifier")),
                    name=_str(item.get("name")),
                    role=int(item.get("role") or 0),
                )
                for item in _list(data.get("thirdSubjects"))
                if isinstance(item, dict)
            ),
            authorized_subject_nip=(
                _str(authorized.get("nip")) if isinstance(authorized, dict) else None
            ),
        )


@dataclass(frozen=True, slots=True)
class InvoiceMetadataPage:
    invoices: tuple[InvoiceMetadata, ...]
    has_more: bool
    is_truncated: bool
    permanent_storage_hwm_date: datetime | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InvoiceMetadataPage:
        return cls(
            invoices=tuple(InvoiceMetadata.from_json(i) for i in _list(data.get("invoices"))),
            has_more=bool(data.get("hasMore")),
            is_truncated=bool(data.get("isTruncated")),
            permanent_storage_hwm_date=_dt(data.get("permanentStorageHwmDate")),
        )


@dataclass(frozen=True, slots=True)
class EncryptionMaterial:
    """The AES-256 key and IV of a session or export. Never printed."""

    key: bytes = field(repr=False)
    iv: bytes = field(repr=False)

    def __repr__(self) -> str:
        return "EncryptionMaterial(key=<redacted>, iv=<redacted>)"


@dataclass(frozen=True, slots=True)
class InvoiceExport:
    """A started export: its reference number and the key to decrypt its parts."""

    reference_number: str
    encryption: EncryptionMaterial


@dataclass(frozen=True, slots=True)
class InvoicePackagePart:
    ordinal_number: int
    part_name: str
    method: str
    url: str = field(repr=False)  # pre-signed: whoever holds it can download
    part_size: int
    part_hash: str
    encrypted_part_size: int
    encrypted_part_hash: str
    expiration_date: datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InvoicePackagePart:
        return cls(
            ordinal_number=int(data["ordinalNumber"]),
            part_name=str(data["partName"]),
            method=str(data.get("method") or "GET"),
            url=str(data["url"]),
            part_size=int(data["partSize"]),
            part_hash=str(data["partHash"]),
            encrypted_part_size=int(data["encryptedPartSize"]),
            encrypted_part_hash=str(data["encryptedPartHash"]),
            expiration_date=_req_dt(data, "expirationDate"),
        )

    def __repr__(self) -> str:
        return (
            f"InvoicePackagePart(ordinal_number={self.ordinal_number}, "
            f"part_name={self.part_name!r}, url={_redact_url(self.url)!r}, "
            f"encrypted_part_size={self.encrypted_part_size})"
        )


@dataclass(frozen=True, slots=True)
class InvoicePackage:
    invoice_count: int
    size: int
    parts: tuple[InvoicePackagePart, ...]
    is_truncated: bool
    last_issue_date: date | None
    last_invoicing_date: datetime | None
    last_permanent_storage_date: datetime | None
    permanent_storage_hwm_date: datetime | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InvoicePackage:
        return cls(
            invoice_count=int(data["invoiceCount"]),
            size=int(data["size"]),
            parts=tuple(InvoicePackagePart.from_json(p) for p in _list(data.get("parts"))),
            is_truncated=bool(data.get("isTruncated")),
            last_issue_date=_date(data.get("lastIssueDate")),
            last_invoicing_date=_dt(data.get("lastInvoicingDate")),
            last_permanent_storage_date=_dt(data.get("lastPermanentStorageDate")),
            permanent_storage_hwm_date=_dt(data.get("permanentStorageHwmDate")),
        )


@dataclass(frozen=True, slots=True)
class ExportStatus:
    """``GET /invoices/exports/{ref}``: 100 running, 200 ready, others failed (§5.6)."""

    status: StatusInfo
    completed_date: datetime | None
    package_expiration_date: datetime | None
    package: InvoicePackage | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExportStatus:
        package = data.get("package")
        return cls(
            status=StatusInfo.from_json(data["status"]),
            completed_date=_dt(data.get("completedDate")),
            package_expiration_date=_dt(data.get("packageExpirationDate")),
            package=InvoicePackage.from_json(package) if isinstance(package, dict) else None,
        )


@dataclass(frozen=True, slots=True)
class ExportedPackage:
    """A downloaded, decrypted and unpacked export: ``files`` by name (``{ksefNumber}.xml``),
    ``metadata`` from ``_metadata.json``."""

    files: Mapping[str, bytes] = field(repr=False)
    metadata: tuple[InvoiceMetadata, ...]

    def invoices(self) -> dict[str, bytes]:
        """The invoice XML files keyed by KSeF number."""
        return {
            name.removesuffix(".xml"): content
            for name, content in self.files.items()
            if name.endswith(".xml")
        }


# --------------------------------------------------------------------------- sessions


@dataclass(frozen=True, slots=True)
class OnlineSession:
    """An open online session and the key every invoice sent in it is encrypted with."""

    reference_number: str
    valid_until: datetime
    encryption: EncryptionMaterial


@dataclass(frozen=True, slots=True)
class SentInvoice:
    """``202`` of sending an invoice: its reference and the hash KSeF will report."""

    reference_number: str
    invoice_hash: str


@dataclass(frozen=True, slots=True)
class UpoPage:
    reference_number: str
    download_url: str = field(repr=False)
    download_url_expiration_date: datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UpoPage:
        return cls(
            reference_number=str(data["referenceNumber"]),
            download_url=str(data["downloadUrl"]),
            download_url_expiration_date=_req_dt(data, "downloadUrlExpirationDate"),
        )


@dataclass(frozen=True, slots=True)
class SessionStatus:
    status: StatusInfo
    date_created: datetime
    date_updated: datetime
    valid_until: datetime | None
    upo_pages: tuple[UpoPage, ...]
    invoice_count: int | None
    successful_invoice_count: int | None
    failed_invoice_count: int | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionStatus:
        upo = data.get("upo")
        pages = _list(upo.get("pages")) if isinstance(upo, dict) else []
        return cls(
            status=StatusInfo.from_json(data["status"]),
            date_created=_req_dt(data, "dateCreated"),
            date_updated=_req_dt(data, "dateUpdated"),
            valid_until=_dt(data.get("validUntil")),
            upo_pages=tuple(UpoPage.from_json(p) for p in pages),
            invoice_count=data.get("invoiceCount"),
            successful_invoice_count=data.get("successfulInvoiceCount"),
            failed_invoice_count=data.get("failedInvoiceCount"),
        )


@dataclass(frozen=True, slots=True)
class SessionInvoiceStatus:
    ordinal_number: int
    reference_number: str
    invoice_hash: str
    status: StatusInfo
    invoicing_date: datetime
    invoice_number: str | None
    ksef_number: str | None
    invoice_file_name: str | None
    acquisition_date: datetime | None
    permanent_storage_date: datetime | None
    upo_download_url: str | None = field(repr=False)
    invoicing_mode: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionInvoiceStatus:
        return cls(
            ordinal_number=int(data["ordinalNumber"]),
            reference_number=str(data["referenceNumber"]),
            invoice_hash=str(data["invoiceHash"]),
            status=StatusInfo.from_json(data["status"]),
            invoicing_date=_req_dt(data, "invoicingDate"),
            invoice_number=_str(data.get("invoiceNumber")),
            ksef_number=_str(data.get("ksefNumber")),
            invoice_file_name=_str(data.get("invoiceFileName")),
            acquisition_date=_dt(data.get("acquisitionDate")),
            permanent_storage_date=_dt(data.get("permanentStorageDate")),
            upo_download_url=_str(data.get("upoDownloadUrl")),
            invoicing_mode=_str(data.get("invoicingMode")),
        )


# --------------------------------------------------------------------------- limits


@dataclass(frozen=True, slots=True)
class SessionLimits:
    max_invoice_size_mb: int
    max_invoice_with_attachment_size_mb: int
    max_invoices: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionLimits:
        return cls(
            max_invoice_size_mb=int(data["maxInvoiceSizeInMB"]),
            max_invoice_with_attachment_size_mb=int(data["maxInvoiceWithAttachmentSizeInMB"]),
            max_invoices=int(data["maxInvoices"]),
        )


@dataclass(frozen=True, slots=True)
class ContextLimits:
    online_session: SessionLimits
    batch_session: SessionLimits

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ContextLimits:
        return cls(
            SessionLimits.from_json(data["onlineSession"]),
            SessionLimits.from_json(data["batchSession"]),
        )


@dataclass(frozen=True, slots=True)
class SubjectLimits:
    max_enrollments: int | None
    max_certificates: int | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SubjectLimits:
        enrollment = data.get("enrollment")
        certificate = data.get("certificate")
        return cls(
            enrollment.get("maxEnrollments") if isinstance(enrollment, dict) else None,
            certificate.get("maxCertificates") if isinstance(certificate, dict) else None,
        )


@dataclass(frozen=True, slots=True)
class RateLimitValues:
    per_second: int
    per_minute: int
    per_hour: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RateLimitValues:
        return cls(int(data["perSecond"]), int(data["perMinute"]), int(data["perHour"]))
