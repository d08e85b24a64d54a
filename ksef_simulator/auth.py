"""Authentication: challenge, XAdES or KSeF-token submission, status, redeem, refresh,
and the list of authentication sessions (digest §2)."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from flask import Blueprint, Response, jsonify, request

from ksef_simulator import jwt
from ksef_simulator.contract import body, validated_body
from ksef_simulator.errors import (
    UnsupportedMediaType,
    bad_request,
    forbidden,
    gone,
    unauthorized,
    utc_timestamp,
    validation_error,
)
from ksef_simulator.identifiers import challenge as new_challenge
from ksef_simulator.identifiers import context_value_valid, reference_number
from ksef_simulator.keys import DecryptionError, sha256_b64
from ksef_simulator.paging import continuation_offset, encode_offset, page_size
from ksef_simulator.rights import effective_permissions, is_owner
from ksef_simulator.security import access_context, decode_bearer, jwt_secret, require_access
from ksef_simulator.state import AuthOperation, Identifier, State, current_state
from ksef_simulator.testdata import context_blocked
from ksef_simulator.xades import AuthDocumentError, certificate_identity, verify_auth_document

bp = Blueprint("auth", __name__)

RETENTION = timedelta(days=7)
STATUS_DESCRIPTIONS = {
    100: "Uwierzytelnianie w toku",
    200: "Uwierzytelnianie zakończone sukcesem",
    415: "Uwierzytelnianie zakończone niepowodzeniem",
    425: "Uwierzytelnienie unieważnione",
    450: "Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu",
    460: "Uwierzytelnianie zakończone niepowodzeniem z powodu błędu certyfikatu",
    470: "Uwierzytelnianie zakończone niepowodzeniem",
    480: "Uwierzytelnianie zablokowane",
    500: "Nieznany błąd",
    550: "Operacja została anulowana przez system",
}
METHOD_INFO = {
    "InternalCertificate": {
        "category": "XadesSignature",
        "code": "xades.ksef-certificate",
        "displayName": "Certyfikat KSeF",
    },
    "QualifiedSeal": {
        "category": "XadesSignature",
        "code": "xades.qualified-seal",
        "displayName": "Pieczęć kwalifikowana",
    },
    "QualifiedSignature": {
        "category": "XadesSignature",
        "code": "xades.qualified-signature",
        "displayName": "Podpis kwalifikowany",
    },
    "Token": {"category": "Token", "code": "token.ksef", "displayName": "Token KSeF"},
}


# -- challenge ----------------------------------------------------------------------------


@bp.post("/auth/challenge")
def challenge() -> Response:
    state = current_state()
    now = state.now()
    value = new_challenge(now)
    timestamp_ms = int(now.timestamp() * 1000)
    state.challenges[value] = {
        "timestampMs": timestamp_ms,
        "validUntil": now + timedelta(minutes=state.config.challenge_minutes),
        "used": False,
        "clientIp": request.remote_addr or "",
    }
    return jsonify(
        {
            "challenge": value,
            "timestamp": utc_timestamp(now),
            "timestampMs": timestamp_ms,
            "clientIp": request.remote_addr or "",
        }
    )


def _consume_challenge(state: State, value: str) -> dict[str, Any]:
    entry = state.challenges.get(value)
    if entry is None:
        bad_request(21111, "Wyzwanie nie zostało wydane przez KSeF.")
    if entry["used"]:
        bad_request(21111, "Wyzwanie zostało już wykorzystane.")
    if state.now() > entry["validUntil"]:
        bad_request(21111, "Wyzwanie wygasło (ważne 10 minut).")
    entry["used"] = True
    return entry


# -- XAdES ----------------------------------------------------------------------------------


@bp.post("/auth/xades-signature")
def xades_signature() -> tuple[Response, int]:
    if request.mimetype not in ("application/xml", "text/xml"):
        raise UnsupportedMediaType()
    state = current_state()
    try:
        document = verify_auth_document(request.get_data())
    except AuthDocumentError as exc:
        bad_request(exc.code, exc.detail)
    _consume_challenge(state, document.challenge)
    if not context_value_valid(document.context_type, document.context_value):
        validation_error(f"ContextIdentifier/{document.context_type}: nieprawidłowa wartość")
    context = Identifier(document.context_type, document.context_value)
    certificate = document.certificate
    if document.subject_identifier_type == "certificateFingerprint":
        subject = Identifier("Fingerprint", document.fingerprint)
    else:
        if document.context_type == "NipVatUe":
            bad_request(
                21117, "Kontekst NipVatUe wymaga SubjectIdentifierType=certificateFingerprint."
            )
        identity = certificate_identity(certificate)
        if identity is None:
            bad_request(
                21115, "Certyfikat nie zawiera NIP ani PESEL (użyj certificateFingerprint)."
            )
        subject = Identifier(*identity)
    code, details, method = _certificate_outcome(state, certificate)
    operation = _new_operation(
        state,
        method="xades",
        authentication_method=method,
        context=context,
        subject=subject,
        ip_policy={"allowedIps": document.ip_policy} if document.ip_policy else None,
        outcome=(code, details),
        fingerprint=document.fingerprint,
    )
    operation.document_hash = sha256_b64(request.get_data())
    operation.certificate_subject = {
        attribute.oid.dotted_string: str(attribute.value) for attribute in certificate.subject
    }
    return _init_response(state, operation)


def _certificate_outcome(state: State, certificate: Any) -> tuple[int, list[str] | None, str]:
    """(status code, details, AuthenticationMethod) decided by the signing certificate."""
    now = state.now()
    der = certificate.public_bytes(serialization.Encoding.DER)
    identity = certificate_identity(certificate)
    has_org_id = identity is not None and "VATPL" in certificate.subject.rfc4514_string()
    method = "QualifiedSeal" if has_org_id else "QualifiedSignature"
    if state.keys.issued_by_ca(certificate):
        method = "InternalCertificate"
        serial = format(certificate.serial_number, "016X")
        issued = state.certificates.get(serial)
        if issued is None or issued.der != der:
            return 460, ["Certyfikat KSeF jest nieznany."], method
        if issued.status != "Active":
            return 460, [f"Certyfikat KSeF jest odwołany (status {issued.status})."], method
        if issued.type != "Authentication":
            return 460, ["Certyfikat typu Offline nie służy do uwierzytelnienia."], method
        issued.last_use = now
    elif request.args.get("verifyCertificateChain", "").lower() == "true":
        return (
            460,
            ["Nie udało się zweryfikować łańcucha certyfikatów (niezaufany wystawca)."],
            method,
        )
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        return 460, ["Certyfikat jest nieważny (poza okresem ważności)."], method
    return 200, None, method


# -- KSeF token -------------------------------------------------------------------------------


@bp.post("/auth/ksef-token")
@validated_body()
def ksef_token() -> tuple[Response, int]:
    data = body()
    state = current_state()
    public_key_id = data.get("publicKeyId")
    if (
        public_key_id is not None
        and state.keys.usage_of_public_key_id(public_key_id) != "KsefTokenEncryption"
    ):
        bad_request(21470, "Użyj klucza o przeznaczeniu KsefTokenEncryption.")
    challenge_entry = _consume_challenge(state, data["challenge"])
    context = Identifier(data["contextIdentifier"]["type"], data["contextIdentifier"]["value"])
    if not context_value_valid(context.type, context.value):
        validation_error(f"contextIdentifier.value: nieprawidłowa wartość dla typu {context.type}")
    code, details, token = _token_outcome(state, data["encryptedToken"], challenge_entry, context)
    subject = token.author if token else Identifier("Nip", context.value)
    operation = _new_operation(
        state,
        method="token",
        authentication_method="Token",
        context=context,
        subject=subject,
        ip_policy=data.get("authorizationPolicy"),
        outcome=(code, details),
        via_token=token.reference_number if token else None,
    )
    return _init_response(state, operation)


def _token_outcome(
    state: State, encrypted: str, challenge_entry: dict[str, Any], context: Identifier
) -> tuple[int, list[str] | None, Any]:
    try:
        plain = state.keys.decrypt_oaep(encrypted, "KsefTokenEncryption").decode("utf-8")
    except (DecryptionError, UnicodeDecodeError):
        return 450, ["Nieprawidłowe szyfrowanie tokena."], None
    secret, sep, timestamp = plain.rpartition("|")
    if not sep:
        return 450, ["Nieprawidłowy format tokena (oczekiwano token|timestampMs)."], None
    token = next((t for t in state.ksef_tokens.values() if t.secret == secret), None)
    if token is None:
        return 450, ["Nieprawidłowy token."], None
    if timestamp != str(challenge_entry["timestampMs"]):
        return 450, ["Nieprawidłowy czas tokena."], token
    if token.context.key != context.key:
        return 450, ["Token nie dotyczy wskazanego kontekstu."], token
    status = token_status(state, token)
    if status in ("Revoking", "Revoked"):
        return 450, ["Token unieważniony."], token
    if status != "Active":
        return 450, ["Token nieaktywny."], token
    token.last_use = state.now()
    return 200, None, token


def token_status(state: State, token: Any) -> str:
    if token.status == "Pending" and state.now() >= token.active_at:
        token.status = "Active"
    return str(token.status)


# -- the operation and its status ----------------------------------------------------------------


def _new_operation(
    state: State,
    *,
    method: str,
    authentication_method: str,
    context: Identifier,
    subject: Identifier,
    ip_policy: dict[str, Any] | None,
    outcome: tuple[int, list[str] | None],
    fingerprint: str | None = None,
    via_token: str | None = None,
) -> AuthOperation:
    now = state.now()
    code, details = outcome
    permissions: set[str] = set()
    if code == 200:
        code, details, permissions = _permission_outcome(state, context, subject, via_token)
    operation = AuthOperation(
        reference_number=reference_number("AU", now),
        started=now,
        ready_at=now + timedelta(seconds=state.config.auth_processing_seconds),
        method=method,
        method_info=METHOD_INFO[authentication_method],
        authentication_method=authentication_method,
        context=context,
        subject=subject,
        client_ip=request.remote_addr or "",
        ip_policy=ip_policy,
        status_code=code,
        status_details=details,
        permissions=sorted(permissions),
        via_token=via_token,
        via_certificate_fingerprint=fingerprint,
        auth_token_valid_until=now + timedelta(minutes=state.config.authentication_token_minutes),
    )
    state.auth_operations[operation.reference_number] = operation
    return operation


def _permission_outcome(
    state: State, context: Identifier, subject: Identifier, via_token: str | None
) -> tuple[int, list[str] | None, set[str]]:
    if context_blocked(context):
        return 480, ["Uwierzytelnianie w tym kontekście zostało zablokowane."], set()
    if subject.type == "Pesel":
        person = state.persons.get(subject.value)
        if person is not None and person.is_deceased:
            return 470, ["Próba wykorzystania metod autoryzacyjnych osoby zmarłej."], set()
    permissions = current_permissions(state, context, subject, via_token)
    if not permissions:
        return 415, ["Brak przypisanych uprawnień w kontekście."], set()
    return 200, None, permissions


def current_permissions(
    state: State, context: Identifier, subject: Identifier, via_token: str | None
) -> set[str]:
    permissions = effective_permissions(state, context, subject)
    if via_token is not None:
        token = state.ksef_tokens.get(via_token)
        if token is None or token_status(state, token) != "Active":
            return set()
        # A KSeF token never carries more than its author holds now.
        permissions &= set(token.permissions)
    return permissions


def _init_response(state: State, operation: AuthOperation) -> tuple[Response, int]:
    assert operation.auth_token_valid_until is not None
    claims = {
        "typ": "authentication",
        "ref": operation.reference_number,
        "iat": int(operation.started.timestamp()),
        "exp": int(operation.auth_token_valid_until.timestamp()),
        "jti": secrets.token_hex(8),
    }
    return (
        jsonify(
            {
                "referenceNumber": operation.reference_number,
                "authenticationToken": {
                    "token": jwt.encode(claims, jwt_secret()),
                    "validUntil": utc_timestamp(operation.auth_token_valid_until),
                },
            }
        ),
        202,
    )


def current_status(state: State, operation: AuthOperation) -> tuple[int, list[str] | None]:
    if operation.revoked:
        return 425, ["Sesja uwierzytelnienia została unieważniona."]
    if state.now() < operation.ready_at:
        return 100, None
    return operation.status_code, operation.status_details


def _status_json(state: State, operation: AuthOperation) -> dict[str, Any]:
    code, details = current_status(state, operation)
    status: dict[str, Any] = {"code": code, "description": STATUS_DESCRIPTIONS[code]}
    if details:
        status["details"] = details
    return {
        "startDate": utc_timestamp(operation.started),
        "authenticationMethod": operation.authentication_method,
        "authenticationMethodInfo": operation.method_info,
        "status": status,
        "isTokenRedeemed": operation.redeemed,
        "lastTokenRefreshDate": _ts(operation.last_refresh),
        "refreshTokenValidUntil": _ts(operation.refresh_valid_until),
    }


def _ts(value: datetime | None) -> str | None:
    return utc_timestamp(value) if value else None


def _operation_of_auth_token() -> AuthOperation:
    claims = decode_bearer("authentication")
    operation = current_state().auth_operations.get(claims["ref"])
    if operation is None:
        bad_request(21304, "Nie znaleziono operacji uwierzytelnienia.")
    return operation


@bp.get("/auth/<referenceNumber>")
def auth_status(referenceNumber: str) -> Response:
    state = current_state()
    operation = _operation_of_auth_token()
    if operation.reference_number != referenceNumber:
        if referenceNumber not in state.auth_operations:
            bad_request(21304, f"Nie znaleziono operacji {referenceNumber}.")
        forbidden("insufficient-resource-access")
    if state.now() > operation.started + RETENTION:
        gone("Status uwierzytelnienia jest przechowywany 7 dni.")
    return jsonify(_status_json(state, operation))


# -- tokens ----------------------------------------------------------------------------------------


@bp.post("/auth/token/redeem")
def redeem() -> Response:
    state = current_state()
    operation = _operation_of_auth_token()
    code, _ = current_status(state, operation)
    if code != 200:
        bad_request(21301, f"Status uwierzytelnienia ({code}) nie pozwala pobrać tokenów.")
    if operation.redeemed:
        bad_request(21301, "Tokeny zostały już pobrane (redeem jest jednorazowy).")
    now = state.now()
    operation.redeemed = True
    operation.refresh_valid_until = now + timedelta(days=state.config.refresh_token_days)
    refresh_claims = {
        "typ": "refresh",
        "ref": operation.reference_number,
        "iat": int(now.timestamp()),
        "exp": int(operation.refresh_valid_until.timestamp()),
        "jti": secrets.token_hex(8),
    }
    return jsonify(
        {
            "accessToken": _access_token(state, operation, set(operation.permissions)),
            "refreshToken": {
                "token": jwt.encode(refresh_claims, jwt_secret()),
                "validUntil": utc_timestamp(operation.refresh_valid_until),
            },
        }
    )


@bp.post("/auth/token/refresh")
def refresh() -> Response:
    state = current_state()
    claims = decode_bearer("refresh")
    operation = state.auth_operations.get(claims["ref"])
    if operation is None:
        bad_request(21304, "Nie znaleziono operacji uwierzytelnienia.")
    if operation.revoked:
        bad_request(21301, "Sesja uwierzytelnienia została unieważniona.")
    permissions = current_permissions(
        state, operation.context, operation.subject, operation.via_token
    )
    if not permissions:
        bad_request(21301, "Brak uprawnień w kontekście lub token KSeF unieważniony.")
    operation.last_refresh = state.now()
    return jsonify({"accessToken": _access_token(state, operation, permissions)})


def _access_token(state: State, operation: AuthOperation, permissions: set[str]) -> dict[str, str]:
    now = state.now()
    assert operation.refresh_valid_until is not None
    valid_until = min(
        now + timedelta(minutes=state.config.access_token_minutes), operation.refresh_valid_until
    )
    claims = {
        "typ": "access",
        "ref": operation.reference_number,
        "ctx": operation.context.as_json(),
        "sub": operation.subject.as_json(),
        "perms": sorted(permissions),
        "method": operation.method,
        "owner": is_owner(state, operation.context, operation.subject),
        "ksefToken": operation.via_token,
        "ipPolicy": operation.ip_policy,
        "iat": int(now.timestamp()),
        "exp": int(valid_until.timestamp()),
        "jti": base64.urlsafe_b64encode(secrets.token_bytes(9)).decode(),
    }
    return {"token": jwt.encode(claims, jwt_secret()), "validUntil": utc_timestamp(valid_until)}


# -- authentication sessions -----------------------------------------------------------------------


@bp.get("/auth/sessions")
@require_access()
def list_sessions() -> Response:
    state = current_state()
    ctx = access_context()
    now = state.now()
    sessions = [
        op
        for op in state.auth_operations.values()
        if op.context.key == ctx.context.key
        and op.redeemed
        and not op.revoked
        and op.refresh_valid_until is not None
        and op.refresh_valid_until > now
        and (op.subject.key == ctx.subject.key or ctx.has_any("CredentialsManage"))
    ]
    sessions.sort(key=lambda op: op.started, reverse=True)
    size = page_size(10, 100)
    offset = continuation_offset()
    page = sessions[offset : offset + size]
    items = []
    for op in page:
        item = _status_json(state, op)
        item["referenceNumber"] = op.reference_number
        item["isCurrent"] = op.reference_number == ctx.reference_number
        items.append(item)
    result: dict[str, Any] = {"items": items}
    if offset + size < len(sessions):
        result["continuationToken"] = encode_offset(offset + size)
    return jsonify(result)


@bp.delete("/auth/sessions/current")
def revoke_current_session() -> Response:
    state = current_state()
    claims = _access_or_refresh_claims()
    operation = state.auth_operations.get(claims["ref"])
    if operation is None:
        bad_request(21304, "Nie znaleziono sesji uwierzytelnienia.")
    operation.revoked = True
    return Response(status=204)


@bp.delete("/auth/sessions/<referenceNumber>")
@require_access()
def revoke_session(referenceNumber: str) -> Response:
    state = current_state()
    ctx = access_context()
    operation = state.auth_operations.get(referenceNumber)
    if operation is None or operation.context.key != ctx.context.key:
        bad_request(21304, f"Nie znaleziono sesji {referenceNumber}.")
    if operation.subject.key != ctx.subject.key and not ctx.has_any("CredentialsManage"):
        forbidden("insufficient-resource-access")
    operation.revoked = True
    return Response(status=204)


def _access_or_refresh_claims() -> dict[str, Any]:
    from ksef_simulator.security import bearer_token

    token = bearer_token()
    if token is None:
        unauthorized("Brak tokenu w nagłówku Authorization.")
    now = current_state().clock.timestamp()
    for kind in ("access", "refresh"):
        try:
            return jwt.decode(token, jwt_secret(), now=now, expected_type=kind)
        except jwt.InvalidToken:
            continue
    unauthorized("Nieprawidłowy lub wygasły token.")
