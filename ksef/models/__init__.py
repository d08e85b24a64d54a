"""Typed request and response objects of the KSeF API 2.0 client.

Responses are frozen dataclasses built with ``from_json``; they read the fields they know
and ignore the rest, because the contract grows additively (digest §1, "clients must
ignore unknown JSON properties"). Amounts arrive as :class:`~decimal.Decimal` (the client
decodes JSON numbers that way), date-times as timezone-aware UTC :class:`datetime`.

Request objects (``InvoiceQueryFilters``, ``PersonSubjectDetails``...) build the exact JSON
the contract's request schemas describe via ``to_json``.

Objects that hold a secret (tokens, AES keys, pre-signed URLs) keep it out of ``repr``; a
KSeF token, a credential on its own, is a :class:`SecretStr` that prints ``<redacted>``.

The types live in one private module per API area (``_auth``, ``_certificates``,
``_permissions``, ``_invoices``, ``_sessions``, ``_tokens``; shared helpers in
``_common``); import them from here.
"""

from ksef.models._auth import (
    AuthenticationChallenge,
    AuthenticationInit,
    AuthenticationMethodInfo,
    AuthenticationSession,
    AuthenticationSessionPage,
    AuthenticationStatus,
    AuthenticationTokens,
)
from ksef.models._certificates import (
    CertificateEnrollment,
    CertificateEnrollmentData,
    CertificateEnrollmentStatus,
    CertificateInfo,
    CertificateLimits,
    CertificatePage,
    Limit,
    RetrievedCertificate,
)
from ksef.models._common import (
    DownloadedDocument,
    EncryptionMaterial,
    Identifier,
    SecretStr,
    StatusInfo,
    TokenInfo,
    parse_datetime,
)
from ksef.models._invoices import (
    DateType,
    ExportedPackage,
    ExportStatus,
    InvoiceExport,
    InvoiceMetadata,
    InvoiceMetadataPage,
    InvoicePackage,
    InvoicePackagePart,
    InvoiceQueryFilters,
    SubjectType,
    ThirdSubject,
)
from ksef.models._permissions import (
    EntityPermissionGrant,
    PermissionGrant,
    PermissionPage,
    PersonSubjectDetails,
)
from ksef.models._sessions import (
    BatchSession,
    ContextLimits,
    OnlineSession,
    PartUploadRequest,
    RateLimitValues,
    SentInvoice,
    SessionInvoicePage,
    SessionInvoiceStatus,
    SessionLimits,
    SessionPage,
    SessionStatus,
    SessionSummary,
    SubjectLimits,
    UpoPage,
)
from ksef.models._tokens import (
    GeneratedKsefToken,
    KsefTokenMetadata,
    KsefTokenPage,
    KsefTokenPermission,
    KsefTokenStatus,
)

__all__ = [
    "AuthenticationChallenge",
    "AuthenticationInit",
    "AuthenticationMethodInfo",
    "AuthenticationSession",
    "AuthenticationSessionPage",
    "AuthenticationStatus",
    "AuthenticationTokens",
    "BatchSession",
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
    "GeneratedKsefToken",
    "Identifier",
    "InvoiceExport",
    "InvoiceMetadata",
    "InvoiceMetadataPage",
    "InvoicePackage",
    "InvoicePackagePart",
    "InvoiceQueryFilters",
    "KsefTokenMetadata",
    "KsefTokenPage",
    "KsefTokenPermission",
    "KsefTokenStatus",
    "Limit",
    "OnlineSession",
    "PartUploadRequest",
    "PermissionGrant",
    "PermissionPage",
    "PersonSubjectDetails",
    "RateLimitValues",
    "RetrievedCertificate",
    "SecretStr",
    "SentInvoice",
    "SessionInvoicePage",
    "SessionInvoiceStatus",
    "SessionLimits",
    "SessionPage",
    "SessionStatus",
    "SessionSummary",
    "StatusInfo",
    "SubjectLimits",
    "SubjectType",
    "ThirdSubject",
    "TokenInfo",
    "UpoPage",
    "parse_datetime",
]
