"""Invoice download operations of :class:`ksef.client.KsefClient`: metadata queries,
single invoices and encrypted exports (digest §5.6, §8)."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ksef._http import AccessToken, KsefTransport, encryption_info
from ksef.crypto import PublicKeyCertificate, aes_decrypt, generate_symmetric_key, sha256_b64
from ksef.errors import ExportFailed, KsefError, OperationTimeout
from ksef.models import (
    DateType,
    DownloadedDocument,
    EncryptionMaterial,
    ExportedPackage,
    ExportStatus,
    InvoiceExport,
    InvoiceMetadata,
    InvoiceMetadataPage,
    InvoicePackage,
    InvoiceQueryFilters,
)

__all__ = ["InvoiceOperations"]

_WARSAW = ZoneInfo("Europe/Warsaw")
_MAX_PACKAGE_BYTES = 2 * 1024**3  # an export package is at most 1 GB compressed (§8)


class InvoiceOperations(KsefTransport):
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
            "encryption": encryption_info(key, iv, public_key),
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
