"""XAdES authentication under the strict profile (digest §2.5, Gotcha 3)."""

from __future__ import annotations

import httpx
import pytest

from ksef_simulator.state import State
from tests.ksef_simulator.helpers import (
    add_person,
    auth_status,
    auth_token_request,
    bearer,
    error_codes,
    get_challenge,
    login_xades,
    make_credential,
    sign_xades,
    submit_xades,
)

CLIENT_NIP = "5265877635"
OTHER_NIP = "7680002466"
PESEL = "90010112345"


def test_the_owner_of_a_nip_logs_in_with_a_company_seal(sim: httpx.Client) -> None:
    tokens = login_xades(sim, make_credential(nip=CLIENT_NIP), CLIENT_NIP)

    response = sim.get("/limits/context", headers=bearer(tokens.access))
    assert response.status_code == 200


def test_an_rsa_seal_is_accepted_too(sim: httpx.Client) -> None:
    tokens = login_xades(sim, make_credential(nip=CLIENT_NIP, kind="rsa"), CLIENT_NIP)

    assert sim.get("/limits/context", headers=bearer(tokens.access)).status_code == 200


def test_a_person_linked_to_the_nip_is_its_owner(sim: httpx.Client) -> None:
    add_person(sim, CLIENT_NIP, PESEL)

    tokens = login_xades(sim, make_credential(pesel=PESEL), CLIENT_NIP)

    assert sim.get("/auth/sessions", headers=bearer(tokens.access)).status_code == 200


def test_a_subject_without_rights_in_the_context_ends_with_415(sim: httpx.Client) -> None:
    response = submit_xades(sim, make_credential(nip=OTHER_NIP), ("Nip", CLIENT_NIP))

    assert response.status_code == 202
    assert auth_status(sim, response.json())["status"]["code"] == 415
    redeem = sim.post(
        "/auth/token/redeem", headers=bearer(response.json()["authenticationToken"]["token"])
    )
    assert redeem.status_code == 400
    assert error_codes(redeem) == [21301]


def test_a_signature_made_with_another_key_is_rejected_with_9105(sim: httpx.Client) -> None:
    credential = make_credential(nip=CLIENT_NIP, slot=0)
    stranger = make_credential(nip=CLIENT_NIP, slot=1)

    response = submit_xades(sim, credential, ("Nip", CLIENT_NIP), signing_key=stranger.key)

    assert response.status_code == 400
    assert error_codes(response) == [9105]


def test_a_tampered_document_is_rejected_with_9105(sim: httpx.Client) -> None:
    credential = make_credential(nip=CLIENT_NIP)
    challenge = get_challenge(sim)["challenge"]
    signed = sign_xades(auth_token_request(challenge, ("Nip", CLIENT_NIP)), credential)
    tampered = signed.replace(CLIENT_NIP.encode(), OTHER_NIP.encode())

    response = sim.post(
        "/auth/xades-signature", content=tampered, headers={"Content-Type": "application/xml"}
    )

    assert response.status_code == 400
    assert error_codes(response) == [9105]


def test_a_signature_without_signed_properties_is_rejected_with_9105(sim: httpx.Client) -> None:
    response = submit_xades(
        sim, make_credential(nip=CLIENT_NIP), ("Nip", CLIENT_NIP), signed_properties=False
    )

    assert response.status_code == 400
    assert error_codes(response) == [9105]
    assert (
        "SignedProperties" in response.json()["exception"]["exceptionDetailList"][0]["details"][0]
    )


def test_a_der_encoded_ecdsa_value_is_rejected_with_9105(sim: httpx.Client) -> None:
    response = submit_xades(
        sim, make_credential(nip=CLIENT_NIP, kind="ec"), ("Nip", CLIENT_NIP), der_ecdsa=True
    )

    assert response.status_code == 400
    assert error_codes(response) == [9105]
    assert "DER" in response.json()["exception"]["exceptionDetailList"][0]["details"][0]


def test_a_detached_signature_is_rejected_with_9105(sim: httpx.Client) -> None:
    response = submit_xades(
        sim,
        make_credential(nip=CLIENT_NIP),
        ("Nip", CLIENT_NIP),
        detached_uri="https://example.com/auth.xml",
    )

    assert response.status_code == 400
    assert error_codes(response) == [9105]


def test_a_signing_certificate_digest_of_another_certificate_is_rejected(
    sim: httpx.Client,
) -> None:
    credential = make_credential(nip=CLIENT_NIP)
    other = make_credential(nip=OTHER_NIP)

    response = submit_xades(sim, credential, ("Nip", CLIENT_NIP), cert_digest_of=other.certificate)

    assert response.status_code == 400
    assert error_codes(response) == [9105]


def test_two_signatures_are_rejected_with_9103(sim: httpx.Client) -> None:
    credential = make_credential(nip=CLIENT_NIP)
    challenge = get_challenge(sim)["challenge"]
    once = sign_xades(auth_token_request(challenge, ("Nip", CLIENT_NIP)), credential)
    twice = sign_xades(once, credential)

    response = sim.post(
        "/auth/xades-signature", content=twice, headers={"Content-Type": "application/xml"}
    )

    assert error_codes(response) == [9103]


def test_an_unsigned_document_is_rejected_with_9102(sim: httpx.Client) -> None:
    challenge = get_challenge(sim)["challenge"]

    response = sim.post(
        "/auth/xades-signature",
        content=auth_token_request(challenge, ("Nip", CLIENT_NIP)),
        headers={"Content-Type": "application/xml"},
    )

    assert error_codes(response) == [9102]


def test_unreadable_content_is_rejected_with_21001(sim: httpx.Client) -> None:
    response = sim.post(
        "/auth/xades-signature", content=b"<not-xml", headers={"Content-Type": "application/xml"}
    )

    assert error_codes(response) == [21001]


def test_a_document_violating_the_xsd_is_rejected_with_21401(sim: httpx.Client) -> None:
    credential = make_credential(nip=CLIENT_NIP)
    challenge = get_challenge(sim)["challenge"]
    document = auth_token_request(challenge, ("Nip", CLIENT_NIP), subject_type="byName")

    response = sim.post(
        "/auth/xades-signature",
        content=sign_xades(document, credential),
        headers={"Content-Type": "application/xml"},
    )

    assert error_codes(response) == [21401]


def test_an_expired_challenge_is_rejected_with_21111(sim: httpx.Client, sim_state: State) -> None:
    credential = make_credential(nip=CLIENT_NIP)
    challenge = get_challenge(sim)["challenge"]
    signed = sign_xades(auth_token_request(challenge, ("Nip", CLIENT_NIP)), credential)
    sim_state.clock.advance(10 * 60 + 1)

    response = sim.post(
        "/auth/xades-signature", content=signed, headers={"Content-Type": "application/xml"}
    )

    assert response.status_code == 400
    assert error_codes(response) == [21111]


def test_a_challenge_works_only_once(sim: httpx.Client) -> None:
    credential = make_credential(nip=CLIENT_NIP)
    challenge = get_challenge(sim)["challenge"]
    signed = sign_xades(auth_token_request(challenge, ("Nip", CLIENT_NIP)), credential)
    headers = {"Content-Type": "application/xml"}

    assert sim.post("/auth/xades-signature", content=signed, headers=headers).status_code == 202
    again = sim.post("/auth/xades-signature", content=signed, headers=headers)

    assert error_codes(again) == [21111]


def test_an_unknown_challenge_is_rejected_with_21111(sim: httpx.Client) -> None:
    credential = make_credential(nip=CLIENT_NIP)
    document = auth_token_request("20250604-CR-461EA5B000-537A6BA15D-D7", ("Nip", CLIENT_NIP))

    response = sim.post(
        "/auth/xades-signature",
        content=sign_xades(document, credential),
        headers={"Content-Type": "application/xml"},
    )

    assert error_codes(response) == [21111]


def test_json_content_type_gets_415(sim: httpx.Client) -> None:
    response = sim.post(
        "/auth/xades-signature", content=b"<x/>", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 415


def test_the_2_0_namespace_is_still_accepted(sim: httpx.Client) -> None:
    credential = make_credential(nip=CLIENT_NIP)
    challenge = get_challenge(sim)["challenge"]
    document = auth_token_request(
        challenge, ("Nip", CLIENT_NIP), namespace="http://ksef.mf.gov.pl/auth/token/2.0"
    )

    response = sim.post(
        "/auth/xades-signature",
        content=sign_xades(document, credential),
        headers={"Content-Type": "application/xml"},
    )

    assert response.status_code == 202
    assert auth_status(sim, response.json())["status"]["code"] == 200


def test_an_expired_certificate_ends_with_460(sim: httpx.Client) -> None:
    from datetime import UTC, datetime, timedelta

    past = datetime.now(UTC) - timedelta(days=800)
    credential = make_credential(
        nip=CLIENT_NIP, not_before=past, not_after=past + timedelta(days=365)
    )

    response = submit_xades(sim, credential, ("Nip", CLIENT_NIP))

    assert response.status_code == 202
    assert auth_status(sim, response.json())["status"]["code"] == 460


def test_a_deceased_persons_credential_ends_with_470(sim: httpx.Client) -> None:
    add_person(sim, CLIENT_NIP, PESEL, is_deceased=True)

    response = submit_xades(sim, make_credential(pesel=PESEL), ("Nip", CLIENT_NIP))

    assert auth_status(sim, response.json())["status"]["code"] == 470


def test_a_blocked_context_ends_with_480(sim: httpx.Client) -> None:
    assert (
        sim.post(
            "/testdata/context/block",
            json={"contextIdentifier": {"type": "Nip", "value": CLIENT_NIP}},
        ).status_code
        == 200
    )

    response = submit_xades(sim, make_credential(nip=CLIENT_NIP), ("Nip", CLIENT_NIP))

    assert auth_status(sim, response.json())["status"]["code"] == 480


def test_a_certificate_without_identifiers_logs_in_by_fingerprint(sim: httpx.Client) -> None:
    from tests.ksef_simulator.helpers import grant_testdata

    foreigner = make_credential(name="John Smith")
    grant_testdata(sim, CLIENT_NIP, ("Fingerprint", foreigner.fingerprint), ["InvoiceRead"])

    tokens = login_xades(sim, foreigner, CLIENT_NIP, subject_type="certificateFingerprint")

    assert sim.get("/limits/context", headers=bearer(tokens.access)).status_code == 200


def test_a_certificate_without_identifiers_cannot_use_certificate_subject(
    sim: httpx.Client,
) -> None:
    response = submit_xades(sim, make_credential(name="John Smith"), ("Nip", CLIENT_NIP))

    assert error_codes(response) == [21115]


@pytest.mark.parametrize("problem_details", [False, True])
def test_errors_come_in_both_official_shapes(sim: httpx.Client, problem_details: bool) -> None:
    headers = {"Content-Type": "application/xml"}
    if problem_details:
        headers["X-Error-Format"] = "problem-details"

    response = sim.post("/auth/xades-signature", content=b"<oops", headers=headers)

    assert response.status_code == 400
    expected = "application/problem+json" if problem_details else "application/json"
    assert response.headers["content-type"].startswith(expected)
    assert error_codes(response) == [21001]
