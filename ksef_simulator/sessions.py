"""Online (interactive) sessions, and the statuses every session type shares.

Endpoints (contract 2.6.0):

* `POST /sessions/online`, `POST /sessions/online/{ref}/invoices`, `POST …/close`
  (`InvoiceWrite`, `PefInvoiceWrite` or `EnforcementOperations`);
* `GET /sessions`, `GET /sessions/{ref}`, `GET /sessions/{ref}/invoices`, `…/failed`,
  `…/invoices/{invoiceRef}` for online and batch sessions alike (also readable with
  `Introspection`, which — like `EnforcementOperations` — sees every session of the
  context; `InvoiceWrite` alone sees the sessions its own subject opened). A session
  object brings itself up to date with the clock (`refresh`) and describes its status
  (`status_info`); batch sessions (batch.py) subclass `OnlineSession` for that. UPO
  downloads are in session_upo.py.

Each invoice is verified when it arrives, in the order KSeF documents: encrypted size and
hash (400 21402/21403), decryption (435), declared size and hash of the plain file (430),
then the rules every session type shares (verification.py): size, content rules and the
FA(3) schema (450), the seller against the context (410), the issue date (450),
attachments (415) and the duplicate rule seller NIP + RodzajFaktury + P_2 (440).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from flask import Blueprint, Flask, Response, jsonify, request

from ksef_simulator import upo
from ksef_simulator.contract import body, validated_body
from ksef_simulator.errors import bad_request, utc_timestamp, validation_error
from ksef_simulator.fa3xml import InvoiceFacts, fa3_schema
from ksef_simulator.identifiers import reference_number as new_reference_number
from ksef_simulator.invoices import (
    WARSAW,
    invoices_of,
    presigned_url,
    sha256_b64,
)
from ksef_simulator.keys import DecryptionError, decrypt_oaep
from ksef_simulator.limits import context_session_limits
from ksef_simulator.security import AccessContext, access_context, require_access
from ksef_simulator.state import State, current_state
from ksef_simulator.verification import (
    Acceptance,
    Submission,
    invoicing_mode,
    store_accepted,
    verify_invoice,
)

bp = Blueprint("ksef_sessions", __name__)

WRITE = ("InvoiceWrite", "PefInvoiceWrite", "EnforcementOperations")
READ = ("InvoiceWrite", "Introspection", "PefInvoiceWrite", "EnforcementOperations")
SESSION_LIFETIME = timedelta(hours=12)
LINK_LIFETIME = timedelta(days=3)
FA3 = ("FA (3)", "1-0E", "FA")

SESSION_STATUS = {
    100: "Sesja interaktywna otwarta",
    170: "Sesja interaktywna zamknięta",
    200: "Sesja interaktywna przetworzona pomyślnie",
    415: "Błąd odszyfrowania dostarczonego klucza",
    440: "Sesja anulowana",
    445: "Błąd weryfikacji, brak poprawnych faktur",
}
INVOICE_STATUS = {
    100: "Faktura przyjęta do dalszego przetwarzania",
    150: "Trwa przetwarzanie",
    200: "Sukces",
    405: "Przetwarzanie anulowane z powodu błędu sesji",
    410: "Nieprawidłowy zakres uprawnień",
    415: "Brak możliwości wysyłania faktury z załącznikiem",
    430: "Błąd weryfikacji pliku faktury",
    435: "Błąd odszyfrowania pliku",
    440: "Duplikat faktury",
    450: "Błąd weryfikacji semantyki dokumentu faktury",
}
# GET /sessions?statuses=... (CommonSessionStatus) -> online and batch session codes.
COMMON_STATUSES = {
    "InProgress": {100, 150, 170},
    "Succeeded": {200},
    "Failed": {405, 415, 420, 430, 435, 445, 500},
    "Cancelled": {440},
}


@dataclass
class SessionInvoice:
    reference_number: str
    ordinal: int
    invoice_hash: str
    invoicing_date: datetime
    status_code: int
    details: list[str] | None = None
    extensions: dict[str, str | None] | None = None
    ksef_number: str | None = None
    invoice_number: str | None = None
    invoicing_mode: str | None = None
    hash_of_corrected: str | None = None
    file_name: str | None = None  # batch: the file's name inside the archive


@dataclass
class OnlineSession:
    reference_number: str
    context: tuple[str, str]
    subject: tuple[str, str]
    token_reference: str | None
    auth_document_hash: str | None
    form_code: tuple[str, str, str]
    key: bytes | None  # None: the symmetric key could not be decrypted (status 415)
    iv: bytes
    created: datetime
    updated: datetime
    valid_until: datetime
    status_code: int = 100
    closed: datetime | None = None
    processed_at: datetime | None = None
    upo_pages: list[str] = field(default_factory=list)  # UPO page reference numbers
    invoices: dict[str, SessionInvoice] = field(default_factory=dict)
    session_type: str = "Online"

    def refresh(self, state: State) -> None:
        """Apply what simulated time has done to the session (lazily, on every look)."""
        _refresh_online(state, self)

    def status_info(self) -> dict[str, Any]:
        details = ["Nie przesłano faktur"] if self.status_code == 440 else None
        return status_json(self.status_code, SESSION_STATUS, details)

    @property
    def successful(self) -> int:
        return sum(1 for inv in self.invoices.values() if inv.status_code == 200)

    @property
    def failed(self) -> int:
        return sum(1 for inv in self.invoices.values() if inv.status_code >= 400)


def sessions_of(state: State) -> dict[str, OnlineSession]:
    return cast(dict[str, OnlineSession], state.sessions)


# -- lifecycle -----------------------------------------------------------------------------


def _refresh_online(state: State, session: OnlineSession) -> None:
    """Apply what time has done: expiry closes an open session, the UPO gets ready."""
    now = state.now()
    if session.status_code == 100 and now >= session.valid_until:
        _close(state, session, session.valid_until)
    if session.status_code == 170 and session.processed_at and now >= session.processed_at:
        _finish(state, session)


def _close(state: State, session: OnlineSession, moment: datetime) -> None:
    session.closed = moment
    session.updated = moment
    session.status_code = 170
    session.processed_at = moment + timedelta(seconds=state.config.session_upo_seconds)


def _finish(state: State, session: OnlineSession) -> None:
    moment = session.processed_at or state.now()
    if not session.invoices:
        session.status_code = 440
    elif session.successful == 0:
        session.status_code = 445
    else:
        session.status_code = 200
        pages = -(-session.successful // upo.PAGE_SIZE)
        session.upo_pages = [new_reference_number("EU", moment) for _ in range(pages)]
    session.updated = moment


def visible_session(
    reference: str, ctx: AccessContext, session_type: str | None = None
) -> OnlineSession:
    """The session CTX may see (21173 otherwise), brought up to date with the clock;
    SESSION_TYPE restricts it to online or batch sessions."""
    state = current_state()
    session = sessions_of(state).get(reference)
    sees_all = ctx.has_any("Introspection", "EnforcementOperations")
    if (
        session is None
        or (session_type is not None and session.session_type != session_type)
        or session.context != ctx.context.key
        or (not sees_all and session.subject != ctx.subject.key)
    ):
        bad_request(21173, f"Sesja o numerze referencyjnym {reference} nie została odnaleziona.")
    session.refresh(state)
    return session


def auth_document_hash(state: State, ctx: AccessContext) -> str | None:
    if ctx.ksef_token is not None:
        return None
    operation = state.auth_operations.get(ctx.reference_number)
    if operation is not None and operation.document_hash:
        return operation.document_hash
    # Sessions of logins the simulator no longer remembers (e.g. an older snapshot).
    return sha256_b64(ctx.reference_number.encode("ascii"))


@bp.post("/sessions/online")
@require_access(*WRITE)
@validated_body()
def open_online_session() -> tuple[Response, int]:
    data = body()
    state = current_state()
    ctx = access_context()
    form_code = check_form_code(data["formCode"])
    key, iv = session_encryption(state, data["encryption"])
    now = state.now()
    session = OnlineSession(
        reference_number=new_reference_number("SO", now),
        context=ctx.context.key,
        subject=ctx.subject.key,
        token_reference=ctx.ksef_token,
        auth_document_hash=auth_document_hash(state, ctx),
        form_code=form_code,
        key=key,
        iv=iv,
        created=now,
        updated=now,
        valid_until=now + SESSION_LIFETIME,
        # A key KSeF cannot decrypt leaves the session in 415; sending then gets 21180.
        status_code=100 if key is not None else 415,
    )
    sessions_of(state)[session.reference_number] = session
    payload = {
        "referenceNumber": session.reference_number,
        "validUntil": utc_timestamp(session.valid_until),
    }
    return jsonify(payload), 201


def check_form_code(form: dict[str, str]) -> tuple[str, str, str]:
    form_code = (form["systemCode"], form["schemaVersion"], form["value"])
    if form_code != FA3:
        validation_error(
            f"formCode: schemat {form_code} nie jest obsługiwany przez symulator "
            "(obsługiwany: FA (3) 1-0E FA)."
        )
    return form_code


def session_encryption(state: State, encryption: dict[str, Any]) -> tuple[bytes | None, bytes]:
    """(AES key, IV) of a session's EncryptionInfo; the key is None when the Ministry key
    cannot open it (the session then ends in 415). An unknown publicKeyId is 21470."""
    key_id = encryption.get("publicKeyId")
    if key_id and state.keys.usage_of_public_key_id(key_id) != "SymmetricKeyEncryption":
        bad_request(21470, f"Klucz o identyfikatorze {key_id} nie jest wspierany.")
    iv = _decode_b64(encryption["initializationVector"], "encryption.initializationVector")
    if len(iv) != 16:
        validation_error("encryption.initializationVector: wektor IV musi mieć 16 bajtów.")
    try:
        key: bytes | None = decrypt_oaep(
            encryption["encryptedSymmetricKey"], "SymmetricKeyEncryption"
        )
    except DecryptionError:
        key = None
    if key is not None and len(key) != 32:
        key = None
    return key, iv


def _decode_b64(value: str, name: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        validation_error(f"{name}: wartość nie jest poprawnym Base64.")


def decrypt(session: OnlineSession, ciphertext: bytes) -> bytes | None:
    assert session.key is not None
    if len(ciphertext) % 16:
        return None
    decryptor = Cipher(algorithms.AES(session.key), modes.CBC(session.iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = sym_padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        return None


@bp.post("/sessions/online/<referenceNumber>/invoices")
@require_access(*WRITE)
@validated_body()
def send_invoice(referenceNumber: str) -> tuple[Response, int]:
    data = body()
    state = current_state()
    ctx = access_context()
    session = visible_session(referenceNumber, ctx, "Online")
    if session.status_code != 100:
        bad_request(21180, f"Status sesji ({session.status_code}) uniemożliwia wysyłkę faktur.")
    limit = context_session_limits(state, ctx.context.key)["onlineSession"]["maxInvoices"]
    if len(session.invoices) >= limit:
        bad_request(
            21155,
            f"Sesja o numerze referencyjnym {referenceNumber} osiągnęła dozwolony limit "
            f"liczby faktur {limit}.",
        )
    offline = bool(data.get("offlineMode", False))
    corrected_hash = data.get("hashOfCorrectedInvoice")
    if corrected_hash and not offline:
        validation_error("HashOfCorrectedInvoice can only be provided for offline invoices.")
    if corrected_hash:
        _check_technical_correction(state, ctx, corrected_hash)
    encrypted = _decode_b64(data["encryptedInvoiceContent"], "encryptedInvoiceContent")
    if len(encrypted) != data["encryptedInvoiceSize"]:
        bad_request(21402, "Długość treści nie zgadza się z rozmiarem pliku.")
    if sha256_b64(encrypted) != data["encryptedInvoiceHash"]:
        bad_request(21403, "Skrót treści nie zgadza się ze skrótem pliku.")
    now = state.now()
    record = SessionInvoice(
        reference_number=new_reference_number("EE", now),
        ordinal=len(session.invoices) + 1,
        invoice_hash=data["invoiceHash"],
        invoicing_date=now - timedelta(milliseconds=2),
        status_code=100,
        hash_of_corrected=corrected_hash,
    )
    session.invoices[record.reference_number] = record
    session.updated = now
    _process(state, ctx, session, record, encrypted, data, offline)
    return jsonify({"referenceNumber": record.reference_number}), 202


def _check_technical_correction(state: State, ctx: AccessContext, corrected: str) -> None:
    """A technical correction re-sends a *rejected* offline invoice (digest §7.1)."""
    for session in sessions_of(state).values():
        if session.context != ctx.context.key:
            continue
        for sent in session.invoices.values():
            if sent.invoice_hash == corrected and sent.status_code == 200:
                bad_request(
                    21167,
                    "Nie można wysłać korekty technicznej do prawidłowo przetworzonej faktury.",
                )
            if sent.hash_of_corrected == corrected and sent.status_code == 200:
                bad_request(
                    21166, "Faktura posiada już przetworzoną prawidłowo korektę techniczną."
                )


def _reject(record: SessionInvoice, code: int, details: list[str], **extensions: str) -> None:
    record.status_code = code
    record.details = details
    record.extensions = dict(extensions) or None


def _process(
    state: State,
    ctx: AccessContext,
    session: OnlineSession,
    record: SessionInvoice,
    encrypted: bytes,
    data: dict[str, Any],
    offline: bool,
) -> None:
    content = decrypt(session, encrypted)
    if content is None:
        _reject(record, 435, ["Plik niepoprawnie zaszyfrowany"])
        return
    if len(content) != data["invoiceSize"]:
        _reject(
            record,
            430,
            [
                "Rozmiar przesłanego pliku faktury nie zgadza się z zadeklarowaną wartością: "
                f"{data['invoiceSize']}."
            ],
        )
        return
    if sha256_b64(content) != data["invoiceHash"]:
        _reject(record, 430, ["Skrót przesłanego pliku faktury nie zgadza się z zadeklarowanym."])
        return
    submission = Submission(
        content=content,
        context=ctx.context.key,
        session_kind="onlineSession",
        invoicing=record.invoicing_date,
        limits=context_session_limits(state, ctx.context.key)["onlineSession"],
    )
    settle(state, session, record, submission, offline, record.invoicing_date)


def settle(
    state: State,
    session: OnlineSession,
    record: SessionInvoice,
    submission: Submission,
    offline: bool,
    mode_reference: datetime,
) -> None:
    """Verify a decrypted file and end its record in 200 (stored) or its rejection."""
    verdict = verify_invoice(state, submission)
    if verdict.facts is not None:
        record.invoice_number = verdict.facts.invoice_number
    if verdict.rejection is not None:
        rejection = verdict.rejection
        _reject(record, rejection.code, rejection.details, **(rejection.extensions or {}))
        return
    assert verdict.facts is not None
    accept_record(
        state, session, record, submission.content, verdict.facts, offline, mode_reference
    )


def accept_record(
    state: State,
    session: OnlineSession,
    record: SessionInvoice,
    content: bytes,
    facts: InvoiceFacts,
    offline: bool,
    mode_reference: datetime,
) -> None:
    """Store an invoice that passed verification and mark its session record 200."""
    mode = invoicing_mode(offline, facts.issue_date, mode_reference)
    stored = store_accepted(
        state,
        content,
        facts,
        Acceptance(
            context=session.context,
            session_reference=session.reference_number,
            invoice_reference=record.reference_number,
            invoice_hash=record.invoice_hash,
            invoicing=record.invoicing_date,
            mode=mode,
            hash_of_corrected=record.hash_of_corrected,
        ),
    )
    record.status_code = 200
    record.ksef_number = stored.ksef_number
    record.invoicing_mode = mode


@bp.post("/sessions/online/<referenceNumber>/close")
@require_access(*WRITE)
def close_online_session(referenceNumber: str) -> Response:
    state = current_state()
    session = visible_session(referenceNumber, access_context(), "Online")
    if session.status_code != 100:
        bad_request(21180, f"Status sesji ({session.status_code}) uniemożliwia jej zamknięcie.")
    _close(state, session, state.now())
    session.refresh(state)
    return Response(status=204)


# -- statuses ------------------------------------------------------------------------------


def status_json(
    code: int, table: dict[int, str], details: list[str] | None = None
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "code": code,
        "description": table.get(code, f"Nieznany błąd ({code})"),
    }
    if details:
        status["details"] = details
    return status


@bp.get("/sessions/<referenceNumber>")
@require_access(*READ)
def session_status(referenceNumber: str) -> Response:
    state = current_state()
    session = visible_session(referenceNumber, access_context())
    payload: dict[str, Any] = {
        "status": session.status_info(),
        "dateCreated": utc_timestamp(session.created),
        "dateUpdated": utc_timestamp(session.updated),
        "validUntil": utc_timestamp(session.valid_until),
    }
    if session.upo_pages:
        expires = state.now() + LINK_LIFETIME
        payload["upo"] = {
            "pages": [
                {
                    "referenceNumber": page,
                    "downloadUrl": presigned_url(
                        f"/storage/upo/{session.reference_number}/session/{page}.xml", expires
                    ),
                    "downloadUrlExpirationDate": utc_timestamp(expires),
                }
                for page in session.upo_pages
            ]
        }
    payload["invoiceCount"] = len(session.invoices)
    payload["successfulInvoiceCount"] = session.successful
    payload["failedInvoiceCount"] = session.failed
    return jsonify(payload)


def _invoice_json(state: State, session: OnlineSession, record: SessionInvoice) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "ordinalNumber": record.ordinal,
        "invoiceNumber": record.invoice_number,
        "ksefNumber": record.ksef_number,
        "referenceNumber": record.reference_number,
        "invoiceHash": record.invoice_hash,
        "invoiceFileName": record.file_name,
        "invoicingDate": utc_timestamp(record.invoicing_date),
        "acquisitionDate": None,
        "permanentStorageDate": None,
        "upoDownloadUrl": None,
        "upoDownloadUrlExpirationDate": None,
        "invoicingMode": record.invoicing_mode,
        "status": status_json(record.status_code, INVOICE_STATUS, record.details),
    }
    if record.extensions:
        payload["status"]["extensions"] = record.extensions
    if record.ksef_number:
        stored = invoices_of(state)[record.ksef_number]
        now = state.now()
        expires = now + LINK_LIFETIME
        payload["acquisitionDate"] = utc_timestamp(stored.acquisition_date)
        if stored.permanent_storage_date <= now:
            payload["permanentStorageDate"] = utc_timestamp(stored.permanent_storage_date)
        payload["upoDownloadUrl"] = presigned_url(
            f"/storage/upo/{session.reference_number}/invoice/{record.reference_number}.xml",
            expires,
        )
        payload["upoDownloadUrlExpirationDate"] = utc_timestamp(expires)
    # KSeF writes nulls here; the contract's allOf+nullable fields (ksefNumber,
    # invoicingMode) reject null under strict OpenAPI 3.0 validation, so absent = unknown.
    for name in ("ksefNumber", "invoicingMode", "invoiceFileName"):
        if payload[name] is None:
            del payload[name]
    return payload


def _continuation_offset() -> int:
    token = request.headers.get("x-continuation-token")
    if not token:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii"))
    except (ValueError, binascii.Error, UnicodeError):
        bad_request(21418)
    if offset < 0:
        bad_request(21418)
    return offset


def _continuation_token(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode("ascii")).decode("ascii")


def _page_size(default: int = 10, low: int = 10, high: int = 1000) -> int:
    raw = request.args.get("pageSize")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        validation_error(f"pageSize: wartość '{raw}' nie jest liczbą całkowitą.")
    if not low <= value <= high:
        validation_error(f"pageSize: wartość {value} spoza zakresu {low}..{high}.")
    return value


def _invoice_list(reference: str, only_failed: bool) -> Response:
    state = current_state()
    session = visible_session(reference, access_context())
    size = _page_size()
    offset = _continuation_offset()
    records = [r for r in session.invoices.values() if not only_failed or r.status_code >= 400]
    page = records[offset : offset + size]
    more = offset + size < len(records)
    return jsonify(
        {
            "continuationToken": _continuation_token(offset + size) if more else None,
            "invoices": [_invoice_json(state, session, record) for record in page],
        }
    )


@bp.get("/sessions/<referenceNumber>/invoices")
@require_access(*READ)
def session_invoices(referenceNumber: str) -> Response:
    return _invoice_list(referenceNumber, only_failed=False)


@bp.get("/sessions/<referenceNumber>/invoices/failed")
@require_access(*READ)
def session_failed_invoices(referenceNumber: str) -> Response:
    return _invoice_list(referenceNumber, only_failed=True)


@bp.get("/sessions/<referenceNumber>/invoices/<invoiceReferenceNumber>")
@require_access(*READ)
def session_invoice(referenceNumber: str, invoiceReferenceNumber: str) -> Response:
    state = current_state()
    session = visible_session(referenceNumber, access_context())
    record = session.invoices.get(invoiceReferenceNumber)
    if record is None:
        validation_error(
            f"Faktura o numerze referencyjnym {invoiceReferenceNumber} nie istnieje w sesji "
            f"{referenceNumber}."
        )
    return jsonify(_invoice_json(state, session, record))


@bp.get("/sessions")
@require_access("InvoiceWrite", "Introspection", "EnforcementOperations")
def list_sessions() -> Response:
    state = current_state()
    ctx = access_context()
    session_type = request.args.get("sessionType")
    if session_type not in ("Online", "Batch"):
        validation_error("sessionType: wymagany parametr (Online albo Batch).")
    size = _page_size()
    offset = _continuation_offset()
    statuses = request.args.getlist("statuses")
    for status in statuses:
        if status not in COMMON_STATUSES:
            validation_error(f"statuses: nieznana wartość '{status}'.")
    bounds = {name: _query_moment(name) for name in _DATE_FILTERS}
    sees_all = ctx.has_any("Introspection", "EnforcementOperations")
    found = []
    for session in sessions_of(state).values():
        session.refresh(state)
        if session.context != ctx.context.key or session.session_type != session_type:
            continue
        if not sees_all and session.subject != ctx.subject.key:
            continue
        wanted_ref = request.args.get("referenceNumber")
        if wanted_ref and session.reference_number != wanted_ref:
            continue
        if statuses and not any(session.status_code in COMMON_STATUSES[s] for s in statuses):
            continue
        if _outside(session, bounds):
            continue
        found.append(session)
    found.sort(key=lambda s: s.created, reverse=True)
    page = found[offset : offset + size]
    more = offset + size < len(found)
    return jsonify(
        {
            "continuationToken": _continuation_token(offset + size) if more else None,
            "sessions": [
                {
                    "referenceNumber": s.reference_number,
                    "status": s.status_info(),
                    "dateCreated": utc_timestamp(s.created),
                    "dateUpdated": utc_timestamp(s.updated),
                    "validUntil": utc_timestamp(s.valid_until),
                    "totalInvoiceCount": len(s.invoices),
                    "successfulInvoiceCount": s.successful,
                    "failedInvoiceCount": s.failed,
                }
                for s in page
            ],
        }
    )


_DATE_FILTERS = (
    "dateCreatedFrom", "dateCreatedTo", "dateClosedFrom", "dateClosedTo",
    "dateModifiedFrom", "dateModifiedTo",
)  # fmt: skip


def _query_moment(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        validation_error(f"{name}: nieprawidłowy format daty '{raw}'.")
    return moment if moment.tzinfo else moment.replace(tzinfo=WARSAW)


def _outside(session: OnlineSession, bounds: dict[str, datetime | None]) -> bool:
    checks = (
        ("dateCreated", session.created),
        ("dateClosed", session.closed),
        ("dateModified", session.updated),
    )
    for prefix, value in checks:
        low, high = bounds[f"{prefix}From"], bounds[f"{prefix}To"]
        if (low or high) and value is None:
            return True
        if value is not None and ((low and value < low) or (high and value > high)):
            return True
    return False


def init_app(app: Flask, state: State) -> None:
    # Compile the FA(3) schema now rather than on the first invoice.
    fa3_schema()
    spec = state.config.seed
    if spec and not state.extra.get("seeded"):
        from ksef_simulator.seeding import seed_from_spec

        seed_from_spec(state, spec)
        state.extra["seeded"] = spec
