"""The one place where a stored credential meets KSeF: a live test login.

Adapts the plain `ksef` library to the portal: builds the client from settings, turns
every failure into a code and a plain-Polish message, and never lets a secret into a log
or an exception message. The HTTP transport is injectable (`set_transport`) so tests run
against the in-process simulator.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.utils.translation import gettext as _

from certificates.custody import SecretMaterial
from certificates.models import Credential
from ksef import certificates as kc
from ksef import errors

logger = logging.getLogger(__name__)

_transport: httpx.BaseTransport | None = None
TIMEOUT_SECONDS = 20.0
POLL_TIMEOUT_SECONDS = 60.0


def set_transport(transport: httpx.BaseTransport | None) -> None:
    """Route the gateway's HTTP through `transport` (tests: the simulator's WSGI app)."""
    global _transport
    _transport = transport


@dataclass(frozen=True)
class LoginOutcome:
    ok: bool
    code: str
    message: str


# KSeF authentication status codes (digest §2.6) as users should read them.
def _status_message(code: int, context_nip: str) -> str:
    messages = {
        415: _(
            "KSeF odmówił logowania: podmiot tego poświadczenia nie ma uprawnień w kontekście "
            "klienta (NIP %(nip)s). Klient musi nadać uprawnienia (np. w Aplikacji Podatnika) "
            "albo je przywrócić."
        ),
        425: _("KSeF unieważnił to uwierzytelnienie (kod 425). Spróbuj ponownie."),
        450: _(
            "KSeF odrzucił token: jest nieprawidłowy, unieważniony lub nieaktywny. Wygeneruj "
            "nowy token w kontekście klienta i prześlij go ponownie."
        ),
        460: _(
            "KSeF odrzucił certyfikat: jest nieważny, unieważniony, zawieszony albo nieznany "
            "w tym środowisku. Prześlij aktualny certyfikat KSeF."
        ),
        470: _("KSeF odrzucił logowanie: poświadczenie należy do osoby zmarłej (kod 470)."),
        480: _(
            "KSeF zablokował uwierzytelnienie z powodu podejrzenia incydentu bezpieczeństwa "
            "(kod 480) — skontaktuj się z Ministerstwem Finansów."
        ),
    }
    default = _("KSeF zwrócił błąd po swojej stronie (kod %(code)s). Spróbuj za kilka minut.")
    return messages.get(code, default) % {"nip": context_nip, "code": code}


def _unreachable() -> str:
    return _(
        "Nie udało się połączyć z KSeF (%(url)s) — serwer nie odpowiada. Sprawdź połączenie "
        "i spróbuj później."
    ) % {"url": settings.KSEF_BASE_URL}


def test_login(
    *, credential: Credential, material: SecretMaterial, context_nip: str
) -> LoginOutcome:
    """Authenticate with the credential into the client's context; never raises for KSeF."""
    try:
        _authenticate(credential, material, context_nip)
    except errors.AuthenticationFailed as exc:
        return LoginOutcome(False, str(exc.code), _status_message(exc.code, context_nip))
    except errors.KsefTransportError:
        logger.warning("KSeF unreachable during a live check of credential %s", credential.pk)
        return LoginOutcome(False, "network", _unreachable())
    except errors.OperationTimeout:
        return LoginOutcome(
            False,
            "timeout",
            _("KSeF nie zakończył uwierzytelnienia w oczekiwanym czasie. Spróbuj ponownie."),
        )
    except errors.RateLimitedError:
        return LoginOutcome(
            False,
            "429",
            _("KSeF ograniczył liczbę zapytań (HTTP 429). Odczekaj chwilę i spróbuj ponownie."),
        )
    except errors.KsefApiError as exc:
        return LoginOutcome(False, str(exc.status_code), _api_error_message(exc, context_nip))
    except (httpx.HTTPError, OSError):
        logger.warning("KSeF unreachable during a live check of credential %s", credential.pk)
        return LoginOutcome(False, "network", _unreachable())
    return LoginOutcome(
        True,
        "200",
        _("Połączenie działa: KSeF przyjął poświadczenie w kontekście klienta (NIP %(nip)s).")
        % {"nip": context_nip},
    )


def _api_error_message(exc: errors.KsefApiError, context_nip: str) -> str:
    if exc.has_code(21115):  # invalid certificate
        return _status_message(460, context_nip)
    if exc.has_code(21117):  # subject identifier invalid for the context type
        return _(
            "KSeF nie przyjął identyfikatora z certyfikatu dla kontekstu klienta (NIP %(nip)s)."
        ) % {"nip": context_nip}
    if exc.status_code >= 500:
        return _status_message(500, context_nip)
    return _("KSeF odrzucił żądanie logowania (HTTP %(status)s, kody: %(codes)s).") % {
        "status": exc.status_code,
        "codes": ", ".join(map(str, exc.codes)) or "—",
    }


def _authenticate(credential: Credential, material: SecretMaterial, context_nip: str) -> None:
    from ksef.client import KsefClient
    from ksef.session import authenticate

    http = httpx.Client(transport=_transport, timeout=TIMEOUT_SECONDS)
    # One retry at most: a person is waiting for the answer and can press the button again.
    with http, KsefClient(settings.KSEF_BASE_URL, http=http, max_retries=1) as client:
        if credential.kind == Credential.Kind.TOKEN:
            authenticate(
                client,
                context_type="Nip",
                context_value=context_nip,
                ksef_token=material.token,
                poll_timeout=POLL_TIMEOUT_SECONDS,
            )
            return
        certificate = kc.load_certificate(credential.certificate_pem.encode("ascii"))
        key = kc.load_private_key(
            material.private_key_pem.encode("ascii"), material.key_password or None
        )
        authenticate(
            client,
            context_type="Nip",
            context_value=context_nip,
            certificate=certificate,
            private_key=key,
            poll_timeout=POLL_TIMEOUT_SECONDS,
        )
