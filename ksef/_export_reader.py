"""Streaming export packages (digest §5.6, Gotcha 18).

A package of up to 10,000 invoices is up to 1 GB compressed, so nothing here holds a part
or the archive in memory:

* :class:`PartSink` takes the encrypted bytes of one part as they arrive, hashes them,
  decrypts them (AES-256-CBC, PKCS#7, the IV sent separately — never prefixed) with
  ``cryptography``'s incremental ``update``/``finalize`` and appends the plain bytes to one
  temporary archive file while hashing those too; :meth:`PartSink.verify` then checks both
  sizes and hashes against the status call's ``InvoicePackagePart``.
* :class:`ExportReader` opens that archive (ZIP or tar.gz, told apart by its magic bytes)
  and yields one member at a time, refusing members or totals beyond the caps (a hostile or
  broken archive must not unpack to more than the disk or memory can take).

:meth:`ksef.client.KsefClient.open_export_package` does the downloading and hands back the
reader; the reader deletes its temporary directory on :meth:`ExportReader.close`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Literal, Self

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ksef.crypto import AES_IV_BYTES, AES_KEY_BYTES
from ksef.errors import ExportPackageInvalid, ExportPartCorrupted
from ksef.models import EncryptionMaterial, InvoiceMetadata, InvoicePackage, InvoicePackagePart

__all__ = [
    "DEFAULT_MAX_MEMBER_BYTES",
    "DEFAULT_MAX_UNPACKED_BYTES",
    "METADATA_FILE",
    "ExportReader",
    "PartSink",
]

METADATA_FILE: Final = "_metadata.json"
# A package is at most 1 GB compressed (§8); XML compresses well, but twice that unpacked
# is already far beyond 10,000 invoices of at most 3 MB... of realistic size.
DEFAULT_MAX_UNPACKED_BYTES: Final = 2 * 1024**3
# An invoice is at most 3 MB with attachments (§8); _metadata.json of 10,000 rows is a
# few tens of MB. One member is read into memory whole, so this also bounds memory.
DEFAULT_MAX_MEMBER_BYTES: Final = 64 * 1024**2
# Encrypted input is cut into slices of this size before decryption, so a transport that
# delivers a whole part as one chunk (in-process tests) does not double it in memory.
SLICE_BYTES: Final = 256 * 1024

Compression = Literal["Zip", "TarGz"]


def _b64_digest(hasher: Any) -> str:
    return base64.b64encode(hasher.digest()).decode("ascii")


class PartSink:
    """Receives one encrypted part chunk by chunk and appends its plain bytes to ``out``."""

    def __init__(self, part: InvoicePackagePart, encryption: EncryptionMaterial, out: IO[bytes]):
        if len(encryption.key) != AES_KEY_BYTES or len(encryption.iv) != AES_IV_BYTES:
            raise ValueError("the export key must be 32 bytes and the IV 16 bytes")
        self.part = part
        self._out = out
        cipher = Cipher(algorithms.AES(encryption.key), modes.CBC(encryption.iv))
        self._decryptor = cipher.decryptor()
        self._unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
        self._encrypted_hash = hashlib.sha256()
        self._plain_hash = hashlib.sha256()
        self.encrypted_size = 0
        self.plain_size = 0

    def feed(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        for start in range(0, len(view), SLICE_BYTES):
            piece = view[start : start + SLICE_BYTES]
            self.encrypted_size += len(piece)
            if self.encrypted_size > self.part.encrypted_part_size:
                raise self._corrupted(
                    f"more than the announced {self.part.encrypted_part_size} bytes arrived"
                )
            self._encrypted_hash.update(piece)
            self._write(self._unpadder.update(self._decryptor.update(piece)))

    def verify(self) -> None:
        """Finish decryption and check sizes and hashes; raise :class:`ExportPartCorrupted`."""
        part = self.part
        if self.encrypted_size != part.encrypted_part_size:
            raise self._corrupted(
                f"truncated: {self.encrypted_size} of {part.encrypted_part_size} bytes arrived"
            )
        if _b64_digest(self._encrypted_hash) != part.encrypted_part_hash:
            raise self._corrupted("encrypted hash mismatch (the bytes were damaged in transit)")
        try:
            tail = self._decryptor.finalize()
            self._write(self._unpadder.update(tail) + self._unpadder.finalize())
        except ValueError:
            raise self._corrupted("it does not decrypt: bad padding (wrong key or IV?)") from None
        if self.plain_size != part.part_size or _b64_digest(self._plain_hash) != part.part_hash:
            raise self._corrupted("hash mismatch after decryption")

    def _write(self, data: bytes) -> None:
        if data:
            self._plain_hash.update(data)
            self.plain_size += len(data)
            self._out.write(data)

    def _corrupted(self, message: str) -> ExportPartCorrupted:
        return ExportPartCorrupted(message, ordinal_number=self.part.ordinal_number)


class ExportReader:
    """A downloaded, verified and decrypted export package on disk.

    ``metadata`` is the parsed ``_metadata.json``; :meth:`iter_invoices` yields
    ``(ksef_number, xml_bytes)`` one member at a time, so memory stays at one invoice plus
    buffers whatever the package size. Use it as a context manager: the temporary
    directory is deleted on exit, also after an error.
    """

    def __init__(
        self,
        package: InvoicePackage,
        workdir: tempfile.TemporaryDirectory[str],
        archive_path: Path,
        *,
        max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES,
        max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
    ) -> None:
        self.package = package
        self.archive_path = archive_path
        self.max_unpacked_bytes = max_unpacked_bytes
        self.max_member_bytes = max_member_bytes
        self._workdir: tempfile.TemporaryDirectory[str] | None = workdir
        self._metadata: tuple[InvoiceMetadata, ...] | None = None
        self._metadata_rows: tuple[dict[str, Any], ...] = ()
        # A package without parts (nothing matched) has no archive at all.
        self._empty = not package.parts
        self.compression: Compression | None = None if self._empty else self._detect()

    def __repr__(self) -> str:
        return (
            f"ExportReader(invoice_count={self.package.invoice_count}, "
            f"compression={self.compression!r}, size={self.package.size})"
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Delete the temporary archive (idempotent)."""
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    @property
    def metadata(self) -> tuple[InvoiceMetadata, ...]:
        """The rows of ``_metadata.json`` (empty if the package has none)."""
        if self._metadata is None:
            self._metadata = self._read_metadata()
        return self._metadata

    @property
    def metadata_rows(self) -> tuple[dict[str, Any], ...]:
        """The same rows as KSeF wrote them (plain JSON values), in the same order, for a
        caller that keeps KSeF's own record next to the parsed one."""
        if self._metadata is None:
            self._metadata = self._read_metadata()
        return self._metadata_rows

    def iter_invoices(self) -> Iterator[tuple[str, bytes]]:
        """``(ksef_number, exact xml bytes)`` of every ``{ksefNumber}.xml`` in the package."""
        for name, content in self.iter_files():
            if name.endswith(".xml"):
                yield name.rsplit("/", 1)[-1].removesuffix(".xml"), content

    def iter_files(self) -> Iterator[tuple[str, bytes]]:
        """Every regular file of the archive, ``_metadata.json`` included, in archive order."""
        self._require_open()
        if self._empty:
            return
        try:
            if self.compression == "Zip":
                yield from self._iter_zip()
            else:
                yield from self._iter_tar()
        except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError) as exc:
            raise ExportPackageInvalid(f"the package cannot be unpacked: {exc}") from None

    # -- archive formats ---------------------------------------------------------------

    def _detect(self) -> Compression:
        with self.archive_path.open("rb") as archive:
            magic = archive.read(2)
        if magic == b"PK":
            return "Zip"
        if magic == b"\x1f\x8b":
            return "TarGz"
        raise ExportPackageInvalid("the package is neither ZIP nor tar.gz")

    def _require_open(self) -> None:
        if self._workdir is None:
            raise ValueError("the export reader is closed")

    def _iter_zip(self) -> Iterator[tuple[str, bytes]]:
        with zipfile.ZipFile(self.archive_path) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            # zipfile never returns more than a member's declared file_size, so checking
            # the declared sizes up front is enough.
            total = 0
            for info in members:
                self._check_member(info.filename, info.file_size)
                total += info.file_size
            self._check_total(total)
            for info in members:
                with archive.open(info) as member:
                    yield info.filename, self._read(member, info.filename, info.file_size)

    def _iter_tar(self) -> Iterator[tuple[str, bytes]]:
        # Stream mode ("r|gz") reads the gzip stream once, front to back.
        with tarfile.open(self.archive_path, mode="r|gz") as archive:
            total = 0
            while (member := archive.next()) is not None:
                # tarfile keeps every TarInfo it has seen; one at a time is all we need.
                archive.members = []  # type: ignore[attr-defined]  # (not in typeshed)
                if not member.isfile():
                    continue
                self._check_member(member.name, member.size)
                total += member.size
                self._check_total(total)
                extracted = archive.extractfile(member)
                if extracted is not None:
                    yield member.name, self._read(extracted, member.name, member.size)

    def _read_metadata(self) -> tuple[InvoiceMetadata, ...]:
        self._require_open()
        if self._empty:
            return ()
        content: bytes | None = None
        try:
            if self.compression == "Zip":
                with zipfile.ZipFile(self.archive_path) as archive:
                    if METADATA_FILE in archive.namelist():
                        info = archive.getinfo(METADATA_FILE)
                        self._check_member(METADATA_FILE, info.file_size)
                        with archive.open(info) as member:
                            content = self._read(member, METADATA_FILE, info.file_size)
            else:
                content = next((c for n, c in self._iter_tar() if n == METADATA_FILE), None)
        except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError) as exc:
            raise ExportPackageInvalid(f"the package cannot be unpacked: {exc}") from None
        if content is None:
            return ()
        try:
            document = json.loads(content, parse_float=Decimal)
            rows = document.get("invoices", []) if isinstance(document, dict) else []
            parsed = tuple(InvoiceMetadata.from_json(row) for row in rows)
            plain = json.loads(content)
            self._metadata_rows = tuple(plain.get("invoices", []))
            return parsed
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ExportPackageInvalid(f"{METADATA_FILE} is malformed: {exc}") from None

    def _read(self, member: IO[bytes], name: str, declared: int) -> bytes:
        # Ask for the declared size (already checked against the cap), plus one byte to
        # notice a lie: BufferedReader.read(n) allocates n bytes up front.
        content = member.read(declared + 1)
        if len(content) != declared:
            raise ExportPackageInvalid(f"{name} does not have its declared size {declared}")
        return content

    def _check_member(self, name: str, size: int) -> None:
        if size > self.max_member_bytes:
            raise ExportPackageInvalid(f"{name} unpacks to more than {self.max_member_bytes} bytes")

    def _check_total(self, total: int) -> None:
        if total > self.max_unpacked_bytes:
            raise ExportPackageInvalid(
                f"the package unpacks to more than {self.max_unpacked_bytes} bytes"
            )
