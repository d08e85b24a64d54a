"""Batch sessions (digest §5.4, contract 2.6.0 "Wysyłka wsadowa").

1. `POST /sessions/batch` declares the plain archive (`batchFile.fileSize/fileHash`,
   `compressionType` Zip or TarGz) and every **encrypted** part (`fileParts[]`: ordinal,
   size, hash; at most 50 parts of at most 100 MB before encryption), with the session's
   AES key sealed for the Ministry key. The answer lists one pre-signed upload per part:
   `PUT` to a URL on this server's own host with the header `x-ms-blob-type: BlockBlob`
   (what Azure Blob Storage asks), no token.
2. The parts are uploaded to `/storage/batch/<ref>/parts/<n>` (201; 403 for a wrong,
   expired or unknown link). The window is *parts × 20 minutes* from the opening (Gotcha
   19): the links expire with it, and a session still open after it is cancelled (440).
3. `POST /sessions/batch/{ref}/close` (204) checks what was uploaded — a late close is
   21208 (session cancelled), a declared part never uploaded 21205, an uploaded size
   other than the declared one 21157 — and starts processing: status 150.
4. After `batch_processing_seconds` of simulated time (derived lazily, like the online
   session's UPO; a `before_request` hook also finishes due batches first, so the
   metadata query and exports see the invoices without anyone polling the session) the
   package is verified in KSeF's order: the Ministry key opens the AES key (else 415),
   each part matches its declared hash (else 405) and decrypts (else 435), the joined
   archive matches `batchFile` (else 405) and unpacks (else 430), it holds at most the
   context's `batchSession.maxInvoices` files (else 420) and at least one (else 440).
   Then every file is an invoice of its own (status 150 until verified) — the same
   checks as online invoices (`verification.py`), reported with its `invoiceFileName`,
   at most `PROCESSING_CHUNK` invoices per request so that no request carries more than
   about a second of work — and the session ends in 200 with a session UPO, or 445 when
   no invoice was accepted.

`offlineMode: true` marks every accepted invoice Offline; without it an invoice whose
`P_1` is an earlier day than the opening of the session is Offline as well (digest §5.2).
"""

from __future__ import annotations

import io
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, Response, g, has_request_context, jsonify, request

from ksef_simulator import upo
from ksef_simulator.contract import body, validated_body
from ksef_simulator.errors import bad_request, validation_error
from ksef_simulator.identifiers import reference_number as new_reference_number
from ksef_simulator.invoices import presigned_ok, presigned_url, sha256_b64, storage_denied
from ksef_simulator.limits import context_session_limits
from ksef_simulator.security import access_context, require_access
from ksef_simulator.sessions import (
    OnlineSession,
    SessionInvoice,
    auth_document_hash,
    check_form_code,
    decrypt,
    session_encryption,
    sessions_of,
    settle,
    status_json,
    visible_session,
)
from ksef_simulator.state import State, current_state
from ksef_simulator.verification import Submission

bp = Blueprint("ksef_batch", __name__)
storage_bp = Blueprint("ksef_batch_storage", __name__)

WRITE = ("InvoiceWrite", "EnforcementOperations")
PART_WINDOW = timedelta(minutes=20)
MAX_PARTS = 50
MAX_PART_BYTES = 100_000_000  # before encryption; SI megabytes (digest §8)
UPLOAD_METHOD = "PUT"
UPLOAD_HEADERS = {"x-ms-blob-type": "BlockBlob"}
# A member larger than this cannot be a valid invoice (3 MB with attachments); reading
# stops there so a crafted archive cannot make the simulator inflate gigabytes.
_MEMBER_READ_LIMIT = 10_000_000
_FILE_NAME_LIMIT = 128  # SessionInvoiceStatusResponse.invoiceFileName maxLength
PROCESSING_CHUNK = 1000  # invoices verified per request while a batch is in 150

BATCH_STATUS = {
    100: "Sesja wsadowa rozpoczęta",
    150: "Trwa przetwarzanie",
    200: "Sesja wsadowa przetworzona pomyślnie",
    405: "Błąd weryfikacji poprawności dostarczonych elementów paczki",
    415: "Błąd odszyfrowania dostarczonego klucza",
    420: "Przekroczony limit faktur w sesji",
    430: "Błąd dekompresji pierwotnego archiwum",
    435: "Błąd odszyfrowania zaszyfrowanych części archiwum",
    440: "Sesja anulowana",
    445: "Błąd weryfikacji, brak poprawnych faktur",
    500: "Nieznany błąd",
}
UPLOAD_TIME_EXCEEDED = "Przekroczono czas wysyłki"
NO_INVOICES = "Nie przesłano faktur"


@dataclass
class DeclaredPart:
    ordinal: int
    size: int  # encrypted
    hash: str  # SHA-256 Base64 of the encrypted bytes


@dataclass
class BatchSession(OnlineSession):
    session_type: str = "Batch"
    file_size: int = 0  # the plain archive
    file_hash: str = ""
    compression: str = "Zip"
    parts: list[DeclaredPart] = field(default_factory=list)
    # Uploaded encrypted parts by ordinal; dropped once the package is processed.
    uploaded: dict[int, bytes] = field(default_factory=dict)
    offline_mode: bool = False
    status_details: list[str] | None = None
    # Processing: unpacked once, then (invoice reference, file bytes) still to verify.
    unpacked: bool = False
    unverified: list[tuple[str, bytes]] = field(default_factory=list)

    def refresh(self, state: State) -> None:
        _refresh_batch(state, self)

    def status_info(self) -> dict[str, Any]:
        return status_json(self.status_code, BATCH_STATUS, self.status_details)


def _pending(state: State) -> set[str]:
    """Batch sessions closed and not yet processed (the before_request hook's work list)."""
    pending: set[str] = state.extra.setdefault("batch_pending", set())
    return pending


# -- open ----------------------------------------------------------------------------------


@bp.post("/sessions/batch")
@require_access(*WRITE)
@validated_body()
def open_batch_session() -> tuple[Response, int]:
    data = body()
    state = current_state()
    ctx = access_context()
    form_code = check_form_code(data["formCode"])
    key, iv = session_encryption(state, data["encryption"])
    batch_file = data["batchFile"]
    parts = _declared_parts(batch_file["fileParts"])
    now = state.now()
    deadline = now + PART_WINDOW * len(parts)
    session = BatchSession(
        reference_number=new_reference_number("SB", now),
        context=ctx.context.key,
        subject=ctx.subject.key,
        token_reference=ctx.ksef_token,
        auth_document_hash=auth_document_hash(state, ctx),
        form_code=form_code,
        key=key,
        iv=iv,
        created=now,
        updated=now,
        valid_until=deadline,
        file_size=batch_file["fileSize"],
        file_hash=batch_file["fileHash"],
        compression=batch_file.get("compressionType") or "Zip",
        parts=parts,
        offline_mode=bool(data.get("offlineMode", False)),
    )
    sessions_of(state)[session.reference_number] = session
    uploads = [
        {
            "ordinalNumber": part.ordinal,
            "method": UPLOAD_METHOD,
            "url": presigned_url(_part_path(session.reference_number, part.ordinal), deadline),
            "headers": dict(UPLOAD_HEADERS),
        }
        for part in parts
    ]
    return jsonify(
        {"referenceNumber": session.reference_number, "partUploadRequests": uploads}
    ), 201


def _declared_parts(items: list[dict[str, Any]]) -> list[DeclaredPart]:
    if len(items) > MAX_PARTS:
        bad_request(21161, f"Paczka może mieć najwyżej {MAX_PARTS} części.")
    parts = sorted(
        (DeclaredPart(item["ordinalNumber"], item["fileSize"], item["fileHash"]) for item in items),
        key=lambda part: part.ordinal,
    )
    if [part.ordinal for part in parts] != list(range(1, len(parts) + 1)):
        validation_error("fileParts: numery części muszą być kolejnymi liczbami od 1.")
    for part in parts:
        # AES-CBC with PKCS#7 adds 1..16 bytes to at most 100 MB of plain data.
        if part.size > MAX_PART_BYTES + 16:
            bad_request(
                21157,
                f"Część '{part.ordinal}' przekracza dozwolony rozmiar {MAX_PART_BYTES} bajtów "
                "przed zaszyfrowaniem.",
            )
    return parts


def _part_path(reference: str, ordinal: int) -> str:
    return f"/storage/batch/{reference}/parts/{ordinal}"


# -- upload (pre-signed, outside /v2) ------------------------------------------------------


@storage_bp.put("/storage/batch/<reference>/parts/<int:ordinal>")
def upload_part(reference: str, ordinal: int) -> Response:
    if not presigned_ok(request.path):
        return storage_denied()  # wrong signature, or the upload window is over
    state = current_state()
    session = sessions_of(state).get(reference)
    if not isinstance(session, BatchSession):
        return storage_denied()
    session.refresh(state)
    if session.status_code != 100 or ordinal not in {p.ordinal for p in session.parts}:
        return storage_denied()
    if request.headers.get("x-ms-blob-type") != UPLOAD_HEADERS["x-ms-blob-type"]:
        return _missing_blob_type()
    session.uploaded[ordinal] = request.get_data()
    session.updated = state.now()
    return Response(status=201)


def _missing_blob_type() -> Response:
    """Azure's answer to a Put Blob without x-ms-blob-type."""
    body_xml = (
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>MissingRequiredHeader</Code>'
        "<Message>An HTTP header that's mandatory for this request is not specified."
        "</Message><HeaderName>x-ms-blob-type</HeaderName></Error>"
    )
    return Response(body_xml, status=400, mimetype="application/xml")


# -- close and processing ------------------------------------------------------------------


@bp.post("/sessions/batch/<referenceNumber>/close")
@require_access(*WRITE)
def close_batch_session(referenceNumber: str) -> Response:
    state = current_state()
    session = visible_session(referenceNumber, access_context(), "Batch")
    assert isinstance(session, BatchSession)
    if session.status_code == 440 and session.status_details == [UPLOAD_TIME_EXCEEDED]:
        bad_request(21208, "Sesja anulowana, przekroczony czas wysyłki.")
    if session.status_code != 100:
        bad_request(21180, f"Status sesji {session.status_code} uniemożliwia jej zamknięcie.")
    for part in session.parts:
        if part.ordinal not in session.uploaded:
            bad_request(21205, f"Nie przesłano zadeklarowanej '{part.ordinal}' części pliku.")
    for part in session.parts:
        if len(session.uploaded[part.ordinal]) != part.size:
            bad_request(
                21157,
                f"Zadeklarowany rozmiar części '{part.ordinal}' nie zgadza się z rzeczywistym.",
            )
    now = state.now()
    session.status_code = 150
    session.closed = session.updated = now
    session.processed_at = now + timedelta(seconds=state.config.batch_processing_seconds)
    _pending(state).add(session.reference_number)
    session.refresh(state)
    return Response(status=204)


def _refresh_batch(state: State, session: BatchSession) -> None:
    now = state.now()
    if session.status_code == 100 and now > session.valid_until:
        _end(session, 440, [UPLOAD_TIME_EXCEEDED], session.valid_until)
    due = session.status_code == 150 and session.processed_at and now >= session.processed_at
    if due and _first_look_in_this_request(session.reference_number):
        _process(state, session)


def _first_look_in_this_request(reference: str) -> bool:
    """One processing step per session and request, however often the request looks."""
    if not has_request_context():
        return True
    done: set[str] = g.setdefault("ksef_batches_advanced", set())
    if reference in done:
        return False
    done.add(reference)
    return True


def _end(session: BatchSession, code: int, details: list[str] | None, moment: datetime) -> None:
    session.status_code = code
    session.status_details = details
    session.updated = moment
    session.uploaded = {}


class _PackageError(Exception):
    def __init__(self, code: int, details: list[str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.details = details


def _process(state: State, session: BatchSession) -> None:
    """Unpack the package once, then verify at most PROCESSING_CHUNK invoices per look:
    a request never carries more than about a second of work, and a big batch stays in
    150 for a few polls, as KSeF's does."""
    now = state.now()
    if not session.unpacked:
        try:
            _unpack_into_records(state, session, now)
        except _PackageError as failure:
            _pending(state).discard(session.reference_number)
            _end(session, failure.code, failure.details, now)
            return
    _verify_next(state, session, now)
    if session.unverified:
        return
    _pending(state).discard(session.reference_number)
    if session.successful == 0:
        _end(session, 445, None, now)
        return
    pages = -(-session.successful // upo.PAGE_SIZE)
    session.upo_pages = [new_reference_number("EU", now) for _ in range(pages)]
    _end(session, 200, None, now)


def _unpack_into_records(state: State, session: BatchSession, now: datetime) -> None:
    """Every file becomes an invoice record in 150 ("Trwa przetwarzanie")."""
    files = _unpack(session)
    session.uploaded = {}
    limit = context_session_limits(state, session.context)["batchSession"]["maxInvoices"]
    if len(files) > limit:
        raise _PackageError(420, [f"Paczka zawiera {len(files)} faktur, limit to {limit}."])
    if not files:
        raise _PackageError(440, [NO_INVOICES])
    for ordinal, (name, content) in enumerate(files, start=1):
        record = SessionInvoice(
            reference_number=new_reference_number("EE", now),
            ordinal=ordinal,
            invoice_hash=sha256_b64(content),
            invoicing_date=now - timedelta(milliseconds=2),
            status_code=150,
            file_name=name[-_FILE_NAME_LIMIT:],
        )
        session.invoices[record.reference_number] = record
        session.unverified.append((record.reference_number, content))
    session.unpacked = True


def _verify_next(state: State, session: BatchSession, now: datetime) -> None:
    limits = context_session_limits(state, session.context)["batchSession"]
    chunk = session.unverified[:PROCESSING_CHUNK]
    del session.unverified[:PROCESSING_CHUNK]
    for reference, content in chunk:
        record = session.invoices[reference]
        record.invoicing_date = now - timedelta(milliseconds=2)
        submission = Submission(
            content, session.context, "batchSession", record.invoicing_date, limits
        )
        # Auto-offline compares P_1 with the day the batch session was opened.
        settle(state, session, record, submission, session.offline_mode, session.created)


def _unpack(session: BatchSession) -> list[tuple[str, bytes]]:
    if session.key is None:
        raise _PackageError(415)
    plain = []
    for part in session.parts:
        encrypted = session.uploaded[part.ordinal]
        if sha256_b64(encrypted) != part.hash:
            raise _PackageError(
                405, [f"Skrót części '{part.ordinal}' nie zgadza się z zadeklarowanym."]
            )
        decrypted = decrypt(session, encrypted)
        if decrypted is None:
            raise _PackageError(435, [f"Nie udało się odszyfrować części '{part.ordinal}'."])
        plain.append(decrypted)
    archive = b"".join(plain)
    if len(archive) != session.file_size or sha256_b64(archive) != session.file_hash:
        raise _PackageError(
            405, ["Rozmiar lub skrót paczki nie zgadza się z zadeklarowanym w batchFile."]
        )
    try:
        return _members(archive, session.compression)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise _PackageError(430, [f"Nie udało się rozpakować archiwum: {exc}"]) from None


def _members(archive: bytes, compression: str) -> list[tuple[str, bytes]]:
    """(name, bytes) of every regular file, in archive order."""
    if compression == "TarGz":
        files = []
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            for member in tar:
                handle = tar.extractfile(member) if member.isfile() else None
                if handle is not None:
                    files.append((member.name, handle.read(_MEMBER_READ_LIMIT + 1)))
        return files
    with zipfile.ZipFile(io.BytesIO(archive)) as package:
        return [
            (info.filename, package.open(info).read(_MEMBER_READ_LIMIT + 1))
            for info in package.infolist()
            if not info.is_dir()
        ]


def finish_due_batches(state: State) -> None:
    """Process every closed batch whose time has come, before any request is served."""
    if not state.extra.get("batch_pending"):  # the common case: nothing to do, no lock
        return
    with state.lock:
        pending = _pending(state)
        for reference in list(pending):
            session = sessions_of(state).get(reference)
            if isinstance(session, BatchSession):
                session.refresh(state)
            else:
                pending.discard(reference)


def init_app(app: Flask, state: State) -> None:
    app.register_blueprint(storage_bp)

    def _before_request() -> None:
        finish_due_batches(current_state())

    app.before_request(_before_request)
