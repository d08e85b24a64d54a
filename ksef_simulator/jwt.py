"""HS256 JWTs signed by the simulator (authentication, access and refresh tokens)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


class InvalidToken(ValueError):
    pass


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(claims: dict[str, Any], secret: bytes) -> str:
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    signature = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64url(signature)


def decode(token: str, secret: bytes, *, now: float, expected_type: str) -> dict[str, Any]:
    """Verify signature, `typ` claim and expiry; return the claims."""
    try:
        header_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(_unb64url(header_b64))
        claims = json.loads(_unb64url(claims_b64))
        signature = _unb64url(signature_b64)
    except (ValueError, json.JSONDecodeError) as exc:
        raise InvalidToken("token is not a JWT") from exc
    if header.get("alg") != "HS256":
        raise InvalidToken("unsupported algorithm")
    expected = hmac.new(
        secret, f"{header_b64}.{claims_b64}".encode("ascii"), hashlib.sha256
    ).digest()
    if not hmac.compare_digest(expected, signature):
        raise InvalidToken("bad signature")
    if not isinstance(claims, dict) or claims.get("typ") != expected_type:
        raise InvalidToken(f"not an {expected_type} token")
    if float(claims.get("exp", 0)) <= now:
        raise InvalidToken("token expired")
    return claims
