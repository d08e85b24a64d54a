"""Values the contract spells out in its examples (authentication method codes, KSeF token
references and secrets), and the outage switch of the control endpoint."""

from __future__ import annotations

import re

import httpx

from tests.ksef_simulator.batch_support import invoices, open_batch, package, zip_archive
from tests.ksef_simulator.helpers import (
    add_person,
    auth_status,
    bearer,
    login_xades,
    make_credential,
    owner_login,
    submit_token,
)
from tests.ksef_simulator.invoice_support import SAMPLE_SELLER

NIP = "5265877635"
# The contract's POST /tokens example:
# 20251010-EC-1DCE3E3000-12ECB5B36E-45|internalId-5265877635-12345|919f7044...7b9
TOKEN_REFERENCE = re.compile(r"^\d{8}-EC-[0-9A-F]{10}-[0-9A-F]{10}-[0-9A-F]{2}$")


def _method_codes(sim: httpx.Client) -> dict[str, str]:
    sessions = sim.get("/auth/sessions", headers=bearer(owner_login(sim, NIP).access)).json()
    return {
        item["authenticationMethodInfo"]["category"]: item["authenticationMethodInfo"]["code"]
        for item in sessions["items"]
    }


def test_authentication_method_codes_are_the_contracts(sim: httpx.Client) -> None:
    assert _method_codes(sim) == {"XadesSignature": "xades.qualified-seal"}
    owner = owner_login(sim, NIP)
    token = sim.post(
        "/tokens",
        json={"permissions": ["InvoiceRead"], "description": "Token do synchronizacji"},
        headers=bearer(owner.access),
    ).json()["token"]

    init = submit_token(sim, token, NIP).json()

    info = auth_status(sim, init)["authenticationMethodInfo"]
    assert (info["category"], info["code"]) == ("Token", "token.ksef")


def test_a_personal_signature_reports_the_qualified_signature_code(sim: httpx.Client) -> None:
    add_person(sim, NIP, "90010112345")
    login = login_xades(sim, make_credential(pesel="90010112345"), NIP)
    sessions = sim.get("/auth/sessions", headers=bearer(login.access)).json()["items"]
    current = next(s for s in sessions if s["isCurrent"])

    assert current["authenticationMethodInfo"]["code"] == "xades.qualified-signature"


def test_ksef_tokens_have_the_documented_reference_and_secret_format(sim: httpx.Client) -> None:
    owner = owner_login(sim, NIP)
    response = sim.post(
        "/tokens",
        json={"permissions": ["InvoiceRead"], "description": "Token do synchronizacji"},
        headers=bearer(owner.access),
    ).json()

    reference, context, secret = response["token"].split("|")
    assert TOKEN_REFERENCE.match(response["referenceNumber"])
    assert reference == response["referenceNumber"]
    assert context == f"nip-{NIP}"
    assert re.fullmatch(r"[0-9a-f]{64}", secret)


def test_an_outage_answers_503_with_retry_after_everywhere_but_control(
    sim: httpx.Client,
) -> None:
    seller = owner_login(sim, SAMPLE_SELLER).access
    pkg = package(zip_archive(invoices(1)))
    (upload_request,) = open_batch(sim, seller, pkg)["partUploadRequests"]
    switched = sim.post("http://ksef-sim/_sim/outage", json={"retryAfter": 120})
    assert switched.json() == {"outage": True, "retryAfter": 120}

    for response in (
        sim.post("/auth/challenge"),
        sim.get("/sessions", params={"sessionType": "Batch"}, headers=bearer(seller)),
        sim.put(
            upload_request["url"], content=pkg.encrypted_parts[0], headers=upload_request["headers"]
        ),
    ):
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "120"
        assert b"503 Service Unavailable" in response.content
    assert sim.get("http://ksef-sim/_sim/clock").status_code == 200

    assert sim.delete("http://ksef-sim/_sim/outage").json()["outage"] is False
    assert sim.post("/auth/challenge").status_code == 200
    assert (
        sim.put(
            upload_request["url"], content=pkg.encrypted_parts[0], headers=upload_request["headers"]
        ).status_code
        == 201
    )
