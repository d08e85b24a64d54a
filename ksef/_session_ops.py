"""Online-session operations of :class:`ksef.client.KsefClient` (sending invoices, UPO)
and the limits that bound those sessions (``/limits``, ``/rate-limits``)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Final

from ksef._http import AccessToken, KsefTransport, encryption_info
from ksef.crypto import PublicKeyCertificate, aes_encrypt, generate_symmetric_key, sha256_b64
from ksef.models import (
    ContextLimits,
    DownloadedDocument,
    EncryptionMaterial,
    OnlineSession,
    RateLimitValues,
    SentInvoice,
    SessionInvoiceStatus,
    SessionStatus,
    SubjectLimits,
    parse_datetime,
)

__all__ = ["FA3_FORM_CODE", "SessionOperations"]

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
