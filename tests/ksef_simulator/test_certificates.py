"""KSeF certificates: enrol with a CSR, log in with the result, revoke (digest §3)."""

from __future__ import annotations

import base64

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tests.ksef_simulator.helpers import (
    Credential,
    Tokens,
    auth_status,
    bearer,
    error_codes,
    login_token,
    login_xades,
    make_credential,
    owner_login,
    submit_xades,
)

NIP = "5265877635"
OIDS = {
    "commonName": NameOID.COMMON_NAME,
    "countryName": NameOID.COUNTRY_NAME,
    "givenName": NameOID.GIVEN_NAME,
    "surname": NameOID.SURNAME,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "organizationName": NameOID.ORGANIZATION_NAME,
    "organizationIdentifier": NameOID.ORGANIZATION_IDENTIFIER,
}


def _csr(data: dict[str, str], key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(OIDS[k], v) for k, v in data.items()])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    return base64.b64encode(csr.public_bytes(serialization.Encoding.DER)).decode()


def _enroll(
    sim: httpx.Client, tokens: Tokens, key: ec.EllipticCurvePrivateKey, kind: str = "Authentication"
) -> str:
    data = sim.get("/certificates/enrollments/data", headers=bearer(tokens.access)).json()
    response = sim.post(
        "/certificates/enrollments",
        json={
            "certificateName": "Certyfikat biura",
            "certificateType": kind,
            "csr": _csr(data, key),
        },
        headers=bearer(tokens.access),
    )
    assert response.status_code == 202, response.text
    status = sim.get(
        f"/certificates/enrollments/{response.json()['referenceNumber']}",
        headers=bearer(tokens.access),
    ).json()
    assert status["status"]["code"] == 200, status
    return status["certificateSerialNumber"]  # type: ignore[no-any-return]


def _retrieve(sim: httpx.Client, tokens: Tokens, serial: str) -> x509.Certificate:
    response = sim.post(
        "/certificates/retrieve",
        json={"certificateSerialNumbers": [serial]},
        headers=bearer(tokens.access),
    )
    assert response.status_code == 200
    der = base64.b64decode(response.json()["certificates"][0]["certificate"])
    return x509.load_der_x509_certificate(der)


def test_the_enrollment_data_is_the_etsi_form_of_the_login_certificate(sim: httpx.Client) -> None:
    tokens = owner_login(sim, NIP)

    data = sim.get("/certificates/enrollments/data", headers=bearer(tokens.access)).json()

    assert data["organizationIdentifier"] == f"VATPL-{NIP}"
    assert data["countryName"] == "PL"


def test_an_issued_certificate_logs_in_and_stops_after_revocation(sim: httpx.Client) -> None:
    tokens = owner_login(sim, NIP)
    key = ec.generate_private_key(ec.SECP256R1())
    serial = _enroll(sim, tokens, key)
    certificate = _retrieve(sim, tokens, serial)
    ksef_credential = Credential(key=key, certificate=certificate)

    assert (
        certificate.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "TEST CCK KSeF"
    )
    again = login_xades(sim, ksef_credential, NIP)
    assert sim.get("/limits/context", headers=bearer(again.access)).status_code == 200

    revoked = sim.post(f"/certificates/{serial}/revoke", json={}, headers=bearer(tokens.access))
    assert revoked.status_code == 204
    response = submit_xades(sim, ksef_credential, ("Nip", NIP))
    assert auth_status(sim, response.json())["status"]["code"] == 460
    twice = sim.post(f"/certificates/{serial}/revoke", json={}, headers=bearer(tokens.access))
    assert error_codes(twice) == [25009]


def test_an_offline_certificate_cannot_log_in(sim: httpx.Client) -> None:
    tokens = owner_login(sim, NIP)
    key = ec.generate_private_key(ec.SECP256R1())
    serial = _enroll(sim, tokens, key, kind="Offline")
    offline = Credential(key=key, certificate=_retrieve(sim, tokens, serial))

    response = submit_xades(sim, offline, ("Nip", NIP))

    assert auth_status(sim, response.json())["status"]["code"] == 460


def test_a_certificate_unknown_to_ksef_but_signed_by_a_stranger_is_just_self_signed(
    sim: httpx.Client,
) -> None:
    tokens = login_xades(sim, make_credential(nip=NIP, kind="rsa"), NIP)

    assert sim.get("/certificates/limits", headers=bearer(tokens.access)).status_code == 200


def test_a_csr_with_another_dn_is_rejected_with_25003(sim: httpx.Client) -> None:
    tokens = owner_login(sim, NIP)
    data = sim.get("/certificates/enrollments/data", headers=bearer(tokens.access)).json()
    data["organizationIdentifier"] = "NIP-" + NIP

    response = sim.post(
        "/certificates/enrollments",
        json={
            "certificateName": "Certyfikat biura",
            "certificateType": "Authentication",
            "csr": _csr(data, ec.generate_private_key(ec.SECP256R1())),
        },
        headers=bearer(tokens.access),
    )

    assert error_codes(response) == [25003]


def test_a_p384_key_is_rejected_with_25010(sim: httpx.Client) -> None:
    tokens = owner_login(sim, NIP)
    data = sim.get("/certificates/enrollments/data", headers=bearer(tokens.access)).json()

    response = sim.post(
        "/certificates/enrollments",
        json={
            "certificateName": "Certyfikat biura",
            "certificateType": "Authentication",
            "csr": _csr(data, ec.generate_private_key(ec.SECP384R1())),
        },
        headers=bearer(tokens.access),
    )

    assert error_codes(response) == [25010]


def test_garbage_instead_of_a_csr_is_rejected_with_25004(sim: httpx.Client) -> None:
    tokens = owner_login(sim, NIP)

    response = sim.post(
        "/certificates/enrollments",
        json={"certificateName": "Certyfikat biura", "certificateType": "Offline", "csr": "AAAA"},
        headers=bearer(tokens.access),
    )

    assert error_codes(response) == [25004]


def test_token_sessions_cannot_read_enrollment_data_or_enrol(sim: httpx.Client) -> None:
    owner = owner_login(sim, NIP)
    secret = sim.post(
        "/tokens",
        json={"permissions": ["CredentialsManage"], "description": "Token administracyjny"},
        headers=bearer(owner.access),
    ).json()["token"]
    via_token = login_token(sim, secret, NIP)

    data = sim.get("/certificates/enrollments/data", headers=bearer(via_token.access))
    enrol = sim.post(
        "/certificates/enrollments",
        json={"certificateName": "Certyfikat biura", "certificateType": "Offline", "csr": "AAAA"},
        headers=bearer(via_token.access),
    )

    assert error_codes(data) == [25001]
    assert error_codes(enrol) == [25002]


def test_limits_and_query_follow_the_issued_certificates(sim: httpx.Client) -> None:
    tokens = owner_login(sim, NIP)
    before = sim.get("/certificates/limits", headers=bearer(tokens.access)).json()
    serial = _enroll(sim, tokens, ec.generate_private_key(ec.SECP256R1()))

    after = sim.get("/certificates/limits", headers=bearer(tokens.access)).json()
    listed = sim.post(
        "/certificates/query", json={"type": "Authentication"}, headers=bearer(tokens.access)
    ).json()

    assert after["certificate"]["remaining"] == before["certificate"]["remaining"] - 1
    assert [c["certificateSerialNumber"] for c in listed["certificates"]] == [serial]
    assert listed["certificates"][0]["subjectIdentifier"] == {"type": "Nip", "value": NIP}
    assert listed["hasMore"] is False


def test_the_certificate_limit_can_be_lowered_on_test(sim: httpx.Client) -> None:
    tokens = owner_login(sim, NIP)
    assert (
        sim.post(
            "/testdata/limits/subject/certificate",
            json={"certificate": {"maxCertificates": 1}},
            headers=bearer(tokens.access),
        ).status_code
        == 200
    )
    _enroll(sim, tokens, ec.generate_private_key(ec.SECP256R1()))
    data = sim.get("/certificates/enrollments/data", headers=bearer(tokens.access)).json()

    response = sim.post(
        "/certificates/enrollments",
        json={
            "certificateName": "Drugi certyfikat",
            "certificateType": "Offline",
            "csr": _csr(data, ec.generate_private_key(ec.SECP256R1())),
        },
        headers=bearer(tokens.access),
    )

    assert error_codes(response) == [25007]
