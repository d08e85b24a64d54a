"""Invoice exports: `POST /invoices/exports` and `GET /invoices/exports/{referenceNumber}`.

KSeF collects the invoices matching the filters in ascending order of the chosen date
until 10,000 invoices (or 1 GB compressed), packs `{ksefNumber}.xml` files plus
`_metadata.json` (`{"invoices": [InvoiceMetadata…]}`, always present, outside the limits;
alone with `onlyMetadata`) into a ZIP (or tar.gz), splits the archive into parts of at most
50 MB and encrypts each part with AES-256-CBC/PKCS#7 under the key and IV the client sent
(RSA-OAEP-encrypted with the SymmetricKeyEncryption key). Part links are pre-signed
(`/storage/exports/…`), need no token and are not rate-limited.

Statuses: 100 running (forever while the `exports_stuck` fault is on), 200 done, 210 the
package expired, 415 the key could not be decrypted, 420 `from` later than the HWM with
`restrictToPermanentStorageHwmDate`. Statuses are kept 7 days, then 410 Gone.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import tarfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from flask import Blueprint, Flask, Response, jsonify, request

from ksef_simulator.contract import body, validated_body
from ksef_simulator.errors import bad_request, gone, utc_timestamp, validation_error
from ksef_simulator.identifiers import reference_number as new_reference_number
from ksef_simulator.invoices import (
    WARSAW,
    HwmRangeError,
    Selection,
    StoredInvoice,
    context_keys,
    metadata_json,
    presigned_ok,
    presigned_url,
    select,
    sha256_b64,
    storage_denied,
)
from ksef_simulator.keys import DecryptionError, decrypt_oaep
from ksef_simulator.security import AccessContext, access_context, require_access
from ksef_simulator.state import State, current_state

bp = Blueprint("ksef_exports", __name__)
storage_bp = Blueprint("ksef_exports_storage", __name__)

PACKAGE_INVOICE_LIMIT = 10_000
PACKAGE_SIZE_LIMIT = 1_000_000_000  # 1 GB of compressed data
PART_SIZE = 50_000_000  # parts of at most 50 MB before encryption
MAX_RUNNING_EXPORTS = 10
STATUS_RETENTION = timedelta(days=7)
PACKAGE_LIFETIME = timedelta(days=3)
LINK_LIFETIME = timedelta(hours=1)

EXPORT_STATUS = {
    100: "Eksport faktur w toku",
    200: "Eksport faktur zakończony sukcesem",
    210: "Eksport faktur wygasł i nie jest już dostępny do pobrania",
    415: "Błąd odszyfrowania dostarczonego klucza",
    420: "Zakres filtrowania wykracza poza dostępny zakres danych",
}
_HWM_DETAIL = (
    "Parametr dateRange.from jest późniejszy niż PermanentStorageHwmDate przy włączonym "
    "restrictToPermanentStorageHwmDate."
)


@dataclass
class ExportPart:
    ordinal: int
    name: str
    size: int
    hash: str
    encrypted: bytes
    encrypted_hash: str


@dataclass
class ExportPackage:
    invoice_count: int
    size: int
    parts: list[ExportPart]
    is_truncated: bool
    last_dates: dict[str, str] = field(default_factory=dict)  # lastIssueDate etc.
    hwm: datetime | None = None


@dataclass
class Export:
    reference_number: str
    context: tuple[str, str]
    created: datetime
    ready_at: datetime
    status_code: int
    details: list[str] | None = None
    package: ExportPackage | None = None
    # Status calls answered since the export finished (for export_expire_on_status_call).
    status_calls: int = 0
    # Set by expire_export() or the fault: the package is gone before its lifetime ends.
    expired: bool = False

    @property
    def completed(self) -> datetime:
        return self.ready_at


def expire_export(state: State, reference_number: str) -> None:
    """Let the export's package expire now (status 210, links refused), as KSeF does after
    PACKAGE_LIFETIME; raises KeyError for an unknown reference."""
    exports_of(state)[reference_number].expired = True


def exports_of(state: State) -> dict[str, Export]:
    return cast(dict[str, Export], state.exports)


def _allowed_subject(ctx: AccessContext, subject_type: str) -> bool:
    return bool(context_keys(ctx, subject_type))


def _running(state: State, context: tuple[str, str], now: datetime) -> int:
    return sum(
        1
        for export in exports_of(state).values()
        if export.context == context and _code(state, export, now) == 100
    )


def _code(state: State, export: Export, now: datetime) -> int:
    if export.status_code == 200 and (state.faults.exports_stuck or now < export.ready_at):
        return 100
    if export.status_code == 200 and (export.expired or now >= export.completed + PACKAGE_LIFETIME):
        return 210
    return export.status_code


def _count_status_call(state: State, export: Export, now: datetime) -> int:
    """The code to answer, after counting this call against export_expire_on_status_call."""
    code = _code(state, export, now)
    if code == 200:
        export.status_calls += 1
        limit = state.faults.export_expire_on_status_call
        if limit and export.status_calls >= limit:
            export.expired = True
            code = 210
    return code


@bp.post("/invoices/exports")
@require_access("InvoiceRead")
@validated_body()
def start_export() -> tuple[Response, int]:
    data = body()
    state = current_state()
    ctx = access_context()
    now = state.now()
    filters = data["filters"]
    if not _allowed_subject(ctx, filters["subjectType"]):
        bad_request(
            21181,
            "Nie można wyeksportować paczki faktur dla wybranego podmiotu "
            f"({filters['subjectType']}) i zalogowanego identyfikatora kontekstu "
            f"({ctx.context.type}).",
        )
    encryption = data["encryption"]
    key_id = encryption.get("publicKeyId")
    if key_id and state.keys.usage_of_public_key_id(key_id) != "SymmetricKeyEncryption":
        bad_request(21470, f"Klucz o identyfikatorze {key_id} nie jest wspierany.")
    iv = _b64(encryption["initializationVector"], "encryption.initializationVector")
    if len(iv) != 16:
        validation_error("encryption.initializationVector: wektor IV musi mieć 16 bajtów.")
    if _running(state, ctx.context.key, now) >= MAX_RUNNING_EXPORTS:
        bad_request(
            21182,
            "Dla uwierzytelnionego podmiotu w bieżącym kontekście osiągnięto maksymalny limit "
            f"{MAX_RUNNING_EXPORTS} równoczesnych eksportów faktur. Spróbuj ponownie później.",
        )
    delay = timedelta(seconds=state.config.export_processing_seconds)
    export = Export(
        reference_number=new_reference_number("EH", now),
        context=ctx.context.key,
        created=now,
        ready_at=now + delay,
        status_code=200,
    )
    try:
        key = decrypt_oaep(encryption["encryptedSymmetricKey"], "SymmetricKeyEncryption")
        if len(key) != 32:
            raise DecryptionError("the symmetric key must have 32 bytes")
        limit = min(PACKAGE_INVOICE_LIMIT, state.config.export_package_invoice_limit)
        selection = select(state, ctx, filters, limit + 1)
    except DecryptionError:
        export.status_code = 415
    except HwmRangeError:
        export.status_code, export.details = 420, [_HWM_DETAIL]
    else:
        compression = data.get("compressionType") or "Zip"
        export.package = build_package(
            selection, key, iv, bool(data.get("onlyMetadata", False)), compression, now
        )
    exports_of(state)[export.reference_number] = export
    return jsonify({"referenceNumber": export.reference_number}), 201


def _b64(value: str, name: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        validation_error(f"{name}: wartość nie jest poprawnym Base64.")


def _encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    padder = sym_padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def _archive(files: list[tuple[str, bytes]], compression: str, moment: datetime) -> bytes:
    buffer = io.BytesIO()
    local = moment.astimezone(WARSAW)
    if compression == "TarGz":
        with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as archive:
            for name, content in files:
                info = tarfile.TarInfo(name)
                info.size = len(content)
                info.mtime = int(moment.timestamp())
                archive.addfile(info, io.BytesIO(content))
        return buffer.getvalue()
    stamp = (local.year, local.month, local.day, local.hour, local.minute, local.second)
    # Level 1: three times faster than the default and still ~4:1 on invoice XML; a
    # package of 10,000 invoices must build in well under a second or two.
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, content in files:
            member = zipfile.ZipInfo(name, date_time=stamp)
            archive.writestr(member, content, zipfile.ZIP_DEFLATED, compresslevel=1)
    return buffer.getvalue()


def _last_dates(last: StoredInvoice, date_type: str) -> dict[str, str]:
    if date_type == "Issue":
        return {"lastIssueDate": last.facts.issue_date.isoformat()}
    if date_type == "Invoicing":
        return {"lastInvoicingDate": utc_timestamp(last.invoicing_date)}
    return {"lastPermanentStorageDate": utc_timestamp(last.permanent_storage_date)}


def build_package(
    selection: Selection,
    key: bytes,
    iv: bytes,
    only_metadata: bool,
    compression: str,
    moment: datetime,
) -> ExportPackage:
    chosen: list[StoredInvoice] = []
    compressed_estimate = 0
    # Tests shrink the limit with config.export_package_invoice_limit (or by patching
    # PACKAGE_INVOICE_LIMIT) so that truncation happens with a handful of invoices.
    limit = min(PACKAGE_INVOICE_LIMIT, current_state().config.export_package_invoice_limit)
    for invoice in selection.rows:
        if len(chosen) >= limit:
            break
        # XML compresses roughly 4:1; the real limit is on the compressed package.
        compressed_estimate += len(invoice.content) // 4
        if compressed_estimate > PACKAGE_SIZE_LIMIT:
            break
        chosen.append(invoice)
    truncated = len(chosen) < len(selection.rows)
    metadata = json.dumps(
        {"invoices": [metadata_json(invoice) for invoice in chosen]}, ensure_ascii=False
    ).encode("utf-8")
    files = [] if only_metadata else [(f"{inv.ksef_number}.xml", inv.content) for inv in chosen]
    files.append(("_metadata.json", metadata))
    archive = _archive(files, compression, moment)
    extension = "tar.gz" if compression == "TarGz" else "zip"
    parts = []
    part_size = min(PART_SIZE, current_state().config.export_part_bytes)
    for index, start in enumerate(range(0, max(len(archive), 1), part_size), start=1):
        plain = archive[start : start + part_size]
        encrypted = _encrypt(key, iv, plain)
        parts.append(
            ExportPart(
                ordinal=index,
                name=f"part_{index:03d}.{extension}.aes",
                size=len(plain),
                hash=sha256_b64(plain),
                encrypted=encrypted,
                encrypted_hash=sha256_b64(encrypted),
            )
        )
    return ExportPackage(
        invoice_count=len(chosen),
        size=len(archive),
        parts=parts,
        is_truncated=truncated,
        last_dates=_last_dates(chosen[-1], selection.date_type) if truncated and chosen else {},
        hwm=selection.hwm,
    )


def _part_path(export: Export, part: ExportPart) -> str:
    return f"/storage/exports/{export.reference_number}/{part.name}"


def _package_json(export: Export, package: ExportPackage, now: datetime) -> dict[str, Any]:
    expires = min(now + LINK_LIFETIME, export.completed + PACKAGE_LIFETIME)
    data: dict[str, Any] = {
        "invoiceCount": package.invoice_count,
        "size": package.size,
        "parts": [
            {
                "ordinalNumber": part.ordinal,
                "partName": part.name,
                "method": "GET",
                "url": presigned_url(_part_path(export, part), expires),
                "partSize": part.size,
                "partHash": part.hash,
                "encryptedPartSize": len(part.encrypted),
                "encryptedPartHash": part.encrypted_hash,
                "expirationDate": utc_timestamp(expires),
            }
            for part in package.parts
        ],
        "isTruncated": package.is_truncated,
    }
    data.update(package.last_dates)
    if package.hwm is not None:
        data["permanentStorageHwmDate"] = utc_timestamp(package.hwm)
    return data


@bp.get("/invoices/exports/<referenceNumber>")
@require_access("InvoiceRead")
def export_status(referenceNumber: str) -> Response:
    state = current_state()
    now = state.now()
    export = exports_of(state).get(referenceNumber)
    if export is None or export.context != access_context().context.key:
        bad_request(21175)
    if now >= export.created + STATUS_RETENTION:
        gone(f"Status eksportu {referenceNumber} nie jest już dostępny (minęło 7 dni).")
    code = _count_status_call(state, export, now)
    status: dict[str, Any] = {"code": code, "description": EXPORT_STATUS[code]}
    if export.details and code == export.status_code:
        status["details"] = export.details
    payload: dict[str, Any] = {"status": status}
    if code != 100:
        payload["completedDate"] = utc_timestamp(export.completed)
    if code == 200 and export.package is not None:
        payload["packageExpirationDate"] = utc_timestamp(export.completed + PACKAGE_LIFETIME)
        payload["package"] = _package_json(export, export.package, now)
    return jsonify(payload)


@storage_bp.get("/storage/exports/<reference>/<part_name>")
def download_part(reference: str, part_name: str) -> Response:
    if not presigned_ok(request.path):
        return storage_denied()
    state = current_state()
    export = exports_of(state).get(reference)
    package = export.package if export is not None else None
    part = next((p for p in package.parts if p.name == part_name), None) if package else None
    if export is None or part is None or _code(state, export, state.now()) != 200:
        return storage_denied()
    faults = state.faults
    content = part.encrypted
    # Not subject to path_prefix: the fault names its target itself.
    if faults.roll(faults.corrupt_part_rate):
        content = faults.corrupt(content)
    response = Response(content, status=200, mimetype="application/octet-stream")
    # Per the contract: x-ms-meta-hash is the SHA-256 of the encrypted part.
    response.headers["x-ms-meta-hash"] = part.encrypted_hash
    return response


def init_app(app: Flask, state: State) -> None:
    del state
    app.register_blueprint(storage_bp)
