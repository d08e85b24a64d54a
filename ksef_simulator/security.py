"""Who is calling: `require_access(*permissions)` on views that need an access token.

The access token (JWT issued at redeem/refresh) carries the context, the authenticated
subject, the authentication method and the permission set valid *at issue time*; later
grants or revocations do not change it (KSeF behaves so — digest Gotchas 9 and 28).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, request

from ksef_simulator import jwt
from ksef_simulator.errors import forbidden, unauthorized
from ksef_simulator.state import Identifier, current_state

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class AccessContext:
    context: Identifier  # {"Nip"|"InternalId"|"NipVatUe"|"PeppolId", value}
    subject: Identifier  # {"Nip"|"Pesel"|"Fingerprint", value}; token auth: the token author
    permissions: frozenset[str]
    auth_method: str  # "xades" | "token"
    reference_number: str  # of the authentication operation (auth session)
    is_owner: bool
    ksef_token: str | None  # reference number of the KSeF token used, if any

    def has_any(self, *permissions: str) -> bool:
        return not permissions or bool(self.permissions.intersection(permissions))


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def decode_bearer(expected_type: str) -> dict[str, Any]:
    """Claims of the Bearer token of type authentication|access|refresh, or 401."""
    token = bearer_token()
    if token is None:
        unauthorized("Brak tokenu w nagłówku Authorization.")
    state = current_state()
    try:
        return jwt.decode(
            token, jwt_secret(), now=state.clock.timestamp(), expected_type=expected_type
        )
    except jwt.InvalidToken as exc:
        unauthorized(f"Nieprawidłowy lub wygasły token ({exc}).")


def jwt_secret() -> bytes:
    from flask import current_app

    return cast(bytes, current_app.extensions["ksef_simulator.jwt_secret"])


def peek_access_context() -> AccessContext | None:
    """The access context if the request carries a valid access token (no errors raised)."""
    token = bearer_token()
    if token is None:
        return None
    try:
        claims = jwt.decode(
            token, jwt_secret(), now=current_state().clock.timestamp(), expected_type="access"
        )
    except jwt.InvalidToken:
        return None
    return _context_from_claims(claims)


def access_context() -> AccessContext:
    """The authenticated caller (after require_access)."""
    return cast(AccessContext, g.ksef_access)


def authenticate_access() -> AccessContext:
    claims = decode_bearer("access")
    ctx = _context_from_claims(claims)
    _enforce_ip_policy(claims.get("ipPolicy"))
    g.ksef_access = ctx
    return ctx


def require_access(*any_of: str) -> Callable[[F], F]:
    """401 without a valid access token; 403 missing-permissions without any of `any_of`."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ctx = authenticate_access()
            if not ctx.has_any(*any_of):
                forbidden(
                    "missing-permissions",
                    requiredAnyOfPermissions=list(any_of),
                    presentPermissions=sorted(ctx.permissions),
                )
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def require_xades() -> None:
    """403 auth-method-not-allowed for KSeF-token sessions (certificate operations)."""
    if access_context().auth_method != "xades":
        forbidden("auth-method-not-allowed", authenticationMethodCategory="Token")


def _context_from_claims(claims: dict[str, Any]) -> AccessContext:
    return AccessContext(
        context=Identifier(claims["ctx"]["type"], claims["ctx"]["value"]),
        subject=Identifier(claims["sub"]["type"], claims["sub"]["value"]),
        permissions=frozenset(claims.get("perms", [])),
        auth_method=claims["method"],
        reference_number=claims["ref"],
        is_owner=bool(claims.get("owner")),
        ksef_token=claims.get("ksefToken"),
    )


def _enforce_ip_policy(policy: dict[str, Any] | None) -> None:
    if not policy:
        return
    allowed = policy.get("allowedIps") or {}
    addresses = allowed.get("ip4Addresses") or []
    ranges = allowed.get("ip4Ranges") or []
    masks = allowed.get("ip4Masks") or []
    if not (addresses or ranges or masks):
        return
    client = request.remote_addr or ""
    if ip_allowed(client, addresses, ranges, masks):
        return
    forbidden("ip-not-allowed", clientIp=client)


def ip_allowed(client: str, addresses: list[str], ranges: list[str], masks: list[str]) -> bool:
    try:
        ip = ipaddress.IPv4Address(client)
    except ValueError:
        return False
    if client in addresses:
        return True
    for item in ranges:
        low, _, high = item.partition("-")
        try:
            if ipaddress.IPv4Address(low.strip()) <= ip <= ipaddress.IPv4Address(high.strip()):
                return True
        except ValueError:
            continue
    for mask in masks:
        try:
            if ip in ipaddress.IPv4Network(mask.strip(), strict=False):
                return True
        except ValueError:
            continue
    return False
