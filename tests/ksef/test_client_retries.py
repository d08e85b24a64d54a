"""Retries, rate limits and both KSeF error formats, against contract-checked mocks."""

from __future__ import annotations

import logging
from datetime import timedelta
from email.utils import format_datetime

import httpx
import pytest

from ksef.client import KsefClient, parse_retry_after, redact_headers
from ksef.errors import (
    BadRequestError,
    ForbiddenError,
    GoneError,
    KsefTransportError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
)
from ksef.models import Identifier, PersonSubjectDetails
from tests.ksef.test_client_contract_mocks import (
    BASE,
    NOW,
    ContractMock,
    Reply,
    exception_response,
    ksef_mock,
    problem,
    ref,
    ts,
)

__all__ = ["ksef_mock"]

LIMITS = {
    "canRequest": True,
    "enrollment": {"remaining": 12, "limit": 300},
    "certificate": {"remaining": 99, "limit": 100},
}
TOO_MANY = {
    "status": {
        "code": 429,
        "description": "Too Many Requests",
        "details": ["Przekroczono limit 20 żądań na minutę."],
    }
}
SERVER_ERROR = Reply(503, raw=b"Service Unavailable")
ACCESS = "eyJhbGciOiJIUzI1NiJ9.secret-access-token"


class Sleeper:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client(sleeper: Sleeper, **kwargs: object) -> KsefClient:
    return KsefClient(BASE, sleep=sleeper, clock=lambda: NOW, jitter=lambda: 0.5, **kwargs)  # type: ignore[arg-type]


def test_a_429_waits_for_retry_after_seconds_and_then_succeeds(ksef_mock: ContractMock) -> None:
    route = ksef_mock.on(
        "GET",
        "/certificates/limits",
        Reply(429, TOO_MANY, headers={"Retry-After": "30"}),
        Reply(200, LIMITS),
    )
    sleeper = Sleeper()

    limits = client(sleeper).get_certificate_limits(ACCESS)

    assert limits.enrollment.remaining == 12
    assert sleeper.waits == [30.0]
    assert route.call_count == 2


def test_a_429_with_an_http_date_waits_until_that_moment() -> None:
    later = format_datetime(NOW + timedelta(seconds=45), usegmt=True)
    assert parse_retry_after(later, NOW) == 45.0
    assert parse_retry_after("7", NOW) == 7.0
    assert parse_retry_after("soon", NOW) is None


def test_a_429_is_retried_even_for_a_grant_because_it_was_not_processed(
    ksef_mock: ContractMock,
) -> None:
    route = ksef_mock.on(
        "POST",
        "/permissions/entities/grants",
        Reply(
            429,
            problem(429, detail="Przekroczono limit."),
            "application/problem+json",
            {"Retry-After": "2"},
        ),
        Reply(202, {"referenceNumber": ref("PO")}),
    )
    sleeper = Sleeper()

    reference = client(sleeper).grant_entity_permissions(
        ACCESS,
        nip="5265877635",
        permissions={"InvoiceRead": True},
        description="Biuro rachunkowe",
        full_name="Biuro Rachunkowe Test sp. z o.o.",
    )

    assert reference == ref("PO")
    assert route.call_count == 2 and sleeper.waits == [2.0]


def test_a_retry_after_beyond_the_bound_is_raised_at_once(ksef_mock: ContractMock) -> None:
    ksef_mock.on(
        "GET", "/certificates/limits", Reply(429, TOO_MANY, headers={"Retry-After": "3600"})
    )
    sleeper = Sleeper()

    with pytest.raises(RateLimitedError) as caught:
        client(sleeper, max_retry_after=60).get_certificate_limits(ACCESS)

    assert caught.value.retry_after == 3600
    assert caught.value.status_code == 429
    assert sleeper.waits == []


def test_repeated_429s_stop_after_the_configured_number_of_retries(ksef_mock: ContractMock) -> None:
    route = ksef_mock.on(
        "GET", "/certificates/limits", Reply(429, TOO_MANY, headers={"Retry-After": "1"})
    )
    with pytest.raises(RateLimitedError):
        client(Sleeper(), max_rate_limit_retries=2).get_certificate_limits(ACCESS)
    assert route.call_count == 3


def test_a_get_is_retried_with_exponential_backoff_on_5xx_and_timeouts(
    ksef_mock: ContractMock,
) -> None:
    route = ksef_mock.on(
        "GET",
        "/certificates/limits",
        SERVER_ERROR,
        httpx.ReadTimeout("slow"),
        SERVER_ERROR,
        Reply(200, LIMITS),
    )
    sleeper = Sleeper()

    client(sleeper, backoff_base=1.0).get_certificate_limits(ACCESS)

    assert route.call_count == 4
    # equal jitter with jitter()=0.5: 0.75 x (1, 2, 4)
    assert sleeper.waits == [0.75, 1.5, 3.0]


def test_a_get_gives_up_after_max_retries_with_a_server_error(ksef_mock: ContractMock) -> None:
    route = ksef_mock.on("GET", "/certificates/limits", SERVER_ERROR)
    with pytest.raises(ServerError) as caught:
        client(Sleeper(), max_retries=2).get_certificate_limits(ACCESS)
    assert caught.value.status_code == 503
    assert route.call_count == 3


def test_a_safe_post_query_is_retried_on_5xx(ksef_mock: ContractMock) -> None:
    route = ksef_mock.on(
        "POST",
        "/certificates/query",
        SERVER_ERROR,
        Reply(200, {"certificates": [], "hasMore": False}),
    )
    page = client(Sleeper()).query_certificates(ACCESS, status="Active", page_size=10)
    assert page.certificates == () and route.call_count == 2


def test_a_grant_is_not_retried_after_a_5xx(ksef_mock: ContractMock) -> None:
    route = ksef_mock.on(
        "POST",
        "/permissions/persons/grants",
        SERVER_ERROR,
        Reply(202, {"referenceNumber": ref("PO")}),
    )
    sleeper = Sleeper()

    with pytest.raises(ServerError):
        client(sleeper).grant_person_permissions(
            ACCESS,
            subject=Identifier("Pesel", "85031412345"),
            permissions=["InvoiceRead"],
            description="Księgowa klienta",
            subject_details=PersonSubjectDetails.by_identifier("Anna", "Nowak"),
        )

    assert route.call_count == 1 and sleeper.waits == []


def test_redeeming_tokens_is_not_retried_after_a_read_timeout(ksef_mock: ContractMock) -> None:
    route = ksef_mock.on("POST", "/auth/token/redeem", httpx.ReadTimeout("no answer"))
    with pytest.raises(KsefTransportError, match="ReadTimeout") as caught:
        client(Sleeper()).redeem_tokens("auth-token")
    assert route.call_count == 1
    assert caught.value.path == "/auth/token/redeem"


def test_a_connection_that_never_opened_is_retried_even_for_a_non_idempotent_post(
    ksef_mock: ContractMock,
) -> None:
    route = ksef_mock.on(
        "POST",
        "/auth/token/redeem",
        httpx.ConnectError("refused"),
        Reply(
            200,
            {
                "accessToken": {"token": "a", "validUntil": ts(NOW)},
                "refreshToken": {"token": "r", "validUntil": ts(NOW)},
            },
        ),
    )
    client(Sleeper()).redeem_tokens("auth-token")
    assert route.call_count == 2


def test_the_json_exception_format_becomes_a_bad_request_with_codes_and_details(
    ksef_mock: ContractMock,
) -> None:
    ksef_mock.on(
        "GET",
        "/certificates/limits",
        Reply(
            400,
            exception_response(
                21405, "Błąd walidacji danych wejściowych.", "pageSize must be at least 10."
            ),
        ),
    )

    with pytest.raises(BadRequestError) as caught:
        client(Sleeper()).get_certificate_limits(ACCESS)

    error = caught.value
    assert error.codes == (21405,)
    assert error.description == "Błąd walidacji danych wejściowych."
    assert error.details == ("pageSize must be at least 10.",)
    assert error.reference == "a1b2c3d4-e5f6-4789-ab12-cd34ef567890"
    assert "21405" in str(error) and "GET /certificates/limits" in str(error)


def test_problem_details_400_is_read_the_same_way(ksef_mock: ContractMock) -> None:
    body = problem(
        400,
        detail="Żądanie jest nieprawidłowe.",
        errors=[
            {
                "code": 21405,
                "description": "Błąd walidacji danych wejściowych.",
                "details": ["Wskazany kod formularza nie jest wspierany."],
            },
            {"code": 21157, "description": "Nieprawidłowy rozmiar części pakietu.", "details": []},
        ],
    )
    ksef_mock.on("GET", "/certificates/limits", Reply(400, body, "application/problem+json"))

    with pytest.raises(BadRequestError) as caught:
        client(Sleeper(), problem_details=True).get_certificate_limits(ACCESS)

    assert caught.value.codes == (21405, 21157)
    assert caught.value.reference == "673843e023c432286660bc0501a3af44"
    sent = ksef_mock.sent[-1]
    assert sent.headers["X-Error-Format"] == "problem-details"


def test_a_403_keeps_the_reason_code_and_security_details(ksef_mock: ContractMock) -> None:
    body = problem(
        403,
        detail="Brak wymaganych uprawnień.",
        reasonCode="missing-permissions",
        security={
            "requiredAnyOfPermissions": ["InvoiceRead"],
            "presentPermissions": ["CredentialsRead"],
        },
    )
    ksef_mock.on("GET", "/certificates/limits", Reply(403, body, "application/problem+json"))

    with pytest.raises(ForbiddenError) as caught:
        client(Sleeper()).get_certificate_limits(ACCESS)

    assert caught.value.reason_code == "missing-permissions"
    assert caught.value.security["requiredAnyOfPermissions"] == ["InvoiceRead"]
    assert "missing-permissions" in str(caught.value)


def test_a_401_and_a_410_have_their_own_classes(ksef_mock: ContractMock) -> None:
    ksef_mock.on(
        "GET",
        "/certificates/limits",
        Reply(
            401, problem(401, detail="Wymagane jest uwierzytelnienie."), "application/problem+json"
        ),
    )
    ksef_mock.on(
        "GET",
        f"/invoices/exports/{ref('EH')}",
        Reply(410, problem(410, detail="Status wygasł."), "application/problem+json"),
    )

    with pytest.raises(UnauthorizedError, match="Wymagane jest uwierzytelnienie"):
        client(Sleeper()).get_certificate_limits(ACCESS)
    with pytest.raises(GoneError):
        client(Sleeper()).get_invoice_export_status(ACCESS, ref("EH"))


def test_tokens_stay_out_of_errors_and_logs(
    ksef_mock: ContractMock, caplog: pytest.LogCaptureFixture
) -> None:
    ksef_mock.on("GET", "/certificates/limits", Reply(400, exception_response(21405, "Błąd.")))
    caplog.set_level(logging.DEBUG)

    with pytest.raises(BadRequestError) as caught:
        client(Sleeper()).get_certificate_limits(ACCESS)

    assert ksef_mock.sent[-1].headers["Authorization"] == f"Bearer {ACCESS}"
    assert ACCESS not in str(caught.value) and ACCESS not in repr(caught.value)
    assert ACCESS not in caplog.text
    assert "<redacted>" in caplog.text
    assert redact_headers({"Authorization": "Bearer x", "Accept": "a"}) == {
        "Authorization": "<redacted>",
        "Accept": "a",
    }
