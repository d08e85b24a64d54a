"""Invoice metadata queries and exports (digest §5.6, §8)."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ksef.models._common import (
    EncryptionMaterial,
    Identifier,
    StatusInfo,
    _date,
    _dec,
    _dt,
    _isoformat,
    _list,
    _redact_url,
    _req_dt,
    _str,
)


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
