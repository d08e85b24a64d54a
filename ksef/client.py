"""A typed, synchronous httpx client for the KSeF API 2.0 — one method per operation.

Tokens are never stored here: every authenticated method takes the bearer token as its first
argument, either as a string or as a zero-argument callable that returns the current one
(:class:`ksef.session.KsefSession` passes its auto-refreshing getter, so a long paging loop
keeps working across an access-token refresh).

Retries (``_send``):

* ``429`` → wait ``Retry-After`` (seconds or an HTTP date) and retry, up to
  ``max_rate_limit_retries`` and only while the wait is at most ``max_retry_after``. A 429
  request was not processed, so this is safe for every operation.
* 5xx, timeouts and connection errors → exponential backoff with jitter up to
  ``max_retries``, **only for idempotent operations**: GETs, DELETEs of a named resource,
  and the POSTs that only read (challenge, metadata/certificate/permission queries,
  certificate retrieval, token refresh). Grants, session open, invoice send, enrollment,
  exports, token/XAdES authentication and redeem are never retried after the request may
  have reached KSeF: a 5xx or timeout raises, and the caller decides (a blind resend of
  an invoice or a grant could duplicate it).
  A connection that could not be *established* (``httpx.ConnectError``/``ConnectTimeout``)
  carried no request, so it is retried for every operation.

Logging (logger ``ksef.client``) records method, path, status and timing; headers are
logged only through :func:`redact_headers`, bodies never.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import random
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import httpx

from ksef.crypto import (
    PublicKeyCertificate,
    aes_decrypt,
    aes_encrypt,
    encrypt_symmetric_key,
    generate_symmetric_key,
    sha256_b64,
)
from ksef.environments import Environment
from ksef.errors import (
    ExportFailed,
    KsefError,
    KsefTransportError,
    OperationTimeout,
    RateLimitedError,
    api_error_from_response,
)
from ksef.models import (
    AuthenticationChallenge,
    AuthenticationInit,
    AuthenticationSessionPage,
    AuthenticationStatus,
    AuthenticationTokens,
    CertificateEnrollment,
    CertificateEnrollmentData,
    CertificateEnrollmentStatus,
    CertificateLimits,
    CertificatePage,
    ContextLimits,
    DateType,
    DownloadedDocument,
    EncryptionMaterial,
    EntityPermissionGrant,
    ExportedPackage,
    ExportStatus,
    Identifier,
    InvoiceExport,
    InvoiceMetadata,
    InvoiceMetadataPage,
    InvoicePackage,
    InvoiceQueryFilters,
    OnlineSession,
    PermissionGrant,
    PermissionPage,
    PersonSubjectDetails,
    RateLimitValues,
    RetrievedCertificate,
    SentInvoice,
    SessionInvoiceStatus,
    SessionStatus,
    StatusInfo,
    SubjectLimits,
    TokenInfo,
    parse_datetime,
)
from ksef.xades import AllowedIps

__all__ = ["FA3_FORM_CODE", "AccessToken", "KsefClient", "parse_retry_after", "redact_headers"]

logger = logging.getLogger("ksef.client")

AccessToken = str | Callable[[], str]
"""A bearer token, or a callable returning the current one (re-read on every request)."""

FA3_FORM_CODE: Final[Mapping[str, str]] = {
    "systemCode": "FA (3)",
    "schemaVersion": "1-0E",
    "value": "FA",
}
_SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})
_WARSAW = ZoneInfo("Europe/Warsaw")
_MAX_PACKAGE_BYTES = 2 * 1024**3  # an export package is at most 1 GB compressed (§8)


class _RedactUrlQueries(logging.Filter):
    """httpx logs every request URL at INFO; pre-signed export/UPO links carry their
    credential in the query string, so the query is replaced before anything is emitted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(arg, httpx.URL) and arg.query for arg in record.args
        ):
            record.args = tuple(
                arg.copy_with(query=b"redacted")
                if isinstance(arg, httpx.URL) and arg.query
                else arg
                for arg in record.args
            )
        return True


if not any(isinstance(f, _RedactUrlQueries) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(_RedactUrlQueries())


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers safe to log: credentials replaced by ``<redacted>``."""
    return {
        name: ("<redacted>" if name.lower() in _SECRET_HEADERS else value)
        for name, value in headers.items()
    }


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def _json(response: httpx.Response) -> Any:
    # Decimal keeps invoice amounts exact (float would turn 0.1 into 0.1000000000000000055).
    return json.loads(response.content, parse_float=Decimal)


def _drop_none(body: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("pass timezone-aware datetimes (naive ones mean Europe/Warsaw to KSeF)")
    return moment.isoformat()


class KsefClient:
    """Synchronous KSeF API 2.0 client.

    ``base_url`` is the API root including ``/v2`` (or an :class:`Environment`). ``sleep``,
    ``clock`` and ``jitter`` are injectable so tests run without real waiting.
    """

    def __init__(
        self,
        base_url: str | Environment,
        *,
        http: httpx.Client | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_rate_limit_retries: int = 3,
        max_retry_after: float = 120.0,
        problem_details: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        jitter: Callable[[], float] = random.random,
    ) -> None:
        url = base_url.api_base_url if isinstance(base_url, Environment) else base_url
        self.base_url = url.rstrip("/")
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout)
        self._timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_rate_limit_retries = max_rate_limit_retries
        self.max_retry_after = max_retry_after
        self.problem_details = problem_details
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter

    def __repr__(self) -> str:
        return f"KsefClient({self.base_url!r})"

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> KsefClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * 2.0**attempt)
        return ceiling / 2 + self._jitter() * ceiling / 2  # "equal jitter"

    def _send(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        token: AccessToken | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        url: str | None = None,
        accept: str = "application/json",
    ) -> httpx.Response:
        target = url or self.base_url + path
        failures = rate_limited = 0
        while True:
            request_headers = {"Accept": accept, **(headers or {})}
            if self.problem_details and url is None:
                request_headers["X-Error-Format"] = "problem-details"
            if token is not None:
                bearer = token() if callable(token) else token
                request_headers["Authorization"] = f"Bearer {bearer}"
            if content_type:
                request_headers["Content-Type"] = content_type
            started = time.monotonic()
            try:
                response = self._http.request(
                    method,
                    target,
                    params=_drop_none(params or {}) or None,
                    json=json_body,
                    content=content,
                    headers=request_headers,
                    timeout=self._timeout,
                )
            except httpx.TransportError as exc:
                unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if (idempotent or unsent) and failures < self.max_retries:
                    delay = self._backoff(failures)
                    failures += 1
                    logger.info(
                        "%s %s: %s; retry in %.1fs", method, path, type(exc).__name__, delay
                    )
                    self._sleep(delay)
                    continue
                raise KsefTransportError(
                    f"{type(exc).__name__}: {exc}", method=method, path=path
                ) from None
            elapsed_ms = (time.monotonic() - started) * 1000
            logger.debug(
                "%s %s -> %s in %.0f ms; request headers %s",
                method,
                path,
                response.status_code,
                elapsed_ms,
                redact_headers(request_headers),
            )
            warning = response.headers.get("X-System-Warning")
            if warning:
                logger.warning("KSeF system warning on %s %s: %s", method, path, warning)
            status = response.status_code
            if status < 400:
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
            error = api_error_from_response(
                status_code=status,
                method=method,
                path=path,
                content=response.content,
                retry_after=retry_after,
            )
            if isinstance(error, RateLimitedError):
                wait = retry_after if retry_after is not None else self._backoff(rate_limited)
                if rate_limited < self.max_rate_limit_retries and wait <= self.max_retry_after:
                    rate_limited += 1
                    logger.info("%s %s: 429, waiting %.1fs", method, path, wait)
                    self._sleep(wait)
                    continue
                raise error
            if status >= 500 and idempotent and failures < self.max_retries:
                delay = self._backoff(failures)
                failures += 1
                logger.info("%s %s: HTTP %s; retry in %.1fs", method, path, status, delay)
                self._sleep(delay)
                continue
            raise error

    def _get(self, path: str, token: AccessToken, **kwargs: Any) -> Any:
        return _json(self._send("GET", path, idempotent=True, token=token, **kwargs))

    def _post(
        self, path: str, token: AccessToken | None, body: Any, *, idempotent: bool, **kw: Any
    ) -> Any:
        response = self._send(
            "POST", path, idempotent=idempotent, token=token, json_body=body, **kw
        )
        return _json(response) if response.content else None

    def _download(self, path: str, token: AccessToken) -> DownloadedDocument:
        response = self._send("GET", path, idempotent=True, token=token, accept="application/xml")
        return DownloadedDocument(response.content, response.headers.get("x-ms-meta-hash"))

    # ------------------------------------------------------------------ authentication

    def get_auth_challenge(self) -> AuthenticationChallenge:
        """``POST /auth/challenge`` (no auth; safe to retry — a new challenge is harmless)."""
        return AuthenticationChallenge.from_json(
            self._post("/auth/challenge", None, None, idempotent=True)
        )

    def authenticate_xades(
        self, signed_xml: bytes, *, verify_certificate_chain: bool | None = None
    ) -> AuthenticationInit:
        """``POST /auth/xades-signature`` with the signed ``AuthTokenRequest`` as-is."""
        params = {}
        if verify_certificate_chain is not None:
            params["verifyCertificateChain"] = str(verify_certificate_chain).lower()
        response = self._send(
            "POST",
            "/auth/xades-signature",
            idempotent=False,
            content=signed_xml,
            content_type="application/xml",  # anything else is HTTP 415 (Gotcha 4)
            params=params,
        )
        return AuthenticationInit.from_json(_json(response))

    def authenticate_ksef_token(
        self,
        *,
        challenge: str,
        context_type: str,
        context_value: str,
        encrypted_token: str,
        public_key_id: str | None = None,
        allowed_ips: AllowedIps | None = None,
    ) -> AuthenticationInit:
        """``POST /auth/ksef-token``; ``encrypted_token`` from ``crypto.encrypt_ksef_token``."""
        body: dict[str, Any] = {
            "challenge": challenge,
            "contextIdentifier": {"type": context_type, "value": context_value},
            "encryptedToken": encrypted_token,
        }
        if public_key_id is not None:
            body["publicKeyId"] = public_key_id
        if allowed_ips is not None and not allowed_ips.is_empty():
            body["authorizationPolicy"] = {
                "allowedIps": {
                    "ip4Addresses": list(allowed_ips.ip4_addresses),
                    "ip4Ranges": list(allowed_ips.ip4_ranges),
                    "ip4Masks": list(allowed_ips.ip4_masks),
                }
            }
        return AuthenticationInit.from_json(
            self._post("/auth/ksef-token", None, body, idempotent=False)
        )

    def get_auth_status(
        self, authentication_token: AccessToken, reference_number: str
    ) -> AuthenticationStatus:
        """``GET /auth/{ref}`` with the *authentication* token (Gotcha 1)."""
        return AuthenticationStatus.from_json(
            self._get(f"/auth/{reference_number}", authentication_token)
        )

    def redeem_tokens(self, authentication_token: AccessToken) -> AuthenticationTokens:
        """``POST /auth/token/redeem`` — works once (``21301`` after), so never retried."""
        return AuthenticationTokens.from_json(
            self._post("/auth/token/redeem", authentication_token, None, idempotent=False)
        )

    def refresh_access_token(self, refresh_token: AccessToken) -> TokenInfo:
        """``POST /auth/token/refresh`` with the *refresh* token; it is not rotated."""
        data = self._post("/auth/token/refresh", refresh_token, None, idempotent=True)
        return TokenInfo.from_json(data["accessToken"])

    def list_auth_sessions(
        self,
        access_token: AccessToken,
        *,
        page_size: int | None = None,
        continuation_token: str | None = None,
    ) -> AuthenticationSessionPage:
        headers = {"x-continuation-token": continuation_token} if continuation_token else None
        return AuthenticationSessionPage.from_json(
            self._get(
                "/auth/sessions", access_token, params={"pageSize": page_size}, headers=headers
            )
        )

    def revoke_current_auth_session(self, token: AccessToken) -> None:
        """``DELETE /auth/sessions/current`` (access or refresh token): kills the refresh token."""
        self._send("DELETE", "/auth/sessions/current", idempotent=True, token=token)

    def revoke_auth_session(self, access_token: AccessToken, reference_number: str) -> None:
        self._send(
            "DELETE", f"/auth/sessions/{reference_number}", idempotent=True, token=access_token
        )

    def get_public_key_certificates(self) -> list[PublicKeyCertificate]:
        """``GET /security/public-key-certificates`` (public) — the MF encryption keys."""
        data = _json(self._send("GET", "/security/public-key-certificates", idempotent=True))
        return [PublicKeyCertificate.from_json(item) for item in data]

    # ------------------------------------------------------------------ KSeF certificates

    def get_certificate_limits(self, access_token: AccessToken) -> CertificateLimits:
        return CertificateLimits.from_json(self._get("/certificates/limits", access_token))

    def get_certificate_enrollment_data(
        self, access_token: AccessToken
    ) -> CertificateEnrollmentData:
        return CertificateEnrollmentData.from_json(
            self._get("/certificates/enrollments/data", access_token)
        )

    def enroll_certificate(
        self,
        access_token: AccessToken,
        *,
        name: str,
        certificate_type: str,
        csr_der: bytes,
        valid_from: datetime | None = None,
    ) -> CertificateEnrollment:
        """``POST /certificates/enrollments``; ``certificate_type`` Authentication|Offline."""
        body = _drop_none(
            {
                "certificateName": name,
                "certificateType": certificate_type,
                "csr": base64.b64encode(csr_der).decode("ascii"),
                "validFrom": _iso(valid_from) if valid_from else None,
            }
        )
        return CertificateEnrollment.from_json(
            self._post("/certificates/enrollments", access_token, body, idempotent=False)
        )

    def get_certificate_enrollment_status(
        self, access_token: AccessToken, reference_number: str
    ) -> CertificateEnrollmentStatus:
        return CertificateEnrollmentStatus.from_json(
            self._get(f"/certificates/enrollments/{reference_number}", access_token)
        )

    def retrieve_certificates(
        self, access_token: AccessToken, serial_numbers: Sequence[str]
    ) -> list[RetrievedCertificate]:
        body = {"certificateSerialNumbers": list(serial_numbers)}
        data = self._post("/certificates/retrieve", access_token, body, idempotent=True)
        return [RetrievedCertificate.from_json(item) for item in data["certificates"]]

    def query_certificates(
        self,
        access_token: AccessToken,
        *,
        serial_number: str | None = None,
        name: str | None = None,
        certificate_type: str | None = None,
        status: str | None = None,
        expires_after: datetime | None = None,
        page_size: int | None = None,
        page_offset: int | None = None,
    ) -> CertificatePage:
        body = _drop_none(
            {
                "certificateSerialNumber": serial_number,
                "name": name,
                "type": certificate_type,
                "status": status,
                "expiresAfter": _iso(expires_after) if expires_after else None,
            }
        )
        params = {"pageSize": page_size, "pageOffset": page_offset}
        return CertificatePage.from_json(
            self._post("/certificates/query", access_token, body, idempotent=True, params=params)
        )

    def revoke_certificate(
        self, access_token: AccessToken, serial_number: str, *, reason: str | None = None
    ) -> None:
        body = _drop_none({"revocationReason": reason})
        self._post(f"/certificates/{serial_number}/revoke", access_token, body, idempotent=False)

    # ------------------------------------------------------------------ permissions

    def grant_person_permissions(
        self,
        access_token: AccessToken,
        *,
        subject: Identifier,
        permissions: Sequence[str],
        description: str,
        subject_details: PersonSubjectDetails,
    ) -> str:
        """``POST /permissions/persons/grants`` → operation reference (poll its status)."""
        body = {
            "subjectIdentifier": subject.to_json(),
            "permissions": list(permissions),
            "description": description,
            "subjectDetails": subject_details.to_json(),
        }
        return self._operation("/permissions/persons/grants", access_token, body)

    def grant_entity_permissions(
        self,
        access_token: AccessToken,
        *,
        nip: str,
        permissions: Mapping[str, bool],
        description: str,
        full_name: str,
    ) -> str:
        """``POST /permissions/entities/grants``; ``permissions`` maps type → ``canDelegate``
        (``{"InvoiceRead": True}`` lets an office re-delegate to its staff, §4.4)."""
        body = {
            "subjectIdentifier": {"type": "Nip", "value": nip},
            "permissions": [
                {"type": kind, "canDelegate": can_delegate}
                for kind, can_delegate in permissions.items()
            ],
            "description": description,
            "subjectDetails": {"fullName": full_name},
        }
        return self._operation("/permissions/entities/grants", access_token, body)

    def grant_indirect_permissions(
        self,
        access_token: AccessToken,
        *,
        subject: Identifier,
        permissions: Sequence[str],
        description: str,
        subject_details: PersonSubjectDetails,
        target: Identifier | None = None,
    ) -> str:
        """``POST /permissions/indirect/grants``; ``target`` None or AllPartners = general."""
        body: dict[str, Any] = {
            "subjectIdentifier": subject.to_json(),
            "permissions": list(permissions),
            "description": description,
            "subjectDetails": subject_details.to_json(),
        }
        if target is not None:
            body["targetIdentifier"] = target.to_json()
        return self._operation("/permissions/indirect/grants", access_token, body)

    def grant_authorization(
        self,
        access_token: AccessToken,
        *,
        subject: Identifier,
        permission: str,
        description: str,
        full_name: str,
    ) -> str:
        """``POST /permissions/authorizations/grants`` (SelfInvoicing, TaxRepresentative...)."""
        body = {
            "subjectIdentifier": subject.to_json(),
            "permission": permission,
            "description": description,
            "subjectDetails": {"fullName": full_name},
        }
        return self._operation("/permissions/authorizations/grants", access_token, body)

    def _operation(self, path: str, token: AccessToken, body: Any) -> str:
        return str(self._post(path, token, body, idempotent=False)["referenceNumber"])

    def revoke_permission(self, access_token: AccessToken, permission_id: str) -> str:
        """``DELETE /permissions/common/grants/{id}`` → operation reference."""
        response = self._send(
            "DELETE",
            f"/permissions/common/grants/{permission_id}",
            idempotent=False,
            token=access_token,
        )
        return str(_json(response)["referenceNumber"])

    def revoke_authorization(self, access_token: AccessToken, permission_id: str) -> str:
        """``DELETE /permissions/authorizations/grants/{id}`` → operation reference."""
        response = self._send(
            "DELETE",
            f"/permissions/authorizations/grants/{permission_id}",
            idempotent=False,
            token=access_token,
        )
        return str(_json(response)["referenceNumber"])

    def get_permission_operation_status(
        self, access_token: AccessToken, reference_number: str
    ) -> StatusInfo:
        """``GET /permissions/operations/{ref}``: 100 pending, 200 effective, else failed."""
        data = self._get(f"/permissions/operations/{reference_number}", access_token)
        return StatusInfo.from_json(data["status"])

    def get_attachment_permission_status(self, access_token: AccessToken) -> bool:
        data = self._get("/permissions/attachments/status", access_token)
        return bool(data.get("isAttachmentAllowed"))

    def query_personal_grants(
        self,
        access_token: AccessToken,
        *,
        context: Identifier | None = None,
        target: Identifier | None = None,
        permission_types: Sequence[str] = (),
        state: str | None = None,
        page_offset: int = 0,
        page_size: int = 100,
    ) -> PermissionPage[PermissionGrant]:
        """``POST /permissions/query/personal/grants`` — my own permissions in this context."""
        body = _drop_none(
            {
                "contextIdentifier": context.to_json() if context else None,
                "targetIdentifier": target.to_json() if target else None,
                "permissionTypes": list(permission_types) or None,
                "permissionState": state,
            }
        )
        data = self._query(
            "/permissions/query/personal/grants", access_token, body, page_offset, page_size
        )
        return PermissionPage(
            tuple(PermissionGrant.from_json(i) for i in data["permissions"]), bool(data["hasMore"])
        )

    def query_person_grants(
        self,
        access_token: AccessToken,
        *,
        query_type: str = "PermissionsGrantedInCurrentContext",
        author: Identifier | None = None,
        authorized: Identifier | None = None,
        context: Identifier | None = None,
        target: Identifier | None = None,
        permission_types: Sequence[str] = (),
        state: str | None = None,
        page_offset: int = 0,
        page_size: int = 100,
    ) -> PermissionPage[PermissionGrant]:
        """``POST /permissions/query/persons/grants``; ``query_type`` is required by KSeF."""
        body = _drop_none(
            {
                "queryType": query_type,
                "authorIdentifier": author.to_json() if author else None,
                "authorizedIdentifier": authorized.to_json() if authorized else None,
                "contextIdentifier": context.to_json() if context else None,
                "targetIdentifier": target.to_json() if target else None,
                "permissionTypes": list(permission_types) or None,
                "permissionState": state,
            }
        )
        data = self._query(
            "/permissions/query/persons/grants", access_token, body, page_offset, page_size
        )
        return PermissionPage(
            tuple(PermissionGrant.from_json(i) for i in data["permissions"]), bool(data["hasMore"])
        )

    def query_entity_grants(
        self,
        access_token: AccessToken,
        *,
        context: Identifier | None = None,
        page_offset: int = 0,
        page_size: int = 100,
    ) -> PermissionPage[EntityPermissionGrant]:
        """``POST /permissions/query/entities/grants`` — which clients granted this context
        invoice rights (how an office discovers its clients, §4.4)."""
        body = _drop_none({"contextIdentifier": context.to_json() if context else None})
        data = self._query(
            "/permissions/query/entities/grants", access_token, body, page_offset, page_size
        )
        return PermissionPage(
            tuple(EntityPermissionGrant.from_json(i) for i in data["permissions"]),
            bool(data["hasMore"]),
        )

    def _query(
        self, path: str, token: AccessToken, body: Any, page_offset: int, page_size: int
    ) -> Any:
        params = {"pageOffset": page_offset, "pageSize": page_size}
        return self._post(path, token, body, idempotent=True, params=params)

    # ------------------------------------------------------------------ invoices

    def query_invoice_metadata(
        self,
        access_token: AccessToken,
        filters: InvoiceQueryFilters,
        *,
        page_offset: int = 0,
        page_size: int = 250,
        sort_order: str = "Asc",
    ) -> InvoiceMetadataPage:
        """One page of ``POST /invoices/query/metadata``."""
        params = {"pageOffset": page_offset, "pageSize": page_size, "sortOrder": sort_order}
        data = self._post(
            "/invoices/query/metadata",
            access_token,
            filters.to_json(),
            idempotent=True,
            params=params,
        )
        return InvoiceMetadataPage.from_json(data)

    def iter_invoice_metadata(
        self, access_token: AccessToken, filters: InvoiceQueryFilters, *, page_size: int = 250
    ) -> Iterator[InvoiceMetadata]:
        """Every invoice matching ``filters``, ascending, each KSeF number once.

        Pages with ``pageOffset`` while ``hasMore``; when KSeF reports ``isTruncated`` (the
        10,000-row cap per filter set) it restarts from the last record's date with offset 0
        (Gotcha 15). Records at the boundary repeat by design and are skipped.
        """
        seen: set[str] = set()
        current, offset = filters, 0
        while True:
            page = self.query_invoice_metadata(
                access_token, current, page_offset=offset, page_size=page_size, sort_order="Asc"
            )
            for invoice in page.invoices:
                if invoice.ksef_number not in seen:
                    seen.add(invoice.ksef_number)
                    yield invoice
            if not page.has_more:
                return
            if not page.is_truncated:
                offset += 1
                continue
            if not page.invoices:
                raise KsefError(
                    "metadata query is truncated but returned no records to resume from"
                )
            resume = _record_date(page.invoices[-1], current.date_type)
            if resume <= current.date_from:
                raise KsefError(
                    f"cannot resume the truncated metadata query: over 10,000 invoices share "
                    f"the date {resume.isoformat()}; narrow the filters"
                )
            current, offset = current.starting_at(resume), 0

    def download_invoice(self, access_token: AccessToken, ksef_number: str) -> DownloadedDocument:
        """``GET /invoices/ksef/{ksefNumber}``: the exact original bytes and their hash header.

        ``21165`` (processed but not yet available) is a :class:`BadRequestError`; retry later
        (Gotcha 17).
        """
        return self._download(f"/invoices/ksef/{ksef_number}", access_token)

    def start_invoice_export(
        self,
        access_token: AccessToken,
        filters: InvoiceQueryFilters,
        *,
        public_key: PublicKeyCertificate,
        only_metadata: bool = False,
        compression: str | None = None,
    ) -> InvoiceExport:
        """``POST /invoices/exports`` with a fresh AES key encrypted for the MF
        ``SymmetricKeyEncryption`` key; keep the returned :class:`InvoiceExport` to decrypt."""
        key, iv = generate_symmetric_key()
        body: dict[str, Any] = {
            "encryption": _encryption_info(key, iv, public_key),
            "filters": filters.to_json(),
            "onlyMetadata": only_metadata,
        }
        if compression is not None:
            body["compressionType"] = compression
        data = self._post("/invoices/exports", access_token, body, idempotent=False)
        return InvoiceExport(str(data["referenceNumber"]), EncryptionMaterial(key, iv))

    def get_invoice_export_status(
        self, access_token: AccessToken, reference_number: str
    ) -> ExportStatus:
        return ExportStatus.from_json(
            self._get(f"/invoices/exports/{reference_number}", access_token)
        )

    def wait_for_invoice_export(
        self,
        access_token: AccessToken,
        reference_number: str,
        *,
        poll_interval: float = 2.0,
        timeout: float = 600.0,
    ) -> InvoicePackage:
        """Poll the export until 200 and return its package; raise :class:`ExportFailed`."""
        waited = 0.0
        while True:
            status = self.get_invoice_export_status(access_token, reference_number)
            code = status.status.code
            if code == 200 and status.package is not None:
                return status.package
            if code != 100:
                raise ExportFailed(
                    code=code,
                    description=status.status.description,
                    details=status.status.details,
                    reference_number=reference_number,
                )
            if waited >= timeout:
                raise OperationTimeout(f"export {reference_number} still running after {timeout}s")
            self._sleep(poll_interval)
            waited += poll_interval

    def download_export_package(
        self, package: InvoicePackage, encryption: EncryptionMaterial
    ) -> ExportedPackage:
        """Download every part from its pre-signed URL (no bearer token, Gotcha 18), check
        hashes, decrypt each part, join them, unpack (ZIP or tar.gz) and read
        ``_metadata.json``."""
        plain = bytearray()
        for part in sorted(package.parts, key=lambda p: p.ordinal_number):
            response = self._send(
                part.method.upper(),
                f"/<export part {part.ordinal_number}>",
                idempotent=True,
                url=part.url,
                accept="application/octet-stream",
            )
            encrypted = response.content
            if sha256_b64(encrypted) != part.encrypted_part_hash:
                raise KsefError(f"export part {part.ordinal_number}: encrypted hash mismatch")
            decrypted = aes_decrypt(encrypted, encryption.key, encryption.iv)
            if sha256_b64(decrypted) != part.part_hash:
                raise KsefError(
                    f"export part {part.ordinal_number}: hash mismatch after decryption"
                )
            plain += decrypted
        files = _unpack(bytes(plain))
        metadata_json = files.get("_metadata.json")
        metadata: tuple[InvoiceMetadata, ...] = ()
        if metadata_json is not None:
            document = json.loads(metadata_json, parse_float=Decimal)
            metadata = tuple(InvoiceMetadata.from_json(i) for i in document.get("invoices", []))
        return ExportedPackage(files=files, metadata=metadata)

    # ------------------------------------------------------------------ online sessions

    def open_online_session(
        self,
        access_token: AccessToken,
        *,
        public_key: PublicKeyCertificate,
        form_code: Mapping[str, str] = FA3_FORM_CODE,
    ) -> OnlineSession:
        """``POST /sessions/online`` with a fresh AES key (encrypted for the MF key)."""
        key, iv = generate_symmetric_key()
        body = {"formCode": dict(form_code), "encryption": _encryption_info(key, iv, public_key)}
        data = self._post("/sessions/online", access_token, body, idempotent=False)
        return OnlineSession(
            reference_number=str(data["referenceNumber"]),
            valid_until=parse_datetime(data["validUntil"]),
            encryption=EncryptionMaterial(key, iv),
        )

    def send_invoice(
        self,
        access_token: AccessToken,
        session: OnlineSession,
        invoice_xml: bytes,
        *,
        offline_mode: bool = False,
        hash_of_corrected_invoice: str | None = None,
    ) -> SentInvoice:
        """``POST /sessions/online/{ref}/invoices``: encrypt and send the exact bytes."""
        encrypted = aes_encrypt(invoice_xml, session.encryption.key, session.encryption.iv)
        invoice_hash = sha256_b64(invoice_xml)
        body: dict[str, Any] = {
            "invoiceHash": invoice_hash,
            "invoiceSize": len(invoice_xml),
            "encryptedInvoiceHash": sha256_b64(encrypted),
            "encryptedInvoiceSize": len(encrypted),
            "encryptedInvoiceContent": base64.b64encode(encrypted).decode("ascii"),
            "offlineMode": offline_mode,
        }
        if hash_of_corrected_invoice is not None:
            body["hashOfCorrectedInvoice"] = hash_of_corrected_invoice
        path = f"/sessions/online/{session.reference_number}/invoices"
        data = self._post(path, access_token, body, idempotent=False)
        return SentInvoice(str(data["referenceNumber"]), invoice_hash)

    def close_online_session(self, access_token: AccessToken, reference_number: str) -> None:
        self._post(
            f"/sessions/online/{reference_number}/close", access_token, None, idempotent=False
        )

    def get_session_status(self, access_token: AccessToken, reference_number: str) -> SessionStatus:
        return SessionStatus.from_json(self._get(f"/sessions/{reference_number}", access_token))

    def get_session_invoice_status(
        self, access_token: AccessToken, reference_number: str, invoice_reference_number: str
    ) -> SessionInvoiceStatus:
        path = f"/sessions/{reference_number}/invoices/{invoice_reference_number}"
        return SessionInvoiceStatus.from_json(self._get(path, access_token))

    def download_invoice_upo(
        self, access_token: AccessToken, reference_number: str, invoice_reference_number: str
    ) -> DownloadedDocument:
        path = f"/sessions/{reference_number}/invoices/{invoice_reference_number}/upo"
        return self._download(path, access_token)

    def download_session_upo(
        self, access_token: AccessToken, reference_number: str, upo_reference_number: str
    ) -> DownloadedDocument:
        return self._download(
            f"/sessions/{reference_number}/upo/{upo_reference_number}", access_token
        )

    # ------------------------------------------------------------------ limits

    def get_context_limits(self, access_token: AccessToken) -> ContextLimits:
        return ContextLimits.from_json(self._get("/limits/context", access_token))

    def get_subject_limits(self, access_token: AccessToken) -> SubjectLimits:
        return SubjectLimits.from_json(self._get("/limits/subject", access_token))

    def get_rate_limits(self, access_token: AccessToken) -> dict[str, RateLimitValues]:
        """``GET /rate-limits``: the effective limits per group (``invoiceMetadata``...)."""
        data = self._get("/rate-limits", access_token)
        return {
            group: RateLimitValues.from_json(values)
            for group, values in data.items()
            if isinstance(values, dict)
        }


def _encryption_info(key: bytes, iv: bytes, public_key: PublicKeyCertificate) -> dict[str, str]:
    return {
        "encryptedSymmetricKey": encrypt_symmetric_key(key, public_key.certificate_der),
        "initializationVector": base64.b64encode(iv).decode("ascii"),
        "publicKeyId": public_key.public_key_id,
    }


def _record_date(invoice: InvoiceMetadata, date_type: DateType | str) -> datetime:
    """The date of ``invoice`` that the query's ``dateType`` filters on."""
    kind = str(date_type)
    if kind == DateType.PERMANENT_STORAGE and invoice.permanent_storage_date is not None:
        return invoice.permanent_storage_date
    if kind == DateType.INVOICING:
        return invoice.invoicing_date
    if kind == DateType.ISSUE:
        # An issue date is a Polish calendar day: resume from its local midnight.
        return datetime.combine(invoice.issue_date, datetime.min.time(), _WARSAW)
    return invoice.acquisition_date


def _unpack(archive: bytes) -> dict[str, bytes]:
    """Files of a ZIP or tar.gz export package, read in memory (nothing touches the disk)."""
    if archive[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(archive)) as package:
            members = [i for i in package.infolist() if not i.is_dir()]
            if sum(i.file_size for i in members) > _MAX_PACKAGE_BYTES:
                raise KsefError("export package unpacks to more than 2 GB")
            return {i.filename: package.read(i) for i in members}
    if archive[:2] == b"\x1f\x8b":
        files: dict[str, bytes] = {}
        total = 0
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as package:
            for member in package:
                if not member.isfile():
                    continue
                total += member.size
                if total > _MAX_PACKAGE_BYTES:
                    raise KsefError("export package unpacks to more than 2 GB")
                extracted = package.extractfile(member)
                if extracted is not None:
                    files[member.name] = extracted.read()
        return files
    raise KsefError("export package is neither ZIP nor tar.gz")
