"""The package of a batch session, built on disk (digest §5.4, Gotcha 18).

KSeF wants the invoices in one ZIP, the ZIP cut **binary** into at most 50 parts of at
most 100 MB (SI) each *before* encryption, every part AES-256-CBC-encrypted separately
with the session's key and IV, and — already when the session is opened — the size and
SHA-256 of the plain archive (``batchFile``) and of every **encrypted** part
(``fileParts``). So everything is encrypted before the opening, and kept on disk: the
archive is read once in chunks, hashed as a whole while each chunk goes through the part's
streaming encryptor into the part's file; uploads stream those files back. Memory stays at
one chunk whatever the package size.

Statuses of a batch identify invoices by ``invoiceHash`` and ``invoiceFileName``, so the
package keeps the map file name → SHA-256 of the exact bytes that went into the archive.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from ksef.crypto import aes_encrypt_stream, generate_symmetric_key, sha256_b64
from ksef.errors import KsefError, KsefStatusError
from ksef.models import EncryptionMaterial, SessionInvoiceStatus, SessionStatus

__all__ = [
    "MAX_PACKAGE_BYTES",
    "MAX_PARTS",
    "MAX_PART_BYTES",
    "BatchPackage",
    "BatchPart",
    "BatchPartUploadError",
    "BatchResult",
    "BatchSessionFailed",
    "build_batch_package",
]

MAX_PART_BYTES = 100_000_000  # per part before encryption (SI MB, digest §8)
MAX_PARTS = 50
MAX_PACKAGE_BYTES = 5_000_000_000
MAX_FILE_NAME = 128  # SessionInvoiceStatusResponse.invoiceFileName
_CHUNK = 1 << 20


class BatchSessionFailed(KsefStatusError):
    """The batch ended with a session-level error: 405 (a part or the package does not
    match what was declared), 415 (key), 420 (too many invoices), 430 (archive), 435
    (part decryption), 440 (cancelled: upload window over or nothing sent), 445 (no valid
    invoice) or 500."""

    operation = "batch session"


class BatchPartUploadError(KsefError):
    """A part's pre-signed upload was refused (403: the window of parts × 20 minutes is
    over or the link is wrong) or kept failing."""

    def __init__(self, message: str, *, ordinal_number: int, status_code: int | None) -> None:
        self.ordinal_number = ordinal_number
        self.status_code = status_code
        super().__init__(f"batch part {ordinal_number}: {message}")


@dataclass(frozen=True, slots=True)
class BatchPart:
    """One encrypted part on disk, as ``fileParts[]`` declares it."""

    ordinal_number: int
    path: Path
    size: int  # encrypted bytes
    hash: str  # SHA-256 Base64 of the encrypted bytes
    plain_size: int

    def to_json(self) -> dict[str, Any]:
        return {"ordinalNumber": self.ordinal_number, "fileSize": self.size, "fileHash": self.hash}

    def chunks(self, size: int = _CHUNK) -> Iterator[bytes]:
        with self.path.open("rb") as handle:
            while chunk := handle.read(size):
                yield chunk


@dataclass(slots=True)
class BatchPackage:
    """The encrypted parts of one archive, in a temporary folder removed by :meth:`close`
    (or on leaving a ``with`` block)."""

    file_size: int
    file_hash: str
    parts: tuple[BatchPart, ...]
    encryption: EncryptionMaterial
    invoice_hashes: Mapping[str, str]  # file name in the archive -> SHA-256 Base64
    directory: Path = field(repr=False)

    def batch_file_json(self) -> dict[str, Any]:
        return {
            "fileSize": self.file_size,
            "fileHash": self.file_hash,
            "compressionType": "Zip",
            "fileParts": [part.to_json() for part in self.parts],
        }

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class BatchResult:
    """A processed batch: its final status and every invoice's status (in ordinal order)."""

    reference_number: str
    status: SessionStatus
    invoices: tuple[SessionInvoiceStatus, ...]

    @property
    def accepted(self) -> tuple[SessionInvoiceStatus, ...]:
        return tuple(i for i in self.invoices if i.status.code == 200)

    @property
    def rejected(self) -> tuple[SessionInvoiceStatus, ...]:
        return tuple(i for i in self.invoices if i.status.code >= 400)


def build_batch_package(
    files: Iterable[tuple[str, bytes]],
    *,
    encryption: EncryptionMaterial | None = None,
    part_size: int = MAX_PART_BYTES,
    directory: str | Path | None = None,
) -> BatchPackage:
    """ZIP ``files`` (``(file name, exact bytes)``) and cut the archive into encrypted
    parts of at most ``part_size`` plain bytes (≤ 100 MB), under ``directory`` (the system
    temporary folder by default). A fresh AES key and IV are drawn unless given."""
    if not 0 < part_size <= MAX_PART_BYTES:
        raise ValueError(f"part_size must be between 1 and {MAX_PART_BYTES} bytes")
    if encryption is None:
        encryption = EncryptionMaterial(*generate_symmetric_key())
    folder = Path(tempfile.mkdtemp(prefix="ksef-batch-", dir=directory))
    try:
        archive = folder / "package.zip"
        hashes = _write_archive(archive, files)
        file_size = archive.stat().st_size
        if file_size > MAX_PACKAGE_BYTES:
            raise ValueError(f"the package is {file_size} bytes; KSeF takes at most 5 GB")
        parts_needed = -(-file_size // part_size)
        if parts_needed > MAX_PARTS:
            raise ValueError(
                f"{parts_needed} parts of {part_size} bytes; KSeF takes at most {MAX_PARTS}"
            )
        file_hash, parts = _encrypt_parts(archive, folder, part_size, encryption)
        archive.unlink()
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return BatchPackage(file_size, file_hash, parts, encryption, hashes, folder)


def _write_archive(path: Path, files: Iterable[tuple[str, bytes]]) -> dict[str, str]:
    hashes: dict[str, str] = {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files:
            if not name or len(name) > MAX_FILE_NAME:
                raise ValueError(f"file name {name!r}: 1 to {MAX_FILE_NAME} characters")
            if name in hashes:
                raise ValueError(f"file name {name!r} appears twice in the package")
            hashes[name] = sha256_b64(content)
            archive.writestr(name, content)
    if not hashes:
        raise ValueError("a batch package needs at least one invoice")
    return hashes


def _encrypt_parts(
    archive: Path, folder: Path, part_size: int, encryption: EncryptionMaterial
) -> tuple[str, tuple[BatchPart, ...]]:
    whole = hashlib.sha256()
    parts = []
    with archive.open("rb") as source:
        ordinal = 0
        while True:
            first = source.read(min(_CHUNK, part_size))
            if not first:
                break
            ordinal += 1
            plain = _part_chunks(source, first, part_size, whole)
            parts.append(_write_part(folder, ordinal, plain, encryption))
    return base64.b64encode(whole.digest()).decode("ascii"), tuple(parts)


class _PlainCounter:
    def __init__(self) -> None:
        self.count = 0


def _part_chunks(source: Any, first: bytes, part_size: int, whole: Any) -> Iterator[bytes]:
    """The plain chunks of one part: FIRST, then more until PART_SIZE bytes; each also
    feeds WHOLE, the hash of the entire archive."""
    remaining = part_size
    chunk = first
    while chunk:
        whole.update(chunk)
        yield chunk
        remaining -= len(chunk)
        if remaining <= 0:
            return
        chunk = source.read(min(_CHUNK, remaining))


def _write_part(
    folder: Path, ordinal: int, plain: Iterator[bytes], encryption: EncryptionMaterial
) -> BatchPart:
    path = folder / f"part-{ordinal:02d}.aes"
    digest = hashlib.sha256()
    size = 0
    counter = _PlainCounter()
    counted = _counting(plain, counter)
    with path.open("wb") as target:
        for block in aes_encrypt_stream(counted, encryption.key, encryption.iv):
            digest.update(block)
            size += len(block)
            target.write(block)
    return BatchPart(
        ordinal_number=ordinal,
        path=path,
        size=size,
        hash=base64.b64encode(digest.digest()).decode("ascii"),
        plain_size=counter.count,
    )


def _counting(chunks: Iterator[bytes], counter: _PlainCounter) -> Iterator[bytes]:
    for chunk in chunks:
        counter.count += len(chunk)
        yield chunk
