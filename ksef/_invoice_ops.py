"""Invoice download operations of :class:`ksef.client.KsefClient`: metadata queries,
single invoices and encrypted exports (digest §5.6, §8)."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import httpx

from ksef._export_reader import (
    DEFAULT_MAX_MEMBER_BYTES,
    DEFAULT_MAX_UNPACKED_BYTES,
    ExportReader,
    PartSink,
)
from ksef._http import AccessToken, KsefTransport, encryption_info
from ksef.crypto import PublicKeyCertificate, generate_symmetric_key
from ksef.errors import (
    ExportDownloadError,
    ExportExpired,
    ExportFailed,
    ExportLinkExpired,
    KsefError,
    KsefTransportError,
    OperationTimeout,
    ServerError,
)
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
    InvoicePackagePart,
    InvoiceQueryFilters,
)

__all__ = ["InvoiceOperations"]

logger = logging.getLogger("ksef.client")

_WARSAW = ZoneInfo("Europe/Warsaw")
_EXPORT_EXPIRED = 210
# What Azure Blob Storage answers for a SAS link that expired, was revoked or whose blob
# is gone: only fresh links from a new status call help.
_LINK_GONE = frozenset({403, 404, 410})


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
        """Poll the export until 200 and return its package; raise :class:`ExportExpired`
        for 210 (start again from the same ``from``) and :class:`ExportFailed` otherwise."""
        waited = 0.0
        while True:
            status = self.get_invoice_export_status(access_token, reference_number)
            code = status.status.code
            if code == 200 and status.package is not None:
                return status.package
            if code == _EXPORT_EXPIRED:
                raise ExportExpired(
                    code=code,
                    description=status.status.description,
                    details=status.status.details,
                    reference_number=reference_number,
                )
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

    def open_export_package(
        self,
        package: InvoicePackage,
        encryption: EncryptionMaterial,
        *,
        directory: str | Path | None = None,
        max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES,
        max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
    ) -> ExportReader:
        """Download, verify and decrypt every part into one temporary archive on disk and
        return an :class:`ExportReader` over it (use it as a context manager)::

            with client.open_export_package(package, export.encryption) as reader:
                rows = {row.ksef_number: row for row in reader.metadata}
                for ksef_number, xml in reader.iter_invoices():
                    store(rows[ksef_number], xml)

        Each part is streamed from its pre-signed URL without the bearer token (Gotcha 18),
        hashed and decrypted on the fly, so memory stays at a few buffers whatever the
        package size. 5xx answers and network errors are retried like any idempotent GET.
        Raises :class:`ExportLinkExpired` (ask for the export status again: fresh links),
        :class:`ExportPartCorrupted` (download again), :class:`ExportPackageInvalid`.
        The temporary files live in ``directory`` (default: the system temp dir) and are
        deleted when the reader is closed, or at once if this call fails.
        """
        workdir = tempfile.TemporaryDirectory(prefix="ksef-export-", dir=directory)
        try:
            archive_path = Path(workdir.name) / "package"
            with archive_path.open("w+b") as archive:
                for part in sorted(package.parts, key=lambda p: p.ordinal_number):
                    self._fetch_export_part(part, encryption, archive)
            return ExportReader(
                package,
                workdir,
                archive_path,
                max_unpacked_bytes=max_unpacked_bytes,
                max_member_bytes=max_member_bytes,
            )
        except BaseException:
            workdir.cleanup()
            raise

    def download_export_package(
        self, package: InvoicePackage, encryption: EncryptionMaterial
    ) -> ExportedPackage:
        """The whole package in memory: every file by name plus ``_metadata.json`` parsed.
        Fine for small packages; the sync engine uses :meth:`open_export_package`."""
        with self.open_export_package(package, encryption) as reader:
            files = dict(reader.iter_files())
            return ExportedPackage(files=files, metadata=reader.metadata)

    def _fetch_export_part(
        self, part: InvoicePackagePart, encryption: EncryptionMaterial, archive: IO[bytes]
    ) -> None:
        """Append the decrypted part to ``archive``; after a failed attempt the archive is
        cut back to where the part began, so a retry starts clean."""
        label = f"/<export part {part.ordinal_number}>"  # the URL's query is a credential
        if part.expiration_date <= self._clock():
            raise ExportLinkExpired(
                f"the link expired at {part.expiration_date.isoformat()}; "
                "ask for the export status again for fresh links",
                ordinal_number=part.ordinal_number,
            )
        start = archive.tell()
        failures = 0
        while True:
            archive.seek(start)
            archive.truncate()
            try:
                self._stream_export_part(part, encryption, archive, label)
                return
            except (httpx.TransportError, ServerError) as exc:
                if failures >= self.max_retries:
                    if isinstance(exc, ServerError):
                        raise
                    raise KsefTransportError(
                        f"{type(exc).__name__}: {exc}", method=part.method.upper(), path=label
                    ) from None
                delay = self._backoff(failures)
                failures += 1
                logger.info("%s: %s; retry in %.1fs", label, type(exc).__name__, delay)
                self._sleep(delay)

    def _stream_export_part(
        self,
        part: InvoicePackagePart,
        encryption: EncryptionMaterial,
        archive: IO[bytes],
        label: str,
    ) -> None:
        method = part.method.upper()
        started = time.monotonic()
        headers = {"Accept": "application/octet-stream"}  # and no Authorization (Gotcha 18)
        with self._http.stream(method, part.url, headers=headers, timeout=self._timeout) as reply:
            status = reply.status_code
            if status in _LINK_GONE:
                raise ExportLinkExpired(
                    f"the link answered HTTP {status}; ask for the export status again for "
                    "fresh links",
                    ordinal_number=part.ordinal_number,
                    status_code=status,
                )
            if status >= 500:
                raise ServerError(status_code=status, method=method, path=label)
            if status >= 400:
                raise ExportDownloadError(
                    f"the link answered HTTP {status}", ordinal_number=part.ordinal_number
                )
            sink = PartSink(part, encryption, archive)
            for chunk in reply.iter_bytes():
                sink.feed(chunk)
        sink.verify()
        logger.debug(
            "%s %s -> %s, %d bytes in %.0f ms",
            method,
            label,
            status,
            sink.encrypted_size,
            (time.monotonic() - started) * 1000,
        )


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
