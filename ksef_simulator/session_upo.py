"""UPO downloads of online and batch sessions (digest §5.5).

* `GET /sessions/{ref}/invoices/{invoiceRef}/upo`, `…/invoices/ksef/{ksefNumber}/upo` and
  `/sessions/{ref}/upo/{upoRef}` (session UPO pages of at most 10,000 documents);
* the pre-signed links of the statuses under `/storage/upo/…` (plain GET, no token, not
  rate-limited), answering like Azure Blob Storage to a wrong or expired signature.

Every document carries `x-ms-meta-hash`, the SHA-256 (Base64) of the body.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, request

from ksef_simulator import upo
from ksef_simulator.errors import bad_request
from ksef_simulator.invoices import invoices_of, presigned_ok, sha256_b64, storage_denied
from ksef_simulator.security import access_context, require_access
from ksef_simulator.sessions import (
    READ,
    OnlineSession,
    SessionInvoice,
    sessions_of,
    visible_session,
)
from ksef_simulator.state import State, current_state

bp = Blueprint("ksef_session_upo", __name__)
storage_bp = Blueprint("ksef_session_upo_storage", __name__)


def _upo_header(session: OnlineSession) -> upo.UpoHeader:
    return upo.UpoHeader(
        session_reference=session.reference_number,
        context_type=session.context[0],
        context_value=session.context[1],
        token_reference=session.token_reference,
        auth_document_hash=None if session.token_reference else session.auth_document_hash,
    )


def _upo_document(state: State, record: SessionInvoice) -> upo.UpoDocument:
    assert record.ksef_number is not None
    stored = invoices_of(state)[record.ksef_number]
    return upo.UpoDocument(
        seller_nip=stored.facts.seller_nip,
        ksef_number=stored.ksef_number,
        invoice_number=stored.facts.invoice_number,
        issue_date=stored.facts.issue_date.isoformat(),
        sent=stored.invoicing_date,
        numbered=stored.acquisition_date,
        invoice_hash=stored.invoice_hash,
        mode=stored.invoicing_mode,
    )


def invoice_upo_bytes(state: State, session: OnlineSession, record: SessionInvoice) -> bytes:
    return upo.invoice_upo(_upo_header(session), _upo_document(state, record))


def session_upo_bytes(state: State, session: OnlineSession, page_reference: str) -> bytes | None:
    if page_reference not in session.upo_pages:
        return None
    documents = [
        _upo_document(state, record)
        for record in session.invoices.values()
        if record.status_code == 200
    ]
    pages = upo.session_upo_pages(_upo_header(session), documents)
    return pages[session.upo_pages.index(page_reference)]


def _xml(content: bytes) -> Response:
    response = Response(content, status=200, mimetype="application/xml")
    response.headers["x-ms-meta-hash"] = sha256_b64(content)
    return response


def _successful_record(session: OnlineSession, reference: str) -> SessionInvoice | None:
    record = session.invoices.get(reference)
    return record if record is not None and record.status_code == 200 else None


@bp.get("/sessions/<referenceNumber>/invoices/<invoiceReferenceNumber>/upo")
@require_access(*READ)
def invoice_upo(referenceNumber: str, invoiceReferenceNumber: str) -> Response:
    state = current_state()
    session = visible_session(referenceNumber, access_context())
    record = _successful_record(session, invoiceReferenceNumber)
    if record is None:
        bad_request(
            21178,
            f"UPO dla faktury {invoiceReferenceNumber} w sesji {referenceNumber} nie zostało "
            "znalezione.",
        )
    return _xml(invoice_upo_bytes(state, session, record))


@bp.get("/sessions/<referenceNumber>/invoices/ksef/<ksefNumber>/upo")
@require_access(*READ)
def invoice_upo_by_ksef_number(referenceNumber: str, ksefNumber: str) -> Response:
    state = current_state()
    session = visible_session(referenceNumber, access_context())
    record = next((r for r in session.invoices.values() if r.ksef_number == ksefNumber), None)
    if record is None:
        bad_request(
            21178,
            f"UPO o numerze KSeF {ksefNumber} i numerze referencyjnym sesji {referenceNumber} "
            "nie zostało znalezione.",
        )
    return _xml(invoice_upo_bytes(state, session, record))


@bp.get("/sessions/<referenceNumber>/upo/<upoReferenceNumber>")
@require_access(*READ)
def session_upo(referenceNumber: str, upoReferenceNumber: str) -> Response:
    state = current_state()
    session = visible_session(referenceNumber, access_context())
    content = session_upo_bytes(state, session, upoReferenceNumber)
    if content is None:
        bad_request(
            21178,
            f"UPO o numerze referencyjnym {upoReferenceNumber} dla sesji {referenceNumber} nie "
            "zostało znalezione.",
        )
    return _xml(content)


@storage_bp.get("/storage/upo/<reference>/invoice/<invoice_reference>.xml")
def presigned_invoice_upo(reference: str, invoice_reference: str) -> Response:
    if not presigned_ok(request.path):
        return storage_denied()
    # Runs under state.lock like every view (SimulatorFlask.dispatch_request).
    state = current_state()
    session = sessions_of(state).get(reference)
    record = _successful_record(session, invoice_reference) if session else None
    if session is None or record is None:
        return storage_denied()
    return _xml(invoice_upo_bytes(state, session, record))


@storage_bp.get("/storage/upo/<reference>/session/<page_reference>.xml")
def presigned_session_upo(reference: str, page_reference: str) -> Response:
    if not presigned_ok(request.path):
        return storage_denied()
    state = current_state()
    session = sessions_of(state).get(reference)
    content = session_upo_bytes(state, session, page_reference) if session else None
    if content is None:
        return storage_denied()
    return _xml(content)


def init_app(app: Flask, state: State) -> None:
    del state
    app.register_blueprint(storage_bp)
