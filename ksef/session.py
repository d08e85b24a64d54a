"""Authentication flow and an auto-refreshing session (digest §2).

:func:`authenticate` runs challenge → XAdES signature or encrypted KSeF token → status
polling → redeem, and returns a :class:`KsefSession`. The session hands out a fresh access
token on demand: it refreshes the access token shortly before ``validUntil`` with the
refresh token, and re-runs the whole authentication (with the credential captured at
:func:`authenticate`) once the refresh token is expired, revoked or refused.

Use it with any client operation through :meth:`KsefSession.call`, which passes the
session's token getter as the operation's first argument and retries once after a 401::

    session = authenticate(client, context_type="Nip", context_value="5265877635",
                           certificate=cert, private_key=key)
    limits = session.call(client.get_certificate_limits)
    for invoice in session.call(client.iter_invoice_metadata, filters):
        ...
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Concatenate, ParamSpec, TypeVar

from cryptography import x509

from ksef.certificates import PrivateKey
from ksef.client import AccessToken, KsefClient
from ksef.crypto import KSEF_TOKEN_ENCRYPTION, encrypt_ksef_token, select_public_key_certificate
from ksef.errors import (
    AuthenticationFailed,
    BadRequestError,
    KsefError,
    OperationTimeout,
    UnauthorizedError,
)
from ksef.models import AuthenticationInit, AuthenticationTokens, SecretStr, TokenInfo
from ksef.xades import (
    AllowedIps,
    ContextType,
    SubjectIdentifierType,
    build_auth_token_request,
    sign_auth_token_request,
)

__all__ = ["Authenticator", "KsefSession", "authenticate", "obtain_tokens"]

logger = logging.getLogger("ksef.session")

P = ParamSpec("P")
R = TypeVar("R")

Authenticator = Callable[[], AuthenticationTokens]
"""Runs a full authentication and returns fresh tokens (used for unattended re-login)."""

_IN_PROGRESS = 100
_SUCCESS = 200
# 21470: the MF public key we used was withdrawn (rotation) — fetch the list and retry.
_UNKNOWN_PUBLIC_KEY = 21470


def _utc_now() -> datetime:
    return datetime.now(UTC)


def obtain_tokens(
    client: KsefClient,
    *,
    context_type: ContextType,
    context_value: str,
    certificate: x509.Certificate | None = None,
    private_key: PrivateKey | None = None,
    ksef_token: str | SecretStr | None = None,
    subject_identifier_type: SubjectIdentifierType = "certificateSubject",
    allowed_ips: AllowedIps | None = None,
    verify_certificate_chain: bool | None = None,
    poll_interval: float = 1.0,
    poll_timeout: float = 120.0,
    now: Callable[[], datetime] = _utc_now,
    sleep: Callable[[float], None] = time.sleep,
) -> AuthenticationTokens:
    """One complete authentication; returns the redeemed access and refresh tokens.

    Pass either ``certificate`` + ``private_key`` (XAdES) or ``ksef_token`` (a string, or
    the :class:`~ksef.models.SecretStr` of ``generate_ksef_token``, revealed only to encrypt
    it). Raises :class:`~ksef.errors.AuthenticationFailed` when the status ends in an error
    code (415 no permissions in the context, 450 bad token, 460 certificate error...).
    """
    if (ksef_token is None) == (certificate is None or private_key is None):
        raise ValueError("pass either certificate and private_key, or ksef_token")
    challenge = client.get_auth_challenge()
    if ksef_token is not None:
        init = _start_token_auth(
            client, challenge.challenge, challenge.timestamp_ms, context_type, context_value,
            ksef_token, allowed_ips, now(),
        )  # fmt: skip
    else:
        assert certificate is not None and private_key is not None
        unsigned = build_auth_token_request(
            challenge.challenge, context_type, context_value, subject_identifier_type, allowed_ips
        )
        signed = sign_auth_token_request(unsigned, certificate, private_key)
        init = client.authenticate_xades(signed, verify_certificate_chain=verify_certificate_chain)
    authentication_token = init.authentication_token.token
    _wait_for_authentication(client, init, poll_interval, poll_timeout, sleep)
    return client.redeem_tokens(authentication_token)


def _start_token_auth(
    client: KsefClient,
    challenge: str,
    timestamp_ms: int,
    context_type: str,
    context_value: str,
    ksef_token: str | SecretStr,
    allowed_ips: AllowedIps | None,
    moment: datetime,
) -> AuthenticationInit:
    for attempt in (1, 2):
        key = select_public_key_certificate(
            client.get_public_key_certificates(), KSEF_TOKEN_ENCRYPTION, moment
        )
        secret = ksef_token.reveal() if isinstance(ksef_token, SecretStr) else ksef_token
        # Integer milliseconds of the challenge, not the ISO timestamp (Gotcha 2).
        encrypted = encrypt_ksef_token(secret, timestamp_ms, key.certificate_der)
        try:
            return client.authenticate_ksef_token(
                challenge=challenge,
                context_type=context_type,
                context_value=context_value,
                encrypted_token=encrypted,
                public_key_id=key.public_key_id,
                allowed_ips=allowed_ips,
            )
        except BadRequestError as exc:
            if attempt == 2 or not exc.has_code(_UNKNOWN_PUBLIC_KEY):
                raise
            logger.info("MF public key %s withdrawn; reloading the key list", key.public_key_id)
    raise AssertionError("unreachable")  # pragma: no cover


def _wait_for_authentication(
    client: KsefClient,
    init: AuthenticationInit,
    poll_interval: float,
    poll_timeout: float,
    sleep: Callable[[float], None],
) -> None:
    waited = 0.0
    while True:
        status = client.get_auth_status(init.authentication_token.token, init.reference_number)
        code = status.status.code
        if code == _SUCCESS:
            return
        if code != _IN_PROGRESS:
            raise AuthenticationFailed(
                code=code,
                description=status.status.description,
                details=status.status.details,
                reference_number=init.reference_number,
            )
        if waited >= poll_timeout:
            raise OperationTimeout(
                f"authentication {init.reference_number} still in progress after "
                f"{poll_timeout:g}s (DEMO/PRD wait for the certificate's OCSP/CRL check)"
            )
        sleep(poll_interval)
        waited += poll_interval


def authenticate(
    client: KsefClient,
    *,
    context_type: ContextType,
    context_value: str,
    certificate: x509.Certificate | None = None,
    private_key: PrivateKey | None = None,
    ksef_token: str | SecretStr | None = None,
    subject_identifier_type: SubjectIdentifierType = "certificateSubject",
    allowed_ips: AllowedIps | None = None,
    verify_certificate_chain: bool | None = None,
    poll_interval: float = 1.0,
    poll_timeout: float = 120.0,
    refresh_margin: timedelta = timedelta(seconds=60),
    now: Callable[[], datetime] = _utc_now,
    sleep: Callable[[float], None] = time.sleep,
) -> KsefSession:
    """Authenticate in one context and return a self-renewing :class:`KsefSession`.

    The credential (key or KSeF token) is kept only inside the session's re-authentication
    closure, so an expired refresh token (after at most 7 days) leads to a silent re-login
    instead of an error.
    """
    authenticator = partial(
        obtain_tokens,
        client,
        context_type=context_type,
        context_value=context_value,
        certificate=certificate,
        private_key=private_key,
        ksef_token=ksef_token,
        subject_identifier_type=subject_identifier_type,
        allowed_ips=allowed_ips,
        verify_certificate_chain=verify_certificate_chain,
        poll_interval=poll_interval,
        poll_timeout=poll_timeout,
        now=now,
        sleep=sleep,
    )
    return KsefSession(
        client,
        authenticator(),
        authenticator=authenticator,
        context=f"{context_type}:{context_value}",
        refresh_margin=refresh_margin,
        now=now,
    )


class KsefSession:
    """Access and refresh tokens of one context, renewed on demand. Thread-safe.

    ``access_token()`` returns a token valid for at least ``refresh_margin``; pass the
    bound method itself wherever the client takes an :data:`~ksef.client.AccessToken`.
    """

    def __init__(
        self,
        client: KsefClient,
        tokens: AuthenticationTokens,
        *,
        authenticator: Authenticator | None = None,
        context: str = "",
        refresh_margin: timedelta = timedelta(seconds=60),
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.client = client
        self.context = context
        self._access: TokenInfo = tokens.access_token
        self._refresh: TokenInfo | None = tokens.refresh_token
        self._authenticator = authenticator
        self._margin = refresh_margin
        self._now = now
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        refresh = self._refresh.valid_until.isoformat() if self._refresh else None
        return (
            f"KsefSession(context={self.context!r}, "
            f"access_valid_until={self._access.valid_until.isoformat()}, "
            f"refresh_valid_until={refresh})"
        )

    def tokens(self) -> tuple[TokenInfo, TokenInfo | None]:
        """The current access and refresh tokens, for a caller that keeps them (encrypted)
        between runs and resumes with ``KsefSession(client, AuthenticationTokens(...))``."""
        with self._lock:
            return self._access, self._refresh

    @property
    def access_valid_until(self) -> datetime:
        return self._access.valid_until

    @property
    def refresh_valid_until(self) -> datetime | None:
        return self._refresh.valid_until if self._refresh else None

    def access_token(self) -> str:
        """The current access token, refreshed or re-authenticated first if it is about to
        expire."""
        with self._lock:
            if self._access.valid_until - self._margin <= self._now():
                self._renew()
            return self._access.token

    def refresh(self) -> None:
        """Renew the access token now (refresh token first, full re-authentication if that
        is refused or expired)."""
        with self._lock:
            self._renew()

    def reauthenticate(self) -> None:
        with self._lock:
            if self._authenticator is None:
                raise KsefError(
                    f"the KSeF session for {self.context or 'this context'} expired and has "
                    "no credential to authenticate again"
                )
            logger.info("re-authenticating KSeF session for %s", self.context)
            tokens = self._authenticator()
            self._access, self._refresh = tokens.access_token, tokens.refresh_token

    def _renew(self) -> None:
        refresh = self._refresh
        if refresh is not None and refresh.valid_until - self._margin > self._now():
            try:
                self._access = self.client.refresh_access_token(refresh.token)
                return
            except (UnauthorizedError, BadRequestError) as exc:
                # 401, or 21301/21304/21308: the refresh token was revoked or the
                # authentication is gone — only a new login helps.
                logger.info("refresh refused for %s (%s); logging in again", self.context, exc)
                self._refresh = None
        self.reauthenticate()

    def call(
        self, operation: Callable[Concatenate[AccessToken, P], R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Run a client operation with this session's token; after a 401 (token revoked or
        expired early) renew once and repeat — a 401 request was never executed."""
        try:
            return operation(self.access_token, *args, **kwargs)
        except UnauthorizedError:
            logger.info("401 for %s; renewing the access token", self.context)
            self.refresh()
            return operation(self.access_token, *args, **kwargs)

    def revoke(self) -> None:
        """``DELETE /auth/sessions/current``: end this login; the session cannot refresh
        afterwards (issued access tokens live until they expire, Gotcha 28)."""
        with self._lock:
            self.client.revoke_current_auth_session(self.access_token())
            self._refresh = None
            self._authenticator = None
