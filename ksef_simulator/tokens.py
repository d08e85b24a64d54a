"""KSeF tokens: generate (after a XAdES login), list, read and revoke (digest §10)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ksef_simulator.auth import token_status
from ksef_simulator.contract import body, validated_body
from ksef_simulator.errors import bad_request, forbidden, utc_timestamp, validation_error
from ksef_simulator.identifiers import reference_number
from ksef_simulator.paging import continuation_offset, encode_offset, page_size
from ksef_simulator.security import access_context, require_access
from ksef_simulator.state import KsefToken, current_state

bp = Blueprint("tokens", __name__)


@bp.post("/tokens")
@require_access()
@validated_body()
def generate() -> tuple[Response, int]:
    data = body()
    state = current_state()
    ctx = access_context()
    if ctx.context.type not in ("Nip", "InternalId"):
        bad_request(26002, f"Kontekst {ctx.context.type} nie pozwala generować tokenów.")
    if ctx.auth_method != "xades":
        forbidden("auth-method-not-allowed", authenticationMethodCategory="Token")
    requested = list(dict.fromkeys(data["permissions"]))
    if not requested:
        validation_error("permissions: wymagane co najmniej jedno uprawnienie")
    missing = [p for p in requested if p not in ctx.permissions]
    if missing:
        bad_request(26001, f"Brak uprawnień: {', '.join(missing)}.")
    now = state.now()
    ref = token_reference_number(now)
    secret = token_secret(ref, ctx.context.type, ctx.context.value)
    state.ksef_tokens[ref] = KsefToken(
        reference_number=ref,
        secret=secret,
        author=ctx.subject,
        context=ctx.context,
        description=data["description"],
        permissions=requested,
        created=now,
        active_at=now + timedelta(seconds=state.config.token_activation_seconds),
    )
    return jsonify({"referenceNumber": ref, "token": secret}), 202


def token_reference_number(now: datetime) -> str:
    """The contract's token examples carry `-EC-` reference numbers
    (`20251010-EC-1DCE3E3000-12ECB5B36E-45`), not a token-specific kind."""
    return reference_number("EC", now)


def token_secret(reference: str, context_type: str, context_value: str) -> str:
    """`{referenceNumber}|{contextType}-{contextValue}|{64 hex}` as in the contract's
    `POST /tokens` example (`...|internalId-5265877635-12345|919f7044...`): the context
    type with a lower-case first letter (`nip`, `internalId`), the secret lower-case hex."""
    kind = context_type[:1].lower() + context_type[1:]
    return f"{reference}|{kind}-{context_value}|{secrets.token_hex(32)}"


def _json(token: KsefToken) -> dict[str, Any]:
    state = current_state()
    item: dict[str, Any] = {
        "referenceNumber": token.reference_number,
        "authorIdentifier": token.author.as_json(),
        "contextIdentifier": token.context.as_json(),
        "description": token.description,
        "requestedPermissions": token.permissions,
        "dateCreated": utc_timestamp(token.created),
        "status": token_status(state, token),
    }
    if token.last_use is not None:
        item["lastUseDate"] = utc_timestamp(token.last_use)
    return item


@bp.get("/tokens")
@require_access()
def list_tokens() -> Response:
    state = current_state()
    ctx = access_context()
    statuses = request.args.getlist("status")
    description = request.args.get("description")
    author = request.args.get("authorIdentifier")
    author_type = request.args.get("authorIdentifierType")
    for value, name in ((description, "description"), (author, "authorIdentifier")):
        if value is not None and len(value) < 3:
            validation_error(f"{name}: co najmniej 3 znaki")
    tokens = [
        t
        for t in state.ksef_tokens.values()
        if t.context.key == ctx.context.key
        and (ctx.has_any("CredentialsManage", "CredentialsRead") or t.author.key == ctx.subject.key)
        and (not statuses or token_status(state, t) in statuses)
        and (description is None or description.lower() in t.description.lower())
        and (author is None or author in t.author.value)
        and (author_type is None or t.author.type == author_type)
    ]
    tokens.sort(key=lambda t: t.created, reverse=True)
    size = page_size(10, 100)
    offset = continuation_offset()
    result: dict[str, Any] = {"tokens": [_json(t) for t in tokens[offset : offset + size]]}
    if offset + size < len(tokens):
        result["continuationToken"] = encode_offset(offset + size)
    return jsonify(result)


def _visible_token(reference: str) -> KsefToken:
    state = current_state()
    ctx = access_context()
    token = state.ksef_tokens.get(reference)
    if token is None or token.context.key != ctx.context.key:
        bad_request(21405, f"Token {reference} nie istnieje w tym kontekście.")
    return token


@bp.get("/tokens/<referenceNumber>")
@require_access()
def get_token(referenceNumber: str) -> Response:
    return jsonify(_json(_visible_token(referenceNumber)))


@bp.delete("/tokens/<referenceNumber>")
@require_access()
def revoke_token(referenceNumber: str) -> Response:
    ctx = access_context()
    token = _visible_token(referenceNumber)
    own = token.author.key == ctx.subject.key or ctx.ksef_token == token.reference_number
    if not (own or ctx.has_any("CredentialsManage")):
        forbidden(
            "missing-permissions",
            requiredAnyOfPermissions=["CredentialsManage"],
            presentPermissions=sorted(ctx.permissions),
        )
    # Revocation takes effect at once for new logins and refreshes; access tokens
    # already issued live until they expire (Gotcha 28).
    token.status = "Revoked"
    return Response(status=204)
