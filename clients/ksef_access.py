"""Authenticated KSeF sessions for the grant services, opened with stored credentials.

Built on the credentials engineer's primitives rather than a copy of them:
`certificates.custody.secret_read` decrypts and proves the secret (here, at the moment of
use, never earlier), and `certificates.ksef_gateway` owns the HTTP transport that tests
point at the in-process simulator. What this module adds is choosing the credential for a
context and keeping the session open for several operations:

* the client's context with the client's own credential (client credential model: the
  portal acts as the client, who is owner or holds CredentialsManage);
* the office's own context with the office credential (office model: indirect grants to
  staff, and discovering which clients granted the office rights).

Background work retries through Celery, so the KSeF client here never sleeps on a 5xx or
a 429: it raises at once and the task decides when to come back (Retry-After honoured).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.db.models import Case, IntegerField, QuerySet, Value, When

from certificates import ksef_gateway
from certificates.custody import secret_read
from certificates.models import Credential
from clients.models import Client
from ksef import certificates as kc
from ksef.client import KsefClient
from ksef.session import KsefSession, authenticate
from portal.audit import audit_record
from portal.models import Office

logger = logging.getLogger(__name__)

USABLE_KINDS = (Credential.Kind.AUTHENTICATION, Credential.Kind.TOKEN)
TIMEOUT_SECONDS = 20.0
# Authentication on DEMO/PRD waits for the certificate's OCSP/CRL check.
AUTH_POLL_TIMEOUT_SECONDS = 60.0


@dataclass
class KsefContext:
    """An open, authenticated connection to one KSeF context."""

    client: KsefClient
    session: KsefSession
    context_nip: str
    credential: Credential


def _usable(credentials: QuerySet[Credential]) -> Credential | None:
    certificate_first = Case(
        When(kind=Credential.Kind.AUTHENTICATION, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    found: Credential | None = (
        credentials.filter(status=Credential.Status.ACTIVE, kind__in=USABLE_KINDS)
        .order_by(certificate_first, "-uploaded_at")
        .first()
    )
    return found


def client_credential_for(client: Client) -> Credential | None:
    """The client's own active authentication certificate (or KSeF token), if stored."""
    return _usable(Credential.objects.filter(client=client))


def office_credential_for(office: Office) -> Credential | None:
    """The office's own active credential (office model), if stored."""
    return _usable(Credential.objects.filter(office=office, client__isnull=True))


@contextmanager
def ksef_context(
    *, credential: Credential, context_nip: str, purpose: str, rate_limit_retries: int = 0
) -> Iterator[KsefContext]:
    """Log in with `credential` into the context of NIP `context_nip`.

    Raises `certificates.custody.SecretUnreadable`, `ksef.errors.AuthenticationFailed` and the
    other `ksef.errors` as they come; the caller turns them into a state and a message. The
    use is written to the credential's custody log (audit "credential.used").
    `rate_limit_retries`: how many times a 429 is waited out (Retry-After, at most two
    minutes each) before it is raised; interactive work keeps 0 and reports "busy".
    """
    material = secret_read(credential)
    # The gateway's transport: None in production, the simulator's WSGI app in tests.
    http = httpx.Client(transport=ksef_gateway._transport, timeout=TIMEOUT_SECONDS)
    with (
        http,
        KsefClient(
            settings.KSEF_BASE_URL,
            http=http,
            max_retries=0,
            max_rate_limit_retries=rate_limit_retries,
        ) as client,
    ):
        if credential.kind == Credential.Kind.TOKEN:
            session = authenticate(
                client,
                context_type="Nip",
                context_value=context_nip,
                ksef_token=material.token,
                poll_timeout=AUTH_POLL_TIMEOUT_SECONDS,
            )
        else:
            session = authenticate(
                client,
                context_type="Nip",
                context_value=context_nip,
                certificate=kc.load_certificate(credential.certificate_pem.encode("ascii")),
                private_key=kc.load_private_key(
                    material.private_key_pem.encode("ascii"), material.key_password or None
                ),
                poll_timeout=AUTH_POLL_TIMEOUT_SECONDS,
            )
        del material
        audit_record(
            office=credential.office,
            actor=None,
            action="credential.used",
            obj=credential,
            details={"purpose": purpose, "context_nip": context_nip},
        )
        yield KsefContext(
            client=client, session=session, context_nip=context_nip, credential=credential
        )
