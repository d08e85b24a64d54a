"""Errors in the official shapes.

* 400: `ExceptionResponse` (application/json) by default, `BadRequestProblemDetails`
  (application/problem+json) when the request sends `X-Error-Format: problem-details`.
* 401 / 403 / 410: always problem details (Unauthorized/Forbidden/GoneProblemDetails).
* 429: `TooManyRequestsResponse` or `TooManyRequestsProblemDetails`, with `Retry-After`.

Raise `KsefError` subclasses anywhere inside a view (helpers below); the handler
registered by the app renders them.
"""

from __future__ import annotations

import abc
import secrets
from datetime import UTC, datetime
from typing import Any, NoReturn

from flask import Response, jsonify, request

# Exception codes and their official descriptions (from the contract's tables).
DESCRIPTIONS: dict[int, str] = {
    9101: "Nieprawidłowy dokument.",
    9102: "Brak podpisu.",
    9103: "Przekroczona liczba dozwolonych podpisów.",
    9105: "Nieprawidłowy podpis.",
    21001: "Nieczytelna treść.",
    21111: "Nieprawidłowe wyzwanie autoryzacyjne.",
    21115: "Nieprawidłowy certyfikat.",
    21117: "Nieprawidłowy identyfikator podmiotu dla wskazanego typu kontekstu.",
    21155: "Przekroczono dozwoloną liczbę faktur w sesji.",
    21157: "Nieprawidłowy rozmiar części pakietu.",
    21161: "Przekroczono dozwoloną liczbę części pakietu.",
    21164: "Faktura o podanym identyfikatorze nie istnieje.",
    21165: "Faktura o podanym numerze KSeF nie jest jeszcze dostępna.",
    21166: "Korekta techniczna niedostępna.",
    21167: "Status faktury nie pozwala na korektę techniczną.",
    21173: "Brak sesji o wskazanym numerze referencyjnym.",
    21175: "Wynik zapytania o podanym identyfikatorze nie istnieje.",
    21178: "Nie znaleziono UPO dla podanych kryteriów.",
    21180: "Status sesji nie pozwala na wykonanie operacji.",
    21181: "Nieprawidłowe żądanie eksportu faktur.",
    21182: "Osiągnięto limit trwających eksportów.",
    21183: "Zakres filtrowania wykracza poza dostępny zakres danych.",
    21205: "Pakiet nie może być pusty.",
    21208: "Czas oczekiwania na requesty upload lub finish został przekroczony.",
    21217: "Nieprawidłowe kodowanie znaków.",
    21301: "Brak autoryzacji.",
    21304: "Brak uwierzytelnienia.",
    21308: "Próba wykorzystania metod autoryzacyjnych osoby zmarłej.",
    21401: "Dokument nie jest zgodny ze schemą (xsd).",
    21402: "Nieprawidłowy rozmiar pliku.",
    21403: "Nieprawidłowy skrót pliku.",
    21405: "Błąd walidacji danych wejściowych.",
    21406: "Konflikt podpisu i typu uwierzytelnienia.",
    21418: "Przekazany token kontynuacji ma nieprawidłowy format.",
    21470: "Przesłany identyfikator klucza jest nieznany lub wskazuje na wycofany klucz.",
    25001: "Brak możliwości pobrania danych do CSR dla wykorzystanego sposobu uwierzytelnienia.",
    25002: "Brak możliwości złożenia wniosku certyfikacyjnego dla wykorzystanego sposobu "
    "uwierzytelnienia.",
    25003: "Dane w CSR nie zgadzają się z danymi w użytym wektorze uwierzytelniającym.",
    25004: "Niepoprawny format CSR lub niepoprawny podpis CSR.",
    25005: "Wniosek certyfikacyjny o podanym numerze referencyjnym nie istnieje.",
    25006: "Osiągnięto limit możliwych do złożenia wniosków certyfikacyjnych.",
    25007: "Osiągnięto limit dopuszczalnej liczby posiadanych certyfikatów.",
    25008: "Certyfikat o podanym numerze seryjnym nie istnieje.",
    25009: "Nie można odwołać wskazanego certyfikatu, ponieważ jest już odwołany, "
    "zablokowany lub nieważny.",
    25010: "Nieprawidłowy typ lub długość klucza.",
    25011: "Nieprawidłowy algorytm podpisu CSR.",
    26001: "Nie można nadać tokenowi uprawnień których nie posiadasz.",
    26002: "Nie można wygenerować tokena dla obecnego typu kontekstu.",
    30001: "Podmiot lub uprawnienie już istnieje.",
}

FORBIDDEN_DETAILS = {
    "missing-permissions": "Brak wymaganych uprawnień do wykonania operacji w bieżącym kontekście.",
    "ip-not-allowed": "Żądanie pochodzi z adresu IP innego niż wskazany podczas uwierzytelnienia.",
    "insufficient-resource-access": "Brak dostępu do wskazanego zasobu.",
    "auth-method-not-allowed": "Ta operacja nie jest dostępna dla użytej metody uwierzytelnienia.",
    "security-service-blocked": "Żądanie zostało zablokowane przez mechanizmy bezpieczeństwa.",
    "context-type-not-allowed": "Operacja nie jest dostępna dla uwierzytelnionego typu kontekstu.",
}


def utc_timestamp(moment: datetime | None = None) -> str:
    """ISO 8601 with 7 fractional digits and an explicit offset, as KSeF writes them."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    # isoformat is several times faster than strftime, and an export of 10,000 invoices
    # prints 30,000 of these.
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "0+00:00"


def trace_id() -> str:
    return secrets.token_hex(16)


class KsefError(Exception, abc.ABC):
    """An error answered in one of the contract's shapes; each subclass renders its own."""

    status = 500

    @abc.abstractmethod
    def render(self) -> Response: ...


class BadRequest(KsefError):
    """400 with one or more exception codes."""

    status = 400

    def __init__(self, errors: list[tuple[int, list[str] | None]]) -> None:
        super().__init__(", ".join(str(code) for code, _ in errors))
        self.errors = errors

    def render(self) -> Response:
        now = _now()
        if _wants_problem_details():
            body: dict[str, Any] = {
                "title": "Bad Request",
                "status": 400,
                "instance": request.path,
                "detail": "Żądanie jest nieprawidłowe.",
                "errors": [
                    {"code": code, "description": DESCRIPTIONS.get(code, "Błąd."), "details": det}
                    for code, det in self.errors
                ],
                "timestamp": utc_timestamp(now),
                "traceId": trace_id(),
            }
            return _problem(body, 400)
        exception = {
            "exceptionDetailList": [
                {
                    "exceptionCode": code,
                    "exceptionDescription": DESCRIPTIONS.get(code, "Błąd."),
                    "details": det,
                }
                for code, det in self.errors
            ],
            "serviceCode": f"00-{trace_id()}-{secrets.token_hex(8)}-00",
            "serviceCtx": "srvKSEFSIM",
            "serviceName": "ksef-simulator",
            "timestamp": utc_timestamp(now),
        }
        response = jsonify({"exception": exception})
        response.status_code = 400
        return response


class Unauthorized(KsefError):
    status = 401

    def __init__(self, detail: str = "Wymagane jest uwierzytelnienie.") -> None:
        super().__init__(detail)
        self.detail = detail

    def render(self) -> Response:
        body = {
            "title": "Unauthorized",
            "status": 401,
            "detail": self.detail,
            "instance": request.path,
            "traceId": trace_id(),
            "timestamp": utc_timestamp(_now()),
        }
        response = _problem(body, 401)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response


class Forbidden(KsefError):
    status = 403

    def __init__(
        self,
        reason_code: str,
        security: dict[str, Any] | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(reason_code)
        self.reason_code = reason_code
        self.security = security
        self.detail = detail or FORBIDDEN_DETAILS[reason_code]

    def render(self) -> Response:
        body = {
            "title": "Forbidden",
            "status": 403,
            "detail": self.detail,
            "instance": request.path,
            "reasonCode": self.reason_code,
            "security": self.security,
            "traceId": trace_id(),
            "timestamp": utc_timestamp(_now()),
        }
        return _problem(body, 403)


class Gone(KsefError):
    status = 410

    def __init__(self, detail: str = "Operacja wygasła i nie jest już dostępna.") -> None:
        super().__init__(detail)
        self.detail = detail

    def render(self) -> Response:
        body = {
            "title": "Gone",
            "status": 410,
            "instance": request.path,
            "detail": self.detail,
            "timestamp": utc_timestamp(_now()),
            "traceId": trace_id(),
        }
        return _problem(body, 410)


class TooManyRequests(KsefError):
    status = 429

    def __init__(self, retry_after: int, detail: str) -> None:
        super().__init__(detail)
        self.retry_after = max(1, int(retry_after))
        self.detail = detail

    def render(self) -> Response:
        if _wants_problem_details():
            body: dict[str, Any] = {
                "title": "Too Many Requests",
                "status": 429,
                "instance": request.path,
                "detail": self.detail,
                "timestamp": utc_timestamp(_now()),
                "traceId": trace_id(),
            }
            response = _problem(body, 429)
        else:
            response = jsonify(
                {
                    "status": {
                        "code": 429,
                        "description": "Too Many Requests",
                        "details": [self.detail],
                    }
                }
            )
            response.status_code = 429
        response.headers["Retry-After"] = str(self.retry_after)
        return response


class UnsupportedMediaType(KsefError):
    """415 for POST /auth/xades-signature without application/xml (no body in the contract)."""

    status = 415

    def render(self) -> Response:
        return Response(status=415)


class ServerError(KsefError):
    """5xx produced by fault injection; the contract declares no body for it."""

    def __init__(self, status: int = 500) -> None:
        super().__init__(str(status))
        self.status = status

    def render(self) -> Response:
        return Response(status=self.status)


# -- helpers that raise ------------------------------------------------------------------


def bad_request(code: int, *details: str) -> NoReturn:
    raise BadRequest([(code, list(details) or None)])


def validation_error(*details: str) -> NoReturn:
    """400 / 21405, the generic input-validation error."""
    bad_request(21405, *details)


def unauthorized(detail: str = "Wymagane jest uwierzytelnienie.") -> NoReturn:
    raise Unauthorized(detail)


def forbidden(reason_code: str, detail: str | None = None, **security: Any) -> NoReturn:
    raise Forbidden(reason_code, security or None, detail)


def gone(detail: str = "Operacja wygasła i nie jest już dostępna.") -> NoReturn:
    raise Gone(detail)


def render_error(error: KsefError) -> Response:
    return error.render()


def _wants_problem_details() -> bool:
    return request.headers.get("X-Error-Format", "").strip().lower() == "problem-details"


def _problem(body: dict[str, Any], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _now() -> datetime:
    from ksef_simulator.state import current_state

    try:
        return current_state().now()
    except (RuntimeError, KeyError):
        return datetime.now(UTC)
