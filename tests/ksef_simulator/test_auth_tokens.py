"""Redeem, refresh, auth sessions and KSeF-token authentication (digest §2.4, §2.7, §10)."""

from __future__ import annotations

import httpx

from ksef_simulator.state import State
from tests.ksef_simulator.helpers import (
    auth_status,
    bearer,
    error_codes,
    login_token,
    owner_login,
    submit_token,
)

NIP = "5265877635"


def _new_token(sim: httpx.Client, access: str, permissions: list[str]) -> str:
    response = sim.post(
        "/tokens",
        json={"permissions": permissions, "description": "Token do synchronizacji"},
        headers=bearer(access),
    )
    assert response.status_code == 202, response.text
    return response.json()["token"]  # type: ignore[no-any-return]


def test_redeem_works_only_once(sim: httpx.Client) -> None:
    tokens = owner_login(sim, NIP)

    again = sim.post("/auth/token/redeem", headers=bearer(tokens.authentication_token))

    assert again.status_code == 400
    assert error_codes(again) == [21301]


def test_refresh_gives_a_new_access_token_and_does_not_rotate_the_refresh_token(
    sim: httpx.Client,
) -> None:
    tokens = owner_login(sim, NIP)

    response = sim.post("/auth/token/refresh", headers=bearer(tokens.refresh))

    assert response.status_code == 200
    assert set(response.json()) == {"accessToken"}
    new_access = response.json()["accessToken"]["token"]
    assert sim.get("/limits/context", headers=bearer(new_access)).status_code == 200


def test_the_access_token_cannot_be_used_to_refresh(sim: httpx.Client) -> None:
    tokens = owner_login(sim, NIP)

    assert sim.post("/auth/token/refresh", headers=bearer(tokens.access)).status_code == 401


def test_the_access_token_expires_after_its_lifetime(sim: httpx.Client, sim_state: State) -> None:
    tokens = owner_login(sim, NIP)
    sim_state.clock.advance(16 * 60)

    assert sim.get("/limits/context", headers=bearer(tokens.access)).status_code == 401
    assert sim.post("/auth/token/refresh", headers=bearer(tokens.refresh)).status_code == 200


def test_the_refresh_token_ends_after_seven_days(sim: httpx.Client, sim_state: State) -> None:
    tokens = owner_login(sim, NIP)
    sim_state.clock.advance(7 * 24 * 3600 + 1)

    assert sim.post("/auth/token/refresh", headers=bearer(tokens.refresh)).status_code == 401


def test_sessions_are_listed_and_revoking_the_current_one_kills_refresh_only(
    sim: httpx.Client,
) -> None:
    tokens = owner_login(sim, NIP)
    listed = sim.get("/auth/sessions", headers=bearer(tokens.access)).json()["items"]
    assert [(i["referenceNumber"], i["isCurrent"]) for i in listed] == [
        (tokens.reference_number, True)
    ]

    assert sim.delete("/auth/sessions/current", headers=bearer(tokens.access)).status_code == 204

    refresh = sim.post("/auth/token/refresh", headers=bearer(tokens.refresh))
    assert error_codes(refresh) == [21301]
    # Gotcha 28: an issued access token lives until it expires.
    assert sim.get("/limits/context", headers=bearer(tokens.access)).status_code == 200


def test_another_session_can_be_revoked_by_reference(sim: httpx.Client) -> None:
    first = owner_login(sim, NIP)
    second = owner_login(sim, NIP)

    response = sim.delete(f"/auth/sessions/{first.reference_number}", headers=bearer(second.access))

    assert response.status_code == 204
    assert sim.post("/auth/token/refresh", headers=bearer(first.refresh)).status_code == 400


def test_sessions_page_with_a_continuation_token(sim: httpx.Client) -> None:
    logins = [owner_login(sim, NIP) for _ in range(11)]
    headers = bearer(logins[-1].access)

    first = sim.get("/auth/sessions", headers=headers).json()
    second = sim.get(
        "/auth/sessions", headers={**headers, "x-continuation-token": first["continuationToken"]}
    ).json()

    assert len(first["items"]) == 10
    assert len(second["items"]) == 1
    bad = sim.get("/auth/sessions", headers={**headers, "x-continuation-token": "@@"})
    assert error_codes(bad) == [21418]


def test_a_ksef_token_logs_in_with_its_permissions_only(sim: httpx.Client) -> None:
    owner = owner_login(sim, NIP)
    secret = _new_token(sim, owner.access, ["InvoiceRead"])

    tokens = login_token(sim, secret, NIP)

    grant = sim.post(
        "/permissions/persons/grants",
        json={
            "subjectIdentifier": {"type": "Pesel", "value": "90010112345"},
            "permissions": ["InvoiceRead"],
            "description": "Księgowa",
            "subjectDetails": {
                "subjectDetailsType": "PersonByIdentifier",
                "personById": {"firstName": "Anna", "lastName": "Nowak"},
            },
        },
        headers=bearer(tokens.access),
    )
    assert grant.status_code == 403
    assert grant.json()["reasonCode"] == "missing-permissions"
    assert grant.json()["security"]["presentPermissions"] == ["InvoiceRead"]


def test_a_wrong_timestamp_ends_with_450(sim: httpx.Client) -> None:
    owner = owner_login(sim, NIP)
    secret = _new_token(sim, owner.access, ["InvoiceRead"])

    response = submit_token(sim, secret, NIP, timestamp_shift_ms=1)

    assert response.status_code == 202
    status = auth_status(sim, response.json())["status"]
    assert status["code"] == 450
    assert status["details"] == ["Nieprawidłowy czas tokena."]


def test_a_revoked_token_ends_with_450_and_cannot_refresh(sim: httpx.Client) -> None:
    owner = owner_login(sim, NIP)
    secret = _new_token(sim, owner.access, ["InvoiceRead"])
    via_token = login_token(sim, secret, NIP)
    reference = secret.split("|")[0]

    assert sim.delete(f"/tokens/{reference}", headers=bearer(owner.access)).status_code == 204

    response = submit_token(sim, secret, NIP)
    assert auth_status(sim, response.json())["status"]["code"] == 450
    assert error_codes(sim.post("/auth/token/refresh", headers=bearer(via_token.refresh))) == [
        21301
    ]


def test_an_unknown_public_key_id_is_rejected_with_21470(sim: httpx.Client) -> None:
    challenge = sim.post("/auth/challenge").json()

    response = sim.post(
        "/auth/ksef-token",
        json={
            "challenge": challenge["challenge"],
            "contextIdentifier": {"type": "Nip", "value": NIP},
            "encryptedToken": "AAAA",
            "publicKeyId": "A" * 43 + "=",
        },
    )

    assert error_codes(response) == [21470]


def test_an_invalid_token_request_body_gets_21405(sim: httpx.Client) -> None:
    response = sim.post("/auth/ksef-token", json={"challenge": "short"})

    assert response.status_code == 400
    assert error_codes(response) == [21405]


def test_the_status_stays_100_until_processing_ends(sim: httpx.Client, sim_state: State) -> None:
    from tests.ksef_simulator.helpers import make_credential, submit_xades

    sim_state.config.auth_processing_seconds = 5
    response = submit_xades(sim, make_credential(nip=NIP), ("Nip", NIP))

    assert auth_status(sim, response.json())["status"]["code"] == 100
    early = sim.post(
        "/auth/token/redeem", headers=bearer(response.json()["authenticationToken"]["token"])
    )
    assert error_codes(early) == [21301]
    sim_state.clock.advance(5)
    assert auth_status(sim, response.json())["status"]["code"] == 200


def test_an_auth_status_older_than_seven_days_is_gone(sim: httpx.Client, sim_state: State) -> None:
    from tests.ksef_simulator.helpers import make_credential, submit_xades

    sim_state.config.authentication_token_minutes = 8 * 24 * 60
    response = submit_xades(sim, make_credential(nip=NIP), ("Nip", NIP))
    sim_state.clock.advance(7 * 24 * 3600 + 1)

    status = sim.get(
        f"/auth/{response.json()['referenceNumber']}",
        headers=bearer(response.json()["authenticationToken"]["token"]),
    )

    assert status.status_code == 410


def test_ksef_tokens_are_listed_read_and_only_made_after_xades(sim: httpx.Client) -> None:
    owner = owner_login(sim, NIP)
    secret = _new_token(sim, owner.access, ["InvoiceRead", "InvoiceWrite"])
    reference = secret.split("|")[0]

    listed = sim.get("/tokens", headers=bearer(owner.access), params={"status": "Active"}).json()
    one = sim.get(f"/tokens/{reference}", headers=bearer(owner.access)).json()

    assert [t["referenceNumber"] for t in listed["tokens"]] == [reference]
    assert one["requestedPermissions"] == ["InvoiceRead", "InvoiceWrite"]
    via_token = login_token(sim, secret, NIP)
    refused = sim.post(
        "/tokens",
        json={"permissions": ["InvoiceRead"], "description": "Drugi token"},
        headers=bearer(via_token.access),
    )
    assert refused.status_code == 403
    assert refused.json()["reasonCode"] == "auth-method-not-allowed"


def test_a_token_cannot_carry_permissions_its_author_lacks(sim: httpx.Client) -> None:
    owner = owner_login(sim, NIP)

    response = sim.post(
        "/tokens",
        json={"permissions": ["EnforcementOperations"], "description": "Za dużo praw"},
        headers=bearer(owner.access),
    )

    assert error_codes(response) == [26001]


def test_a_pending_token_is_inactive(sim: httpx.Client, sim_state: State) -> None:
    sim_state.config.token_activation_seconds = 30
    owner = owner_login(sim, NIP)
    secret = _new_token(sim, owner.access, ["InvoiceRead"])

    response = submit_token(sim, secret, NIP)

    assert auth_status(sim, response.json())["status"]["code"] == 450
