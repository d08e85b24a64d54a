"""Online and batch sessions (sending invoices, UPO) and the limits that bound them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ksef.models._common import EncryptionMaterial, StatusInfo, _dt, _list, _req_dt, _str


@dataclass(frozen=True, slots=True)
class OnlineSession:
    """An open online session and the key every invoice sent in it is encrypted with."""

    reference_number: str
    valid_until: datetime
    encryption: EncryptionMaterial


@dataclass(frozen=True, slots=True)
class PartUploadRequest:
    """Where and how to upload one part of a batch: the given method to the pre-signed
    URL with exactly the given headers, and no token (digest §5.4)."""

    ordinal_number: int
    method: str
    url: str = field(repr=False)  # carries its credential (SAS signature) in the query
    headers: Mapping[str, str]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PartUploadRequest:
        headers = data.get("headers") or {}
        return cls(
            ordinal_number=int(data["ordinalNumber"]),
            method=str(data["method"]),
            url=str(data["url"]),
            headers={str(k): str(v) for k, v in headers.items() if v is not None},
        )


@dataclass(frozen=True, slots=True)
class BatchSession:
    """An opened batch session: its reference and one upload request per declared part."""

    reference_number: str
    part_upload_requests: tuple[PartUploadRequest, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BatchSession:
        return cls(
            reference_number=str(data["referenceNumber"]),
            part_upload_requests=tuple(
                PartUploadRequest.from_json(item) for item in _list(data["partUploadRequests"])
            ),
        )


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """One row of ``GET /sessions``."""

    reference_number: str
    status: StatusInfo
    date_created: datetime
    date_updated: datetime
    valid_until: datetime | None
    total_invoice_count: int | None
    successful_invoice_count: int | None
    failed_invoice_count: int | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionSummary:
        return cls(
            reference_number=str(data["referenceNumber"]),
            status=StatusInfo.from_json(data["status"]),
            date_created=_req_dt(data, "dateCreated"),
            date_updated=_req_dt(data, "dateUpdated"),
            valid_until=_dt(data.get("validUntil")),
            total_invoice_count=data.get("totalInvoiceCount"),
            successful_invoice_count=data.get("successfulInvoiceCount"),
            failed_invoice_count=data.get("failedInvoiceCount"),
        )


@dataclass(frozen=True, slots=True)
class SessionPage:
    """One page of ``GET /sessions``."""

    sessions: tuple[SessionSummary, ...]
    continuation_token: str | None = field(repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionPage:
        return cls(
            sessions=tuple(SessionSummary.from_json(s) for s in _list(data["sessions"])),
            continuation_token=_str(data.get("continuationToken")) or None,
        )


@dataclass(frozen=True, slots=True)
class SessionInvoicePage:
    """One page of ``GET /sessions/{ref}/invoices`` (or ``…/failed``)."""

    invoices: tuple[SessionInvoiceStatus, ...]
    continuation_token: str | None = field(repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionInvoicePage:
        return cls(
            invoices=tuple(SessionInvoiceStatus.from_json(i) for i in _list(data["invoices"])),
            continuation_token=_str(data.get("continuationToken")) or None,
        )


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
