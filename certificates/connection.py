"""The one module that opens an authenticated KSeF session for the portal.

Given a stored credential (or a client, whose access model picks the credential) and a
purpose, it decrypts the secret at the moment of use (`certificates.custody.secret_read`),
logs in to the wanted context with XAdES or a KSeF token, writes the custody-log entry
("credential.used") and hands back the open session. Every failure a person may see is
turned into a code and a plain-Polish message here (`auth_failure_message`, `test_login`).

Callers: the live test login (certificates.services), the grant services and checks
(grants/), the sync engine (invoices/sync/) and the demo. Which credential serves a
client's context depends on its access model:

* client credential model — the client's own authentication certificate or KSeF token,
  logging in to the client's context as the client (owner or CredentialsManage);
* office model — the office's own credential, logging in to the office's context (its
  grants to staff) or to the client's context, where KSeF admits it through the entity
  grant the client gave the office (InvoiceRead/InvoiceWrite).

The HTTP transport is injectable (`set_transport`): None in production, the in-process
simulator in tests. Background work retries through Celery, so the KSeF client here never
sleeps on a 5xx: it raises at once and the task decides when to come back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext_noop

from certificates.custody import SecretMaterial, secret_read
from certificates.models import Credential, KsefSessionTokens
from clients.models import AccessModel, Client
from ksef import certificates as kc
from ksef import errors
from ksef.client import KsefClient
from ksef.models import AuthenticationTokens, TokenInfo
from ksef.session import KsefSession, authenticate, obtain_tokens
from portal.audit import audit_record
from portal.messages import StoredText, deferred
from portal.models import Office

logger = logging.getLogger(__name__)

USABLE_KINDS = (Credential.Kind.AUTHENTICATION, Credential.Kind.TOKEN)
TIMEOUT_SECONDS = 20.0
# Authentication on DEMO/PRD waits for the certificate's OCSP/CRL check.
AUTH_POLL_TIMEOUT_SECONDS = 60.0
# A cached login whose refresh token expires sooner than this is not resumed.
SESSION_REUSE_MARGIN = timedelta(minutes=30)

_transport: httpx.BaseTransport | None = None


def set_transport(transport: httpx.BaseTransport | None) -> None:
    """Route every KSeF request through `transport` (tests: the simulator's WSGI app)."""
    global _transport
    _transport = transport


def transport() -> httpx.BaseTransport | None:
    """The transport in force: None means real HTTP to `settings.KSEF_BASE_URL`."""
    return _transport


def http_client(*, timeout: float = TIMEOUT_SECONDS) -> httpx.Client:
    """An httpx client on the transport in force (the caller closes it)."""
    return httpx.Client(transport=_transport, timeout=timeout)


def _login(
    client: KsefClient, credential: Credential, material: SecretMaterial, context_nip: str
) -> KsefSession:
    """Authenticate into the context of NIP `context_nip` with the decrypted secret."""
    if credential.kind == Credential.Kind.TOKEN:
        return authenticate(
            client,
            context_type="Nip",
            context_value=context_nip,
            ksef_token=material.token,
            poll_timeout=AUTH_POLL_TIMEOUT_SECONDS,
        )
    return authenticate(
        client,
        context_type="Nip",
        context_value=context_nip,
        certificate=kc.load_certificate(credential.certificate_pem.encode("ascii")),
        private_key=kc.load_private_key(
            material.private_key_pem.encode("ascii"), material.key_password or None
        ),
        poll_timeout=AUTH_POLL_TIMEOUT_SECONDS,
    )


@dataclass
class KsefContext:
    """An open, authenticated connection to one KSeF context."""

    client: KsefClient
    session: KsefSession
    context_nip: str
    credential: Credential


# --- which credential ----------------------------------------------------------------------


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


def credential_for_client_context(client: Client) -> Credential | None:
    """The credential that logs in to the client's own context under its access model."""
    if client.access_model == AccessModel.OFFICE:
        return office_credential_for(client.office)
    if client.access_model == AccessModel.CLIENT_CREDENTIAL:
        return client_credential_for(client)
    return None


# --- sessions ------------------------------------------------------------------------------


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
    http = http_client()
    with (
        http,
        KsefClient(
            settings.KSEF_BASE_URL,
            http=http,
            max_retries=0,
            max_rate_limit_retries=rate_limit_retries,
        ) as client,
    ):
        session = _login(client, credential, material, context_nip)
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


def _login_tokens(
    client: KsefClient,
    credential: Credential,
    context_nip: str,
    purpose: str,
    *,
    now: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> AuthenticationTokens:
    """A full login (XAdES or KSeF token): decrypt the secret, sign, audit the use."""
    material = secret_read(credential)
    if credential.kind == Credential.Kind.TOKEN:
        secret: dict[str, Any] = {"ksef_token": material.token}
    else:
        secret = {
            "certificate": kc.load_certificate(credential.certificate_pem.encode("ascii")),
            "private_key": kc.load_private_key(
                material.private_key_pem.encode("ascii"), material.key_password or None
            ),
        }
    del material
    tokens = obtain_tokens(
        client,
        context_type="Nip",
        context_value=context_nip,
        poll_timeout=AUTH_POLL_TIMEOUT_SECONDS,
        poll_interval=0.5,
        now=now,
        sleep=sleep,
        **secret,
    )
    audit_record(
        office=credential.office,
        actor=None,
        action="credential.used",
        obj=credential,
        details={"purpose": purpose, "context_nip": context_nip},
    )
    return tokens


def _cached_tokens(
    credential: Credential, context_nip: str, now: datetime
) -> AuthenticationTokens | None:
    rows = KsefSessionTokens.objects.filter(credential=credential, context_nip=context_nip)
    try:
        row = rows.first()
    except Exception:  # damaged or encrypted with another key: a fresh login repairs it
        logger.warning("cached KSeF session of credential %s unreadable", credential.pk)
        return None
    if row is None or row.refresh_valid_until is None or not row.refresh_token:
        return None
    if row.refresh_valid_until - SESSION_REUSE_MARGIN <= now:
        return None  # about to expire: a fresh login now beats one mid-cycle
    return AuthenticationTokens(
        access_token=TokenInfo(str(row.access_token), row.access_valid_until),
        refresh_token=TokenInfo(str(row.refresh_token), row.refresh_valid_until),
    )


def _keep_tokens(credential: Credential, context_nip: str, session: KsefSession) -> None:
    access, refresh = session.tokens()
    KsefSessionTokens.objects.update_or_create(
        credential=credential,
        context_nip=context_nip,
        defaults={
            "access_token": access.token,
            "access_valid_until": access.valid_until,
            "refresh_token": refresh.token if refresh else "",
            "refresh_valid_until": refresh.valid_until if refresh else None,
        },
    )


@contextmanager
def reusable_session(
    *,
    credential: Credential,
    context_nip: str,
    purpose: str,
    http: httpx.Client,
    now: Callable[[], datetime] = timezone.now,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[KsefContext]:
    """A KSeF session for unattended work that returns every few minutes (the sync).

    The tokens of the last login are kept encrypted (KsefSessionTokens) and reused: the
    access token while valid, then the refresh token (up to 7 days), and only then a new
    login with the credential, which is when the secret is decrypted and the use written
    to the custody log. No retries inside: the caller's task decides when to come back.
    """
    client = KsefClient(
        settings.KSEF_BASE_URL,
        http=http,
        timeout=TIMEOUT_SECONDS,
        max_retries=0,
        max_rate_limit_retries=0,
    )

    def login() -> AuthenticationTokens:
        return _login_tokens(client, credential, context_nip, purpose, now=now, sleep=sleep)

    tokens = _cached_tokens(credential, context_nip, now()) or login()
    session = KsefSession(
        client, tokens, authenticator=login, context=f"Nip:{context_nip}", now=now
    )
    try:
        yield KsefContext(
            client=client, session=session, context_nip=context_nip, credential=credential
        )
    finally:
        _keep_tokens(credential, context_nip, session)


def forget_session(*, credential: Credential, context_nip: str) -> None:
    """Drop the cached tokens (after KSeF refused them, or the rights changed)."""
    KsefSessionTokens.objects.filter(credential=credential, context_nip=context_nip).delete()


# --- the live test login and the messages of failed logins ------------------------------


@dataclass(frozen=True)
class LoginOutcome:
    ok: bool
    code: str
    message: str


# KSeF authentication status codes (digest §2.6) as users should read them.
def auth_failure_message(code: int, context_nip: str) -> StoredText:
    messages = {
        415: gettext_noop(
            "KSeF odmówił logowania: podmiot tego poświadczenia nie ma uprawnień w kontekście "
            "klienta (NIP %(nip)s). Klient musi nadać uprawnienia (np. w Aplikacji Podatnika) "
            "albo je przywrócić."
        ),
        425: gettext_noop("KSeF unieważnił to uwierzytelnienie (kod 425). Spróbuj ponownie."),
        450: gettext_noop(
            "KSeF odrzucił token: jest nieprawidłowy, unieważniony lub nieaktywny. Wygeneruj "
            "nowy token w kontekście klienta i prześlij go ponownie."
        ),
        460: gettext_noop(
            "KSeF odrzucił certyfikat: jest nieważny, unieważniony, zawieszony albo nieznany "
            "w tym środowisku. Prześlij aktualny certyfikat KSeF."
        ),
        470: gettext_noop(
            "KSeF odrzucił logowanie: poświadczenie należy do osoby zmarłej (kod 470)."
        ),
        480: gettext_noop(
            "KSeF zablokował uwierzytelnienie z powodu podejrzenia incydentu bezpieczeństwa "
            "(kod 480) — skontaktuj się z Ministerstwem Finansów."
        ),
    }
    default = gettext_noop(
        "KSeF zwrócił błąd po swojej stronie (kod %(code)s). Spróbuj za kilka minut."
    )
    return deferred(messages.get(code, default), {"nip": context_nip, "code": code})


def _unreachable() -> StoredText:
    return deferred(
        gettext_noop(
            "Nie udało się połączyć z KSeF (%(url)s) — serwer nie odpowiada. Sprawdź "
            "połączenie i spróbuj później."
        ),
        {"url": settings.KSEF_BASE_URL},
    )


def test_login(
    *, credential: Credential, material: SecretMaterial, context_nip: str
) -> LoginOutcome:
    """Authenticate with the credential into the client's context; never raises for KSeF."""
    try:
        _authenticate(credential, material, context_nip)
    except errors.AuthenticationFailed as exc:
        return LoginOutcome(False, str(exc.code), auth_failure_message(exc.code, context_nip))
    except errors.KsefTransportError:
        logger.warning("KSeF unreachable during a live check of credential %s", credential.pk)
        return LoginOutcome(False, "network", _unreachable())
    except errors.OperationTimeout:
        return LoginOutcome(
            False,
            "timeout",
            deferred(
                gettext_noop(
                    "KSeF nie zakończył uwierzytelnienia w oczekiwanym czasie. Spróbuj ponownie."
                )
            ),
        )
    except errors.RateLimitedError:
        return LoginOutcome(
            False,
            "429",
            deferred(
                gettext_noop(
                    "KSeF ograniczył liczbę zapytań (HTTP 429). Odczekaj chwilę i spróbuj ponownie."
                )
            ),
        )
    except errors.KsefApiError as exc:
        return LoginOutcome(False, str(exc.status_code), _api_error_message(exc, context_nip))
    except (httpx.HTTPError, OSError):
        logger.warning("KSeF unreachable during a live check of credential %s", credential.pk)
        return LoginOutcome(False, "network", _unreachable())
    return LoginOutcome(
        True,
        "200",
        deferred(
            gettext_noop(
                "Połączenie działa: KSeF przyjął poświadczenie w kontekście klienta (NIP %(nip)s)."
            ),
            {"nip": context_nip},
        ),
    )


def _api_error_message(exc: errors.KsefApiError, context_nip: str) -> StoredText:
    if exc.has_code(21115):  # invalid certificate
        return auth_failure_message(460, context_nip)
    if exc.has_code(21117):  # subject identifier invalid for the context type
        return deferred(
            gettext_noop(
                "KSeF nie przyjął identyfikatora z certyfikatu dla kontekstu klienta (NIP %(nip)s)."
            ),
            {"nip": context_nip},
        )
    if exc.status_code >= 500:
        return auth_failure_message(500, context_nip)
    return deferred(
        gettext_noop("KSeF odrzucił żądanie logowania (HTTP %(status)s, kody: %(codes)s)."),
        {"status": exc.status_code, "codes": ", ".join(map(str, exc.codes)) or "—"},
    )


def _authenticate(credential: Credential, material: SecretMaterial, context_nip: str) -> None:
    http = http_client()
    # One retry at most: a person is waiting for the answer and can press the button again.
    with http, KsefClient(settings.KSEF_BASE_URL, http=http, max_retries=1) as client:
        _login(client, credential, material, context_nip)
