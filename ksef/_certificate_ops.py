"""KSeF certificate operations of :class:`ksef.client.KsefClient` (``/certificates``)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime

from ksef._http import AccessToken, KsefTransport, drop_none, iso_datetime
from ksef.models import (
    CertificateEnrollment,
    CertificateEnrollmentData,
    CertificateEnrollmentStatus,
    CertificateLimits,
    CertificatePage,
    RetrievedCertificate,
)

__all__ = ["CertificateOperations"]


class CertificateOperations(KsefTransport):
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
        body = drop_none(
            {
                "certificateName": name,
                "certificateType": certificate_type,
                "csr": base64.b64encode(csr_der).decode("ascii"),
                "validFrom": iso_datetime(valid_from) if valid_from else None,
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
        body = drop_none(
            {
                "certificateSerialNumber": serial_number,
                "name": name,
                "type": certificate_type,
                "status": status,
                "expiresAfter": iso_datetime(expires_after) if expires_after else None,
            }
        )
        params = {"pageSize": page_size, "pageOffset": page_offset}
        return CertificatePage.from_json(
            self._post("/certificates/query", access_token, body, idempotent=True, params=params)
        )

    def revoke_certificate(
        self, access_token: AccessToken, serial_number: str, *, reason: str | None = None
    ) -> None:
        body = drop_none({"revocationReason": reason})
        self._post(f"/certificates/{serial_number}/revoke", access_token, body, idempotent=False)
