"""Authentication operations of :class:`ksef.client.KsefClient` (digest §2).

The flow itself — challenge, signature or encrypted token, polling, redeem, refresh — is
driven by :mod:`ksef.session`; these are its single requests.
"""

from __future__ import annotations

from typing import Any

from ksef._http import AccessToken, KsefTransport, read_json
from ksef.crypto import PublicKeyCertificate
from ksef.models import (
    AuthenticationChallenge,
    AuthenticationInit,
    AuthenticationSessionPage,
    AuthenticationStatus,
    AuthenticationTokens,
    TokenInfo,
)
from ksef.xades import AllowedIps

__all__ = ["AuthOperations"]


class AuthOperations(KsefTransport):
    def get_auth_challenge(self) -> AuthenticationChallenge:
        """``POST /auth/challenge`` (no auth; safe to retry — a new challenge is harmless)."""
        return AuthenticationChallenge.from_json(
            self._post("/auth/challenge", None, None, idempotent=True)
        )

    def authenticate_xades(
        self, signed_xml: bytes, *, verify_certificate_chain: bool | None = None
    ) -> AuthenticationInit:
        """``POST /auth/xades-signature`` with the signed ``AuthTokenRequest`` as-is."""
        params = {}
        if verify_certificate_chain is not None:
            params["verifyCertificateChain"] = str(verify_certificate_chain).lower()
        response = self._send(
            "POST",
            "/auth/xades-signature",
            idempotent=False,
            content=signed_xml,
            content_type="application/xml",  # anything else is HTTP 415 (Gotcha 4)
            params=params,
        )
        return AuthenticationInit.from_json(read_json(response))

    def authenticate_ksef_token(
        self,
        *,
        challenge: str,
        context_type: str,
        context_value: str,
        encrypted_token: str,
        public_key_id: str | None = None,
        allowed_ips: AllowedIps | None = None,
    ) -> AuthenticationInit:
        """``POST /auth/ksef-token``; ``encrypted_token`` from ``crypto.encrypt_ksef_token``."""
        body: dict[str, Any] = {
            "challenge": challenge,
            "contextIdentifier": {"type": context_type, "value": context_value},
            "encryptedToken": encrypted_token,
        }
        if public_key_id is not None:
            body["publicKeyId"] = public_key_id
        if allowed_ips is not None and not allowed_ips.is_empty():
            body["authorizationPolicy"] = {
                "allowedIps": {
                    "ip4Addresses": list(allowed_ips.ip4_addresses),
                    "ip4Ranges": list(allowed_ips.ip4_ranges),
                    "ip4Masks": list(allowed_ips.ip4_masks),
                }
            }
        return AuthenticationInit.from_json(
            self._post("/auth/ksef-token", None, body, idempotent=False)
        )

    def get_auth_status(
        self, authentication_token: AccessToken, reference_number: str
    ) -> AuthenticationStatus:
        """``GET /auth/{ref}`` with the *authentication* token (Gotcha 1)."""
        return AuthenticationStatus.from_json(
            self._get(f"/auth/{reference_number}", authentication_token)
        )

    def redeem_tokens(self, authentication_token: AccessToken) -> AuthenticationTokens:
        """``POST /auth/token/redeem`` — works once (``21301`` after), so never retried."""
        return AuthenticationTokens.from_json(
            self._post("/auth/token/redeem", authentication_token, None, idempotent=False)
        )

    def refresh_access_token(self, refresh_token: AccessToken) -> TokenInfo:
        """``POST /auth/token/refresh`` with the *refresh* token; it is not rotated."""
        data = self._post("/auth/token/refresh", refresh_token, None, idempotent=True)
        return TokenInfo.from_json(data["accessToken"])

    def list_auth_sessions(
        self,
        access_token: AccessToken,
        *,
        page_size: int | None = None,
        continuation_token: str | None = None,
    ) -> AuthenticationSessionPage:
        headers = {"x-continuation-token": continuation_token} if continuation_token else None
        return AuthenticationSessionPage.from_json(
            self._get(
                "/auth/sessions", access_token, params={"pageSize": page_size}, headers=headers
            )
        )

    def revoke_current_auth_session(self, token: AccessToken) -> None:
        """``DELETE /auth/sessions/current`` (access or refresh token): kills the refresh token."""
        self._send("DELETE", "/auth/sessions/current", idempotent=True, token=token)

    def revoke_auth_session(self, access_token: AccessToken, reference_number: str) -> None:
        self._send(
            "DELETE", f"/auth/sessions/{reference_number}", idempotent=True, token=access_token
        )

    def get_public_key_certificates(self) -> list[PublicKeyCertificate]:
        """``GET /security/public-key-certificates`` (public) — the MF encryption keys."""
        data = read_json(self._send("GET", "/security/public-key-certificates", idempotent=True))
        return [PublicKeyCertificate.from_json(item) for item in data]
