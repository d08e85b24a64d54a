"""KSeF tokens (``/tokens``) through the client, against contract-checked mocks."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx
import pytest

from ksef.client import KsefClient
from ksef.errors import BadRequestError, KsefError, KsefTransportError, ServerError
from ksef.models import (
    Identifier,
    KsefTokenPermission,
    KsefTokenStatus,
    SecretStr,
)
from tests.ksef.test_client_contract_mocks import (
    BASE,
    NOW,
    ContractMock,
    Reply,
    exception_response,
    ksef_mock,
    ref,
    ts,
)

__all__ = ["ksef_mock"]

ACCESS = "access-token"
OFFICE_NIP = "5265877635"
ACCOUNTANT_PESEL = "85031412345"
# The contract's example shape: reference | context | 64 hex characters of secret.
SECRET = f"{ref('TK')}|nip-{OFFICE_NIP}|" + "9f" * 32
SERVER_ERROR = Reply(503, raw=b"Service Unavailable")


def token_json(n: int = 1, status: str = "Active", **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "referenceNumber": ref("TK", n),
        "authorIdentifier": {"type": "Pesel", "value": ACCOUNTANT_PESEL},
        "contextIdentifier": {"type": "Nip", "value": OFFICE_NIP},
        "description": f"Pobieranie faktur {n}",
        "requestedPermissions": ["InvoiceRead"],
        "dateCreated": ts(NOW - timedelta(days=n)),
        "status": status,
        "statusDetails": [],
    }
    item.update(overrides)
    return item


def client(**kwargs: Any) -> KsefClient:
    return KsefClient(BASE, sleep=lambda _: None, jitter=lambda: 0.0, **kwargs)


# --------------------------------------------------------------------------- generate


def test_a_generated_token_is_returned_once_and_never_printed(
    ksef_mock: ContractMock, caplog: pytest.LogCaptureFixture
) -> None:
    ksef_mock.on("POST", "/tokens", Reply(202, {"referenceNumber": ref("TK"), "token": SECRET}))
    caplog.set_level(logging.DEBUG)

    generated = client().generate_ksef_token(
        ACCESS,
        permissions=[KsefTokenPermission.INVOICE_READ, KsefTokenPermission.INVOICE_WRITE],
        description="Wysyłka i pobieranie faktur",
    )

    assert generated.reference_number == ref("TK")
    assert generated.token.reveal() == SECRET
    for shown in (repr(generated), str(generated), f"{generated.token}", str(generated.token)):
        assert SECRET not in shown and "9f9f" not in shown
    assert "<redacted>" in repr(generated)
    assert SECRET not in caplog.text
    assert ksef_mock.bodies("/tokens") == [
        {
            "permissions": ["InvoiceRead", "InvoiceWrite"],
            "description": "Wysyłka i pobieranie faktur",
        }
    ]


def test_secret_strings_compare_by_value_without_showing_it() -> None:
    assert SecretStr(SECRET) == SecretStr(SECRET)
    assert SecretStr(SECRET) != SecretStr(SECRET + "x")
    assert SecretStr(SECRET) != SECRET  # a bare string is not silently equal
    assert len({SecretStr(SECRET), SecretStr(SECRET)}) == 1


def test_generating_is_not_resent_after_a_5xx_or_a_timeout(ksef_mock: ContractMock) -> None:
    # A resend could leave a second live token nobody holds the secret of.
    route = ksef_mock.on("POST", "/tokens", SERVER_ERROR, httpx.ReadTimeout("no answer"))

    with pytest.raises(ServerError):
        client().generate_ksef_token(ACCESS, permissions=["InvoiceRead"], description="Faktury")
    with pytest.raises(KsefTransportError, match="ReadTimeout"):
        client().generate_ksef_token(ACCESS, permissions=["InvoiceRead"], description="Faktury")

    assert route.call_count == 2


def test_asking_for_a_permission_the_caller_lacks_is_a_bad_request_with_its_code(
    ksef_mock: ContractMock,
) -> None:
    ksef_mock.on(
        "POST",
        "/tokens",
        Reply(
            400,
            exception_response(
                26001,
                "Nie można nadać tokenowi uprawnień których nie posiadasz.",
                "Brak uprawnień: CredentialsManage.",
            ),
        ),
    )

    with pytest.raises(BadRequestError) as caught:
        client().generate_ksef_token(
            ACCESS, permissions=["CredentialsManage"], description="Zarządzanie"
        )

    assert caught.value.codes == (26001,)
    assert "CredentialsManage" in str(caught.value)


# --------------------------------------------------------------------------- list and read


def test_the_list_sends_every_filter_the_contract_declares(ksef_mock: ContractMock) -> None:
    ksef_mock.on("GET", "/tokens", Reply(200, {"tokens": [token_json(1)]}))

    page = client().list_ksef_tokens(
        ACCESS,
        statuses=[KsefTokenStatus.ACTIVE, KsefTokenStatus.PENDING],
        description="faktur",
        author_identifier="8503",
        author_identifier_type="Pesel",
        page_size=20,
        continuation_token="W3sidG9rZW4iOiIrUklE",
    )

    (sent,) = ksef_mock.sent
    assert sent.url.params.get_list("status") == ["Active", "Pending"]
    assert sent.url.params["description"] == "faktur"
    assert sent.url.params["authorIdentifier"] == "8503"
    assert sent.url.params["authorIdentifierType"] == "Pesel"
    assert sent.url.params["pageSize"] == "20"
    assert sent.headers["x-continuation-token"] == "W3sidG9rZW4iOiIrUklE"
    assert page.continuation_token is None
    (token,) = page.tokens
    assert token.reference_number == ref("TK", 1)
    assert token.author_identifier == Identifier("Pesel", ACCOUNTANT_PESEL)
    assert token.context_identifier == Identifier("Nip", OFFICE_NIP)
    assert token.requested_permissions == ("InvoiceRead",)
    assert token.date_created == NOW - timedelta(days=1)
    assert token.is_active and token.last_use_date is None


def test_a_list_without_filters_sends_no_query_at_all(ksef_mock: ContractMock) -> None:
    ksef_mock.on("GET", "/tokens", Reply(200, {"tokens": []}))

    assert client().list_ksef_tokens(ACCESS).tokens == ()

    (sent,) = ksef_mock.sent
    assert not sent.url.params and "x-continuation-token" not in sent.headers


def test_iterating_follows_continuation_tokens_until_the_last_page(
    ksef_mock: ContractMock,
) -> None:
    route = ksef_mock.on(
        "GET",
        "/tokens",
        Reply(200, {"tokens": [token_json(1), token_json(2)], "continuationToken": "page-2"}),
        Reply(200, {"tokens": [token_json(3)], "continuationToken": "page-3"}),
        Reply(200, {"tokens": [token_json(4, "Revoked")], "continuationToken": None}),
    )
    issued = iter(["first-access", "refreshed-access", "refreshed-access"])

    tokens = list(
        client().iter_ksef_tokens(
            lambda: next(issued), statuses=["Active", "Revoked"], page_size=10
        )
    )

    assert [t.reference_number for t in tokens] == [ref("TK", n) for n in (1, 2, 3, 4)]
    assert tokens[-1].status == KsefTokenStatus.REVOKED and not tokens[-1].is_active
    assert route.call_count == 3
    assert [r.headers.get("x-continuation-token") for r in ksef_mock.sent] == [
        None,
        "page-2",
        "page-3",
    ]
    # The filters go with every page, and the token getter is asked each time.
    assert all(r.url.params.get_list("status") == ["Active", "Revoked"] for r in ksef_mock.sent)
    assert ksef_mock.sent[1].headers["Authorization"] == "Bearer refreshed-access"


def test_iterating_stops_when_the_server_repeats_a_continuation_token(
    ksef_mock: ContractMock,
) -> None:
    ksef_mock.on(
        "GET", "/tokens", Reply(200, {"tokens": [token_json(1)], "continuationToken": "same"})
    )

    with pytest.raises(KsefError, match="continuation token"):
        list(client().iter_ksef_tokens(ACCESS))


def test_one_token_is_read_by_its_reference_number(ksef_mock: ContractMock) -> None:
    ksef_mock.on(
        "GET",
        f"/tokens/{ref('TK', 7)}",
        Reply(
            200,
            token_json(
                7,
                "Failed",
                lastUseDate=ts(NOW),
                statusDetails=["Nie udało się nadać uprawnień."],
                requestedPermissions=["InvoiceRead", "InvoiceWrite"],
            ),
        ),
    )

    token = client().get_ksef_token(ACCESS, ref("TK", 7))

    assert token.status == KsefTokenStatus.FAILED and not token.is_active
    assert token.status_details == ("Nie udało się nadać uprawnień.",)
    assert token.last_use_date == NOW
    assert token.requested_permissions == ("InvoiceRead", "InvoiceWrite")


# --------------------------------------------------------------------------- revoke


def test_revoking_is_retried_after_a_timeout_because_it_is_idempotent(
    ksef_mock: ContractMock,
) -> None:
    route = ksef_mock.on("DELETE", f"/tokens/{ref('TK')}", httpx.ReadTimeout("slow"), Reply(204))

    client().revoke_ksef_token(ACCESS, ref("TK"))

    assert route.call_count == 2
    assert all(r.headers["Authorization"] == f"Bearer {ACCESS}" for r in ksef_mock.sent)
