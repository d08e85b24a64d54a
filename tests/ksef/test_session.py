"""The authentication flow and the self-renewing session, against contract-checked mocks."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from ksef.client import KsefClient
from ksef.errors import AuthenticationFailed, KsefError, OperationTimeout
from ksef.session import KsefSession, authenticate
from tests.ksef.keys import make_certificate, make_ministry_key_json, make_rsa_key
from tests.ksef.test_client_contract_mocks import (
    BASE,
    NOW,
    ContractMock,
    Reply,
    exception_response,
    ksef_mock,
    problem,
    ref,
    token_info,
    ts,
)

__all__ = ["ksef_mock"]

NIP = "5265877635"
CHALLENGE = "20260302-CR-461EA5B000-537A6BA15D-D7"
TIMESTAMP_MS = 1772445600123
AUTH_REF = ref("AU")


class Clock:
    def __init__(self) -> None:
        self.now = NOW
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def status(code: int, description: str, *details: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "startDate": ts(NOW),
        "authenticationMethod": "Token",
        "authenticationMethodInfo": {
            "category": "Token",
            "code": "token.ksef",
            "displayName": "Token KSeF",
        },
        "status": {"code": code, "description": description},
    }
    if details:
        body["status"]["details"] = list(details)
    return body


def mock_login(mock: ContractMock, *statuses: dict[str, Any], access: str = "access-1") -> None:
    mock.on(
        "POST",
        "/auth/challenge",
        Reply(
            200,
            {
                "challenge": CHALLENGE,
                "timestamp": ts(NOW),
                "timestampMs": TIMESTAMP_MS,
                "clientIp": "203.0.113.10",
            },
        ),
    )
    init = Reply(
        202,
        {
            "referenceNumber": AUTH_REF,
            "authenticationToken": token_info("auth-tok", timedelta(minutes=5)),
        },
    )
    mock.on("POST", "/auth/ksef-token", init)
    mock.on("POST", "/auth/xades-signature", init)
    mock.on("GET", f"/auth/{AUTH_REF}", *[Reply(200, s) for s in statuses])
    mock.on(
        "POST",
        "/auth/token/redeem",
        Reply(
            200,
            {
                "accessToken": token_info(access, timedelta(minutes=15)),
                "refreshToken": token_info("refresh-1", timedelta(days=7)),
            },
        ),
    )


def ministry_keys(mock: ContractMock) -> rsa.RSAPrivateKey:
    key, entry = make_ministry_key_json(
        usage=("KsefTokenEncryption",),
        valid_from=NOW - timedelta(days=30),
        valid_to=NOW + timedelta(days=365),
    )
    mock.on("GET", "/security/public-key-certificates", Reply(200, [entry]))
    return key


def bearer(request: Any) -> str:
    return str(request.headers["Authorization"]).removeprefix("Bearer ")


def test_token_authentication_encrypts_token_and_timestamp_ms_polls_and_redeems(
    ksef_mock: ContractMock,
) -> None:
    ministry_key = ministry_keys(ksef_mock)
    mock_login(
        ksef_mock,
        status(100, "Uwierzytelnianie w toku"),
        status(200, "Uwierzytelnianie zakończone sukcesem"),
    )
    clock = Clock()

    session = authenticate(
        KsefClient(BASE, sleep=clock.sleep),
        context_type="Nip",
        context_value=NIP,
        ksef_token="ksef-secret-token",
        poll_interval=0.5,
        now=clock,
        sleep=clock.sleep,
    )

    (body,) = ksef_mock.bodies("/auth/ksef-token")
    assert body["contextIdentifier"] == {"type": "Nip", "value": NIP}
    assert body["challenge"] == CHALLENGE
    plain = ministry_key.decrypt(
        base64.b64decode(body["encryptedToken"]),
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )
    assert plain == f"ksef-secret-token|{TIMESTAMP_MS}".encode()
    status_calls = [r for r in ksef_mock.sent if r.url.path == f"/v2/auth/{AUTH_REF}"]
    assert [bearer(r) for r in status_calls] == ["auth-tok", "auth-tok"]
    redeem = next(r for r in ksef_mock.sent if r.url.path == "/v2/auth/token/redeem")
    assert bearer(redeem) == "auth-tok"
    assert clock.slept == [0.5]
    assert session.access_token() == "access-1"
    assert session.access_valid_until == NOW + timedelta(minutes=15)


def test_xades_authentication_posts_the_signed_request_as_application_xml(
    ksef_mock: ContractMock,
) -> None:
    mock_login(ksef_mock, status(200, "Uwierzytelnianie zakończone sukcesem"))
    key = make_rsa_key()
    certificate = make_certificate(key, nip=NIP)

    session = authenticate(
        KsefClient(BASE),
        context_type="Nip",
        context_value=NIP,
        certificate=certificate,
        private_key=key,
        sleep=lambda _: None,
    )

    (request,) = [r for r in ksef_mock.sent if r.url.path == "/v2/auth/xades-signature"]
    assert request.headers["Content-Type"] == "application/xml"
    assert "Authorization" not in request.headers
    document = etree.fromstring(request.content)
    ns = {"a": "http://ksef.mf.gov.pl/auth/token/2.1", "ds": "http://www.w3.org/2000/09/xmldsig#"}
    assert document.findtext("a:Challenge", namespaces=ns) == CHALLENGE
    assert document.findtext("a:ContextIdentifier/a:Nip", namespaces=ns) == NIP
    assert document.find("ds:Signature", namespaces=ns) is not None
    assert session.access_token() == "access-1"


def test_a_failed_status_raises_authentication_failed_with_code_and_details(
    ksef_mock: ContractMock,
) -> None:
    ministry_keys(ksef_mock)
    mock_login(
        ksef_mock,
        status(
            450,
            "Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu",
            "Token unieważniony.",
        ),
    )

    with pytest.raises(AuthenticationFailed) as caught:
        authenticate(
            KsefClient(BASE),
            context_type="Nip",
            context_value=NIP,
            ksef_token="t",
            sleep=lambda _: None,
        )

    assert caught.value.code == 450
    assert caught.value.details == ("Token unieważniony.",)
    assert caught.value.reference_number == AUTH_REF
    assert not any(r.url.path == "/v2/auth/token/redeem" for r in ksef_mock.sent)


def test_no_permission_in_the_context_is_status_415(ksef_mock: ContractMock) -> None:
    ministry_keys(ksef_mock)
    mock_login(
        ksef_mock,
        status(
            415,
            "Uwierzytelnianie zakończone niepowodzeniem z powodu braku przydzielonych uprawnień",
        ),
    )
    with pytest.raises(AuthenticationFailed, match="415"):
        authenticate(
            KsefClient(BASE),
            context_type="Nip",
            context_value=NIP,
            ksef_token="t",
            sleep=lambda _: None,
        )


def test_polling_gives_up_after_the_timeout(ksef_mock: ContractMock) -> None:
    ministry_keys(ksef_mock)
    mock_login(ksef_mock, status(100, "Uwierzytelnianie w toku"))
    clock = Clock()
    with pytest.raises(OperationTimeout):
        authenticate(
            KsefClient(BASE),
            context_type="Nip",
            context_value=NIP,
            ksef_token="t",
            poll_interval=2,
            poll_timeout=10,
            now=clock,
            sleep=clock.sleep,
        )
    assert sum(clock.slept) == 10


def test_a_withdrawn_ministry_key_is_reloaded_and_token_auth_retried_once(
    ksef_mock: ContractMock,
) -> None:
    ministry_keys(ksef_mock)
    mock_login(ksef_mock, status(200, "Uwierzytelnianie zakończone sukcesem"))
    ksef_mock.on(
        "POST",
        "/auth/ksef-token",
        Reply(400, exception_response(21470, "Nieznany identyfikator klucza publicznego.")),
        Reply(
            202,
            {
                "referenceNumber": AUTH_REF,
                "authenticationToken": token_info("auth-tok", timedelta(minutes=5)),
            },
        ),
    )

    authenticate(
        KsefClient(BASE),
        context_type="Nip",
        context_value=NIP,
        ksef_token="t",
        sleep=lambda _: None,
    )

    key_list_calls = [
        r for r in ksef_mock.sent if r.url.path == "/v2/security/public-key-certificates"
    ]
    assert len(key_list_calls) == 2


def logged_in(mock: ContractMock, clock: Clock) -> KsefSession:
    ministry_keys(mock)
    mock_login(mock, status(200, "Uwierzytelnianie zakończone sukcesem"))
    return authenticate(
        KsefClient(BASE),
        context_type="Nip",
        context_value=NIP,
        ksef_token="t",
        now=clock,
        sleep=clock.sleep,
    )


def test_the_access_token_is_refreshed_shortly_before_it_expires(ksef_mock: ContractMock) -> None:
    clock = Clock()
    session = logged_in(ksef_mock, clock)
    refresh = ksef_mock.on(
        "POST",
        "/auth/token/refresh",
        Reply(200, {"accessToken": token_info("access-2", timedelta(minutes=30))}),
    )

    clock.now += timedelta(minutes=13)
    assert session.access_token() == "access-1"  # still 2 minutes left, margin is 1
    clock.now += timedelta(minutes=1, seconds=1)
    assert session.access_token() == "access-2"

    assert refresh.call_count == 1
    assert bearer(refresh.calls.last.request) == "refresh-1"


def test_a_refused_refresh_falls_back_to_a_full_login(ksef_mock: ContractMock) -> None:
    clock = Clock()
    session = logged_in(ksef_mock, clock)
    ksef_mock.on(
        "POST",
        "/auth/token/refresh",
        Reply(401, problem(401, detail="Token unieważniony."), "application/problem+json"),
    )
    mock_login(
        ksef_mock, status(200, "Uwierzytelnianie zakończone sukcesem"), access="access-relogin"
    )

    clock.now += timedelta(minutes=20)

    assert session.access_token() == "access-relogin"
    assert sum(r.url.path == "/v2/auth/challenge" for r in ksef_mock.sent) == 2


def test_an_expired_refresh_token_leads_straight_to_a_new_login(ksef_mock: ContractMock) -> None:
    clock = Clock()
    session = logged_in(ksef_mock, clock)
    refresh = ksef_mock.on(
        "POST",
        "/auth/token/refresh",
        Reply(200, {"accessToken": token_info("x", timedelta(minutes=15))}),
    )
    mock_login(
        ksef_mock, status(200, "Uwierzytelnianie zakończone sukcesem"), access="access-week-2"
    )

    clock.now += timedelta(days=8)

    assert session.access_token() == "access-week-2"
    assert refresh.call_count == 0


def test_call_renews_the_token_once_after_a_401_and_repeats_the_operation(
    ksef_mock: ContractMock,
) -> None:
    clock = Clock()
    session = logged_in(ksef_mock, clock)
    ksef_mock.on(
        "POST",
        "/auth/token/refresh",
        Reply(200, {"accessToken": token_info("access-2", timedelta(minutes=15))}),
    )
    limits = ksef_mock.on(
        "GET",
        "/certificates/limits",
        Reply(401, problem(401), "application/problem+json"),
        Reply(
            200,
            {
                "canRequest": True,
                "enrollment": {"remaining": 299, "limit": 300},
                "certificate": {"remaining": 99, "limit": 100},
            },
        ),
    )

    result = session.call(session.client.get_certificate_limits)

    assert result.enrollment.remaining == 299
    assert [bearer(c.request) for c in limits.calls] == ["access-1", "access-2"]


def test_a_session_without_credentials_says_it_cannot_log_in_again(ksef_mock: ContractMock) -> None:
    clock = Clock()
    session = logged_in(ksef_mock, clock)
    ksef_mock.on("DELETE", "/auth/sessions/current", Reply(204))

    session.revoke()
    clock.now += timedelta(hours=1)

    with pytest.raises(KsefError, match="no credential"):
        session.access_token()


def test_tokens_never_appear_in_reprs(ksef_mock: ContractMock) -> None:
    session = logged_in(ksef_mock, Clock())
    assert "access-1" not in repr(session)
    assert "refresh-1" not in repr(session)
    assert "access-1" not in repr(session._access)
