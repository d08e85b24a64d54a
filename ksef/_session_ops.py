"""Session operations of :class:`ksef.client.KsefClient`: online sessions, batch sessions
(open with the part list, upload the encrypted parts, close, follow), per-invoice statuses,
UPO, and the limits that bound sessions (``/limits``, ``/rate-limits``)."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Final

import httpx

from ksef._http import (
    AccessToken,
    KsefTransport,
    encryption_info,
    iso_datetime,
    parse_retry_after,
)
from ksef.batch import (
    MAX_PART_BYTES,
    BatchPackage,
    BatchPart,
    BatchPartUploadError,
    BatchResult,
    BatchSessionFailed,
    build_batch_package,
)
from ksef.crypto import PublicKeyCertificate, aes_encrypt, generate_symmetric_key, sha256_b64
from ksef.errors import OperationTimeout
from ksef.models import (
    BatchSession,
    ContextLimits,
    DownloadedDocument,
    EncryptionMaterial,
    OnlineSession,
    PartUploadRequest,
    RateLimitValues,
    SentInvoice,
    SessionInvoicePage,
    SessionInvoiceStatus,
    SessionPage,
    SessionStatus,
    SubjectLimits,
    parse_datetime,
)

__all__ = ["FA3_FORM_CODE", "SessionOperations"]

logger = logging.getLogger("ksef.client")

# Session codes that mean "not finished yet": 100 open/started, 150 batch processing,
# 170 online closed and its UPO being made.
_IN_PROGRESS = frozenset({100, 150, 170})
_UPLOADED = frozenset({200, 201})

FA3_FORM_CODE: Final[Mapping[str, str]] = {
    "systemCode": "FA (3)",
    "schemaVersion": "1-0E",
    "value": "FA",
}


class SessionOperations(KsefTransport):
    def open_online_session(
        self,
        access_token: AccessToken,
        *,
        public_key: PublicKeyCertificate,
        form_code: Mapping[str, str] = FA3_FORM_CODE,
    ) -> OnlineSession:
        """``POST /sessions/online`` with a fresh AES key (encrypted for the MF key)."""
        key, iv = generate_symmetric_key()
        body = {"formCode": dict(form_code), "encryption": encryption_info(key, iv, public_key)}
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

    def download_invoice_upo_by_ksef_number(
        self, access_token: AccessToken, reference_number: str, ksef_number: str
    ) -> DownloadedDocument:
        path = f"/sessions/{reference_number}/invoices/ksef/{ksef_number}/upo"
        return self._download(path, access_token)

    def list_session_invoices(
        self,
        access_token: AccessToken,
        reference_number: str,
        *,
        failed_only: bool = False,
        page_size: int = 100,
        continuation_token: str | None = None,
    ) -> SessionInvoicePage:
        """One page of ``GET /sessions/{ref}/invoices`` (or ``…/failed``); the next page is
        asked for with the page's token in the ``x-continuation-token`` header."""
        path = f"/sessions/{reference_number}/invoices" + ("/failed" if failed_only else "")
        headers = {"x-continuation-token": continuation_token} if continuation_token else None
        data = self._get(path, access_token, params={"pageSize": page_size}, headers=headers)
        return SessionInvoicePage.from_json(data)

    def iter_session_invoices(
        self,
        access_token: AccessToken,
        reference_number: str,
        *,
        failed_only: bool = False,
        page_size: int = 100,
    ) -> Iterator[SessionInvoiceStatus]:
        """Every invoice status of a session, page after page (10..1000 per page)."""
        token: str | None = None
        while True:
            page = self.list_session_invoices(
                access_token,
                reference_number,
                failed_only=failed_only,
                page_size=page_size,
                continuation_token=token,
            )
            yield from page.invoices
            token = page.continuation_token
            if not token:
                return

    def list_sessions(
        self,
        access_token: AccessToken,
        session_type: str,
        *,
        statuses: Iterable[str] = (),
        date_created_from: datetime | None = None,
        page_size: int = 100,
        continuation_token: str | None = None,
    ) -> SessionPage:
        """One page of ``GET /sessions?sessionType=Online|Batch`` (newest first), e.g. to
        find a session whose opening timed out before its reference number came back.
        ``statuses``: ``InProgress``, ``Succeeded``, ``Failed``, ``Cancelled``."""
        params: dict[str, Any] = {
            "sessionType": session_type,
            "statuses": list(statuses) or None,
            "dateCreatedFrom": iso_datetime(date_created_from) if date_created_from else None,
            "pageSize": page_size,
        }
        headers = {"x-continuation-token": continuation_token} if continuation_token else None
        return SessionPage.from_json(
            self._get("/sessions", access_token, params=params, headers=headers)
        )

    def wait_for_session(
        self,
        access_token: AccessToken,
        reference_number: str,
        *,
        poll_interval: float = 2.0,
        timeout: float = 900.0,
    ) -> SessionStatus:
        """Poll ``GET /sessions/{ref}`` until the session leaves 100/150/170; return the
        final status (200 or an error code — the caller decides what an error means).
        Raises :class:`~ksef.errors.OperationTimeout` after ``timeout`` seconds."""
        waited = 0.0
        while True:
            status = self.get_session_status(access_token, reference_number)
            if status.status.code not in _IN_PROGRESS:
                return status
            if waited >= timeout:
                raise OperationTimeout(
                    f"session {reference_number} still in status {status.status.code} after "
                    f"{timeout:g}s"
                )
            self._sleep(poll_interval)
            waited += poll_interval

    # ------------------------------------------------------------------ batch sessions

    def open_batch_session(
        self,
        access_token: AccessToken,
        package: BatchPackage,
        *,
        public_key: PublicKeyCertificate,
        form_code: Mapping[str, str] = FA3_FORM_CODE,
        offline_mode: bool = False,
    ) -> BatchSession:
        """``POST /sessions/batch`` declaring the package: the plain archive's size and
        hash, every encrypted part's size and hash, the package's AES key sealed for the
        Ministry key. ``offline_mode`` declares every invoice of the batch offline."""
        encryption = package.encryption
        body = {
            "formCode": dict(form_code),
            "batchFile": package.batch_file_json(),
            "encryption": encryption_info(encryption.key, encryption.iv, public_key),
            "offlineMode": offline_mode,
        }
        data = self._post("/sessions/batch", access_token, body, idempotent=False)
        return BatchSession.from_json(data)

    def upload_batch_parts(self, session: BatchSession, package: BatchPackage) -> None:
        """Upload every part to its pre-signed link, streamed from disk. A part upload
        overwrites the same blob with the same bytes, so 5xx and broken connections are
        retried; 403 (upload window over, bad link) raises :class:`BatchPartUploadError`."""
        parts = {part.ordinal_number: part for part in package.parts}
        for request in session.part_upload_requests:
            part = parts.get(request.ordinal_number)
            if part is None:
                raise BatchPartUploadError(
                    "KSeF asked for a part the package does not have",
                    ordinal_number=request.ordinal_number,
                    status_code=None,
                )
            self._upload_part(request, part)

    def _upload_part(self, request: PartUploadRequest, part: BatchPart) -> None:
        # Only the headers KSeF gave (never the bearer token, Gotcha 18) plus the length:
        # blob storage refuses chunked uploads, and with Content-Length httpx streams the
        # file chunks as they are read.
        headers = {**request.headers, "Content-Length": str(part.size)}
        failures = 0
        while True:
            started = time.monotonic()
            try:
                response = self._http.request(
                    request.method,
                    request.url,
                    content=part.chunks(),
                    headers=headers,
                    timeout=self._timeout,
                )
            except httpx.TransportError as exc:
                if failures >= self.max_retries:
                    raise BatchPartUploadError(
                        f"{type(exc).__name__}: {exc}",
                        ordinal_number=part.ordinal_number,
                        status_code=None,
                    ) from None
                failures += 1
                self._sleep(self._backoff(failures - 1))
                continue
            status = response.status_code
            logger.debug(
                "%s batch part %s -> %s in %.0f ms",
                request.method,
                part.ordinal_number,
                status,
                (time.monotonic() - started) * 1000,
            )
            if status in _UPLOADED:
                return
            if status >= 500 and failures < self.max_retries:
                retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
                wait = max(self._backoff(failures), retry_after or 0.0)
                failures += 1
                if wait <= self.max_retry_after:
                    self._sleep(wait)
                    continue
            raise BatchPartUploadError(
                f"upload answered HTTP {status}",
                ordinal_number=part.ordinal_number,
                status_code=status,
            )

    def close_batch_session(self, access_token: AccessToken, reference_number: str) -> None:
        """``POST /sessions/batch/{ref}/close``: processing starts (21157 a part's size
        differs, 21205 a part is missing, 21208 the upload window is over)."""
        self._post(
            f"/sessions/batch/{reference_number}/close", access_token, None, idempotent=False
        )

    def send_invoice_batch(
        self,
        access_token: AccessToken,
        files: Iterable[tuple[str, bytes]],
        *,
        public_key: PublicKeyCertificate,
        offline_mode: bool = False,
        part_size: int = MAX_PART_BYTES,
        directory: str | None = None,
        poll_interval: float = 2.0,
        timeout: float = 900.0,
        page_size: int = 1000,
    ) -> BatchResult:
        """The whole batch in one call: build and encrypt the package on disk, open,
        upload, close, wait for processing and read every invoice's status. Raises
        :class:`BatchSessionFailed` for a session-level error (405, 415, 420, 430, 435,
        440, 500); 445 (no valid invoice) returns, so each rejection can be shown.

        For idempotent sending (look the session up after an ambiguous failure) call the
        steps yourself and keep the reference number from :meth:`open_batch_session`."""
        with build_batch_package(files, part_size=part_size, directory=directory) as package:
            session = self.open_batch_session(
                access_token, package, public_key=public_key, offline_mode=offline_mode
            )
            self.upload_batch_parts(session, package)
        reference = session.reference_number
        self.close_batch_session(access_token, reference)
        status = self.wait_for_session(
            access_token, reference, poll_interval=poll_interval, timeout=timeout
        )
        if status.status.code not in (200, 445):
            raise BatchSessionFailed(
                code=status.status.code,
                description=status.status.description,
                details=status.status.details,
                reference_number=reference,
            )
        invoices = tuple(self.iter_session_invoices(access_token, reference, page_size=page_size))
        return BatchResult(reference, status, invoices)

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
