"""The application skeleton: public keys, error shapes, fault injection, clock."""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from flask import Flask

from ksef_simulator.state import State


def test_public_keys_are_published_with_ids_computed_from_the_certificates(
    sim: httpx.Client,
) -> None:
    response = sim.get("/security/public-key-certificates")

    assert response.status_code == 200
    usages = {}
    for item in response.json():
        der = base64.b64decode(item["certificate"])
        cert = x509.load_der_x509_certificate(der)
        spki = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert item["publicKeyId"] == base64.b64encode(hashlib.sha256(spki).digest()).decode()
        assert item["certificateId"] == base64.b64encode(hashlib.sha256(der).digest()).decode()
        usages.update(dict.fromkeys(item["usage"], item["publicKeyId"]))
    assert set(usages) == {"KsefTokenEncryption", "SymmetricKeyEncryption"}
    assert usages["KsefTokenEncryption"] != usages["SymmetricKeyEncryption"]


def test_a_call_without_a_token_gets_401_problem_details(sim: httpx.Client) -> None:
    response = sim.get("/limits/context")

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 401


def test_a_forged_token_is_rejected(sim: httpx.Client) -> None:
    response = sim.get("/limits/context", headers={"Authorization": "Bearer a.b.c"})

    assert response.status_code == 401


def test_server_errors_can_be_injected_and_switched_off(
    sim: httpx.Client, simulator_app: Flask
) -> None:
    control = httpx.Client(transport=httpx.WSGITransport(app=simulator_app), base_url="http://s")
    assert (
        control.post("/_sim/faults", json={"error_rate": 1, "error_status": 503}).status_code == 200
    )

    assert sim.get("/security/public-key-certificates").status_code == 503

    control.delete("/_sim/faults")
    assert sim.get("/security/public-key-certificates").status_code == 200


def test_a_429_storm_returns_the_official_body_with_retry_after(
    sim: httpx.Client, sim_state: State
) -> None:
    sim_state.faults.update({"rate_limit_storm": 1, "storm_retry_after": 7})

    response = sim.get("/security/public-key-certificates")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json()["status"]["code"] == 429


def test_429_comes_as_problem_details_on_request(sim: httpx.Client, sim_state: State) -> None:
    sim_state.faults.update({"rate_limit_storm": 1})

    response = sim.get(
        "/security/public-key-certificates", headers={"X-Error-Format": "problem-details"}
    )

    assert response.status_code == 429
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 429


def test_a_dropped_connection_looks_like_a_server_disconnect(
    sim: httpx.Client, sim_state: State
) -> None:
    sim_state.faults.update({"drop_rate": 1, "path_prefix": "/security"})

    with pytest.raises(httpx.RemoteProtocolError):
        sim.get("/security/public-key-certificates")


def test_unknown_faults_are_refused(sim_state: State) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        sim_state.faults.update({"gremlins": 1})


def test_the_clock_can_be_advanced(sim_state: State) -> None:
    before = sim_state.now()

    sim_state.clock.advance(3600)

    assert (sim_state.now() - before).total_seconds() >= 3600
