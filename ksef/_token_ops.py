"""KSeF-token operations of :class:`ksef.client.KsefClient` (``/tokens``, digest §10).

Generating needs an access token from a XAdES login in a ``Nip`` or ``InternalId`` context
(``26002`` otherwise) and can only pass on permissions the caller holds (``26001``). Reading
and revoking are scoped by KSeF: with ``CredentialsRead``/``CredentialsManage`` every token of
the context, otherwise only the caller's own (or, logged in with a token, that token).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ksef._http import AccessToken, KsefTransport
from ksef.errors import KsefError
from ksef.models import GeneratedKsefToken, KsefTokenMetadata, KsefTokenPage

__all__ = ["TokenOperations"]


class TokenOperations(KsefTransport):
    def generate_ksef_token(
        self, access_token: AccessToken, *, permissions: Sequence[str], description: str
    ) -> GeneratedKsefToken:
        """``POST /tokens`` → reference number and the token, which KSeF never shows again.

        ``description`` is 5–256 characters. Not retried after a 5xx or timeout: a resend
        could leave two tokens, and only the one whose answer arrived is usable; find the
        other with :meth:`list_ksef_tokens` by description and revoke it.
        """
        body = {"permissions": list(permissions), "description": description}
        return GeneratedKsefToken.from_json(
            self._post("/tokens", access_token, body, idempotent=False)
        )

    def list_ksef_tokens(
        self,
        access_token: AccessToken,
        *,
        statuses: Sequence[str] = (),
        description: str | None = None,
        author_identifier: str | None = None,
        author_identifier_type: str | None = None,
        page_size: int | None = None,
        continuation_token: str | None = None,
    ) -> KsefTokenPage:
        """One page of ``GET /tokens``, newest first.

        ``statuses`` keeps tokens in any of them (all when empty); ``description`` and
        ``author_identifier`` match a case-insensitive substring of at least 3 characters;
        ``author_identifier_type`` is ``Nip``, ``Pesel`` or ``Fingerprint``; ``page_size`` is
        10–100 (KSeF's default 10). Pass the previous page's ``continuation_token`` for the
        next one.
        """
        params = {
            "status": list(statuses) or None,  # repeated: ?status=Active&status=Pending
            "description": description,
            "authorIdentifier": author_identifier,
            "authorIdentifierType": author_identifier_type,
            "pageSize": page_size,
        }
        headers = {"x-continuation-token": continuation_token} if continuation_token else None
        return KsefTokenPage.from_json(
            self._get("/tokens", access_token, params=params, headers=headers)
        )

    def iter_ksef_tokens(
        self,
        access_token: AccessToken,
        *,
        statuses: Sequence[str] = (),
        description: str | None = None,
        author_identifier: str | None = None,
        author_identifier_type: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[KsefTokenMetadata]:
        """Every token :meth:`list_ksef_tokens` finds, following ``x-continuation-token``."""
        continuation: str | None = None
        while True:
            page = self.list_ksef_tokens(
                access_token,
                statuses=statuses,
                description=description,
                author_identifier=author_identifier,
                author_identifier_type=author_identifier_type,
                page_size=page_size,
                continuation_token=continuation,
            )
            yield from page.tokens
            if page.continuation_token is None:
                return
            if page.continuation_token == continuation:
                # The same token again would page forever; stop loudly instead.
                raise KsefError("GET /tokens returned the continuation token it was given")
            continuation = page.continuation_token

    def get_ksef_token(self, access_token: AccessToken, reference_number: str) -> KsefTokenMetadata:
        """``GET /tokens/{referenceNumber}`` — e.g. to wait for ``Pending`` → ``Active``."""
        return KsefTokenMetadata.from_json(self._get(f"/tokens/{reference_number}", access_token))

    def revoke_ksef_token(self, access_token: AccessToken, reference_number: str) -> None:
        """``DELETE /tokens/{referenceNumber}``: new token logins fail with status 450 at once;
        access tokens already issued with it live until they expire (Gotcha 28)."""
        self._send("DELETE", f"/tokens/{reference_number}", idempotent=True, token=access_token)
