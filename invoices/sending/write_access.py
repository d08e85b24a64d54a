"""Whether the client's own credential may issue invoices in its KSeF context — asked before
an upload is accepted, so staff learn it from the upload page rather than from a 403 after
the files were checked.

In the office model the answer is the client's entity grant to the office (recorded and
verified daily by grants/; `services.send_blocked_reason`). In the client-credential model
it depends on whose credential the portal holds (digest §4, §10):

* the context's **owner** — the company's seal (its NIP) or a sole proprietor's own
  certificate (its NIP, or the owner's PESEL recorded in the ZAW-FA step) — holds every
  right: nothing to ask;
* a **person authorised** in the ZAW-FA filing holds CredentialsManage, and InvoiceWrite
  only if someone granted it: `POST /permissions/query/personal/grants` in the client's
  context says;
* a **KSeF token** carries the fixed permission set it was generated with:
  `GET /tokens/{referenceNumber}` (allowed for the token one logged in with) says.

The answer is cached per credential and client for a quarter of an hour. When KSeF cannot
be asked (down, busy, the login fails) the upload is not refused here: the sender meets
the same answer and reports it, and offline issuance must stay possible during an outage.
"""

from __future__ import annotations

import logging

from django.core.cache import cache

from certificates import connection
from certificates.custody import SecretUnreadable
from certificates.models import Credential
from certificates.selectors import expected_owners
from clients.models import Client
from ksef import errors
from ksef.models import Identifier

logger = logging.getLogger(__name__)

CACHE_SECONDS = 15 * 60
INVOICE_WRITE = "InvoiceWrite"
TOKEN_WITHOUT_INVOICE_WRITE = "token_without_invoice_write"
PERSON_WITHOUT_INVOICE_WRITE = "person_without_invoice_write"
_OWNER_ROLES = {"client", "owner"}


def holds_owner_rights(client: Client, credential: Credential) -> bool:
    """The credential names the owner of the client's context (every right, no grant)."""
    if credential.kind == Credential.Kind.TOKEN:
        return False
    kind = credential.owner_identifier_type.lower()
    return any(
        owner.role in _OWNER_ROLES
        and owner.identifier_type == kind
        and owner.identifier == credential.owner_identifier
        for owner in expected_owners(client.office, client)
    )


def _cache_key(client: Client, credential: Credential) -> str:
    return f"invoices:write-access:{credential.pk}:{client.pk}"


def credential_write_problem(client: Client, credential: Credential) -> str:
    """ "" when CREDENTIAL may issue invoices for CLIENT as far as KSeF tells; otherwise
    TOKEN_WITHOUT_INVOICE_WRITE or PERSON_WITHOUT_INVOICE_WRITE (job error codes)."""
    if holds_owner_rights(client, credential):
        return ""
    key = _cache_key(client, credential)
    cached = cache.get(key)
    if isinstance(cached, str):
        return cached
    try:
        problem = _ask_ksef(client, credential)
    except (SecretUnreadable, errors.KsefError, OSError) as exc:
        # Not an answer: the sender will meet the real one (and say it).
        logger.info(
            "write access of credential %s for client %s not known: %s",
            credential.pk,
            client.pk,
            type(exc).__name__,
        )
        return ""
    cache.set(key, problem, CACHE_SECONDS)
    return problem


def forget_write_access(client: Client, credential: Credential) -> None:
    """Drop the cached answer (after KSeF refused a send with 403, or a new grant)."""
    cache.delete(_cache_key(client, credential))


def _ask_ksef(client: Client, credential: Credential) -> str:
    with connection.ksef_context(
        credential=credential, context_nip=client.nip, purpose="invoice_write_check"
    ) as ctx:
        if credential.kind == Credential.Kind.TOKEN:
            token = ctx.session.call(ctx.client.get_ksef_token, credential.token_reference)
            return (
                "" if INVOICE_WRITE in token.requested_permissions else TOKEN_WITHOUT_INVOICE_WRITE
            )
        grants = ctx.session.call(
            ctx.client.query_personal_grants,
            context=Identifier("Nip", client.nip),
            permission_types=[INVOICE_WRITE],
            state="Active",
        )
        held = any(grant.scope == INVOICE_WRITE for grant in grants.items)
        return "" if held else PERSON_WITHOUT_INVOICE_WRITE
