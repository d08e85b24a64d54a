"""Typed exceptions raised by :mod:`ksef.client`, :mod:`ksef.session` and :mod:`ksef.fa3`.

KSeF reports errors in two shapes (digest §2.8):

* ``application/json`` ``ExceptionResponse``:
  ``{"exception": {"exceptionDetailList": [{exceptionCode, exceptionDescription, details}],
  "referenceNumber", "serviceCode", ...}}`` and, for 429, ``TooManyRequestsResponse``
  ``{"status": {code, description, details}}``;
* ``application/problem+json`` problem details (``BadRequestProblemDetails`` with
  ``errors[]``, ``UnauthorizedProblemDetails``, ``ForbiddenProblemDetails`` with
  ``reasonCode`` and ``security``, ``GoneProblemDetails``, ``TooManyRequestsProblemDetails``).

:func:`api_error_from_response` reads both into one :class:`KsefApiError` hierarchy, so the
caller branches on the class and on :attr:`KsefApiError.codes`, never on the wire format.

Messages carry the HTTP method, the path, the status, KSeF codes and descriptions — never a
request header or body, so no token can leak into a log through ``str(exc)``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ApiErrorDetail",
    "AuthenticationFailed",
    "BadRequestError",
    "CertificateEnrollmentFailed",
    "ExportDownloadError",
    "ExportExpired",
    "ExportFailed",
    "ExportLinkExpired",
    "ExportPackageInvalid",
    "ExportPartCorrupted",
    "ForbiddenError",
    "GoneError",
    "InvoiceParseError",
    "InvoiceTooLargeError",
    "InvoiceValidationError",
    "KsefApiError",
    "KsefError",
    "KsefStatusError",
    "KsefTransportError",
    "MalformedXmlError",
    "NotFoundError",
    "OperationTimeout",
    "PermissionOperationFailed",
    "RateLimitedError",
    "SchemaLoadError",
    "ServerError",
    "UnauthorizedError",
    "UnsafeXmlError",
    "api_error_from_response",
]


class KsefError(Exception):
    """Base class of every error raised by the ``ksef`` package's client side."""


# --------------------------------------------------------------------------- FA(3) documents


class InvoiceParseError(KsefError):
    """The bytes are not a well-formed FA(3) invoice this parser can read."""


class MalformedXmlError(InvoiceParseError):
    """The bytes are not well-formed XML; ``line`` and ``detail`` say where and why."""

    def __init__(self, line: int, detail: str) -> None:
        super().__init__(f"not well-formed XML: {detail}")
        self.line = line
        self.detail = detail


class UnsafeXmlError(InvoiceParseError):
    """The document declares a DOCTYPE (DTDs and entities are refused outright)."""


class InvoiceTooLargeError(InvoiceParseError):
    """The document is larger than KSeF accepts an invoice (1 MB, 3 MB with attachments).

    Raised before any parsing, so an oversize document costs no XML work at all.
    """

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"invoice of {size} bytes exceeds the KSeF limit of {limit} bytes")
        self.size = size
        self.limit = limit


class SchemaLoadError(KsefError):
    """The XSD folder is incomplete or a schema import cannot be resolved locally."""


class InvoiceValidationError(KsefError):
    """The invoice does not validate against the official FA(3) XSD."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors: tuple[str, ...] = tuple(errors)
        shown = "; ".join(self.errors[:5])
        more = f" (+{len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"invoice is not valid FA(3): {shown}{more}")


# --------------------------------------------------------------------------- transport / HTTP


class KsefTransportError(KsefError):
    """The request did not get an HTTP answer (connection refused, DNS, timeout, TLS)."""

    def __init__(self, message: str, *, method: str, path: str) -> None:
        self.method = method
        self.path = path
        super().__init__(f"{method} {path}: {message}")


@dataclass(frozen=True, slots=True)
class ApiErrorDetail:
    """One KSeF error code with its description and details (either error format)."""

    code: int
    description: str | None
    details: tuple[str, ...]


class KsefApiError(KsefError):
    """KSeF answered with an HTTP error status.

    ``codes`` are the KSeF exception codes (``21405``...), empty when the format has none
    (401/403/410). ``reference`` is the ``exception.referenceNumber`` of the JSON format or
    the ``traceId`` of problem details — quote it when contacting the Ministry.
    """

    def __init__(
        self,
        *,
        status_code: int,
        method: str,
        path: str,
        errors: Sequence[ApiErrorDetail] = (),
        title: str | None = None,
        detail: str | None = None,
        reference: str | None = None,
        service_code: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        self.status_code = status_code
        self.method = method
        self.path = path
        self.errors: tuple[ApiErrorDetail, ...] = tuple(errors)
        self.title = title
        self.detail = detail
        self.reference = reference
        self.service_code = service_code
        self.body: Mapping[str, Any] = body or {}
        super().__init__(self._message())

    @property
    def codes(self) -> tuple[int, ...]:
        return tuple(e.code for e in self.errors)

    @property
    def description(self) -> str | None:
        """The first error's description, else the problem's ``detail`` or ``title``."""
        for error in self.errors:
            if error.description:
                return error.description
        return self.detail or self.title

    @property
    def details(self) -> tuple[str, ...]:
        return tuple(d for e in self.errors for d in e.details)

    def has_code(self, code: int) -> bool:
        return code in self.codes

    def _message(self) -> str:
        parts = [f"{self.method} {self.path} -> HTTP {self.status_code}"]
        for error in self.errors[:5]:
            text = f"[{error.code}] {error.description or ''}".rstrip()
            if error.details:
                text += ": " + "; ".join(error.details[:3])
            parts.append(text)
        if not self.errors and (self.detail or self.title):
            parts.append(str(self.detail or self.title))
        if self.reference:
            parts.append(f"reference {self.reference}")
        return " | ".join(parts)


class BadRequestError(KsefApiError):
    """HTTP 400: KSeF rejected the input (see :attr:`codes`, e.g. ``21405``)."""


class UnauthorizedError(KsefApiError):
    """HTTP 401: missing, expired or wrong bearer token."""


class ForbiddenError(KsefApiError):
    """HTTP 403 with ``reasonCode`` (``missing-permissions``, ``ip-not-allowed``, ...)."""

    def __init__(
        self,
        *,
        reason_code: str | None = None,
        security: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.reason_code = reason_code
        self.security: Mapping[str, Any] = security or {}
        super().__init__(**kwargs)

    def _message(self) -> str:
        base = super()._message()
        return f"{base} | reason {self.reason_code}" if self.reason_code else base


class NotFoundError(KsefApiError):
    """HTTP 404."""


class GoneError(KsefApiError):
    """HTTP 410: the status of an asynchronous operation is past its retention period."""


class RateLimitedError(KsefApiError):
    """HTTP 429; ``retry_after`` is the server's wait in seconds when it sent one."""

    def __init__(self, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(**kwargs)

    def _message(self) -> str:
        base = super()._message()
        return f"{base} | retry after {self.retry_after:g}s" if self.retry_after else base


class ServerError(KsefApiError):
    """HTTP 5xx."""


_STATUS_CLASSES: dict[int, type[KsefApiError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    410: GoneError,
    429: RateLimitedError,
}


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(item) for item in value if item is not None)
    return ()


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _parse_body(content: bytes) -> Mapping[str, Any]:
    try:
        parsed = json.loads(content) if content else None
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _fields_from_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """Map either error format onto the keyword arguments of :class:`KsefApiError`."""
    fields: dict[str, Any] = {"errors": []}
    exception = body.get("exception")
    if isinstance(exception, dict):  # ExceptionResponse
        for item in exception.get("exceptionDetailList") or []:
            if isinstance(item, dict) and isinstance(item.get("exceptionCode"), int):
                fields["errors"].append(
                    ApiErrorDetail(
                        code=item["exceptionCode"],
                        description=_optional_str(item.get("exceptionDescription")),
                        details=_strings(item.get("details")),
                    )
                )
        fields["reference"] = _optional_str(exception.get("referenceNumber"))
        fields["service_code"] = _optional_str(exception.get("serviceCode"))
        return fields
    status = body.get("status")
    if isinstance(status, dict):  # TooManyRequestsResponse
        fields["title"] = _optional_str(status.get("description"))
        fields["detail"] = "; ".join(_strings(status.get("details"))) or None
        return fields
    # Problem details (application/problem+json)
    for item in body.get("errors") or []:
        if isinstance(item, dict) and isinstance(item.get("code"), int):
            fields["errors"].append(
                ApiErrorDetail(
                    code=item["code"],
                    description=_optional_str(item.get("description")),
                    details=_strings(item.get("details")),
                )
            )
    fields["title"] = _optional_str(body.get("title"))
    fields["detail"] = _optional_str(body.get("detail"))
    fields["reference"] = _optional_str(body.get("traceId"))
    return fields


def api_error_from_response(
    *,
    status_code: int,
    method: str,
    path: str,
    content: bytes,
    retry_after: float | None = None,
) -> KsefApiError:
    """Build the typed error for an HTTP error response in either KSeF error format."""
    body = _parse_body(content)
    fields = _fields_from_body(body)
    common: dict[str, Any] = {
        "status_code": status_code,
        "method": method,
        "path": path,
        "body": body,
        **fields,
    }
    if status_code == 403:
        security = body.get("security")
        return ForbiddenError(
            reason_code=_optional_str(body.get("reasonCode")),
            security=security if isinstance(security, dict) else None,
            **common,
        )
    if status_code == 429:
        return RateLimitedError(retry_after=retry_after, **common)
    if status_code >= 500:
        return ServerError(**common)
    return _STATUS_CLASSES.get(status_code, KsefApiError)(**common)


# --------------------------------------------------------------------------- async statuses


class KsefStatusError(KsefError):
    """An asynchronous KSeF operation ended with an error ``StatusInfo`` code."""

    operation = "operation"

    def __init__(
        self,
        *,
        code: int,
        description: str,
        details: Sequence[str] = (),
        reference_number: str | None = None,
    ) -> None:
        self.code = code
        self.description = description
        self.details: tuple[str, ...] = tuple(details)
        self.reference_number = reference_number
        text = f"{self.operation} {reference_number or ''} failed with status {code}: {description}"
        if self.details:
            text += " (" + "; ".join(self.details) + ")"
        super().__init__(" ".join(text.split()))


class AuthenticationFailed(KsefStatusError):
    """``GET /auth/{ref}`` ended with 415, 425, 450, 460, 470, 480, 500 or 550 (§2.6)."""

    operation = "authentication"


class PermissionOperationFailed(KsefStatusError):
    """A grant/revoke ended with 400, 410, 420, 430, 440, 450, 500 or 550 (§4.2)."""

    operation = "permission operation"


class CertificateEnrollmentFailed(KsefStatusError):
    """A certificate enrollment ended with 400, 500 or 550 (§3)."""

    operation = "certificate enrollment"


class ExportFailed(KsefStatusError):
    """An invoice export ended with 210, 415, 420, 500 or 550 (§5.6)."""

    operation = "invoice export"


class ExportExpired(ExportFailed):
    """Status 210: the package is no longer available. Start a new export with the same
    ``dateRange.from`` — nothing of the expired one may be taken as synchronised."""


# --------------------------------------------------------------------------- export packages


class ExportDownloadError(KsefError):
    """Reading one part of a finished export failed; ``ordinal_number`` says which."""

    def __init__(self, message: str, *, ordinal_number: int | None = None) -> None:
        self.ordinal_number = ordinal_number
        where = f"export part {ordinal_number}: " if ordinal_number is not None else ""
        super().__init__(where + message)


class ExportPartCorrupted(ExportDownloadError):
    """The part arrived but its size or hash is wrong, or it does not decrypt. The link is
    still good: download the part (the package) again."""


class ExportLinkExpired(ExportDownloadError):
    """The pre-signed link answered 403/404/410 or is past its ``expirationDate``. Call
    ``GET /invoices/exports/{ref}`` again: every status call issues fresh links (§5.6).
    ``status_code`` is None when the link was not even tried."""

    def __init__(
        self, message: str, *, ordinal_number: int | None = None, status_code: int | None = None
    ) -> None:
        self.status_code = status_code
        super().__init__(message, ordinal_number=ordinal_number)


class ExportPackageInvalid(ExportDownloadError):
    """Every part checked out, but the archive is not a readable ZIP/tar.gz, or it unpacks
    beyond the size caps (zip-bomb guard). Downloading again will not help."""


class OperationTimeout(KsefError):
    """Polling an asynchronous operation did not reach a final status in time."""
