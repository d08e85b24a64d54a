"""Faults of exports: corrupted parts, packages that expire early, errors on the links."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from flask import Flask

from ksef_simulator import SimulatorConfig
from ksef_simulator.bulk import bulk_seed
from ksef_simulator.errors import utc_timestamp
from ksef_simulator.state import State
from tests.ksef_simulator.helpers import bearer, owner_login
from tests.ksef_simulator.invoice_support import SessionKey, encryption_info, sha256_b64

SELLER, BUYER = "5265877635", "6808208874"


@pytest.fixture
def simulator_config() -> SimulatorConfig:
    return SimulatorConfig(
        profile="fast", jwt_secret=b"test-secret-test-secret-test-sec", export_part_bytes=2048
    )


@pytest.fixture
def control(simulator_app: Flask) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(simulator_app), base_url="http://ksef-sim")


@pytest.fixture
def access(sim: httpx.Client, sim_state: State) -> str:
    now = sim_state.now()
    bulk_seed(
        sim_state,
        seller_nip=SELLER,
        buyer_nip=BUYER,
        count=20,
        stored_from=now - timedelta(days=1),
        stored_to=now - timedelta(minutes=1),
    )
    return owner_login(sim, BUYER).access


def _export(sim: httpx.Client, access: str, sim_state: State) -> str:
    filters = {
        "subjectType": "Subject2",
        "dateRange": {
            "dateType": "PermanentStorage",
            "from": utc_timestamp(sim_state.now() - timedelta(days=2)),
        },
    }
    body = {"encryption": encryption_info(sim, SessionKey.random()), "filters": filters}
    response = sim.post("/invoices/exports", json=body, headers=bearer(access))
    assert response.status_code == 201
    return str(response.json()["referenceNumber"])


def _status(sim: httpx.Client, access: str, reference: str) -> dict[str, Any]:
    response = sim.get(f"/invoices/exports/{reference}", headers=bearer(access))
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def test_a_corrupted_part_fails_its_hash_and_the_damage_repeats_with_the_seed(
    sim: httpx.Client, sim_raw: httpx.Client, control: httpx.Client, access: str, sim_state: State
) -> None:
    package = _status(sim, access, _export(sim, access, sim_state))["package"]
    part = package["parts"][0]

    def download_with_seed() -> bytes:
        control.post("/_sim/faults", json={"corrupt_part_rate": 1, "seed": 42})
        return sim_raw.get(part["url"]).content

    first, second = download_with_seed(), download_with_seed()
    control.delete("/_sim/faults")
    clean = sim_raw.get(part["url"]).content

    assert sha256_b64(clean) == part["encryptedPartHash"]
    assert len(first) == len(clean) and sha256_b64(first) != part["encryptedPartHash"]
    assert first == second


def test_the_nth_status_call_expires_the_package_and_its_links(
    sim: httpx.Client, sim_raw: httpx.Client, control: httpx.Client, access: str, sim_state: State
) -> None:
    control.post("/_sim/faults", json={"export_expire_on_status_call": 2})
    reference = _export(sim, access, sim_state)

    first = _status(sim, access, reference)
    second = _status(sim, access, reference)
    control.delete("/_sim/faults")
    third = _status(sim, access, reference)
    link = sim_raw.get(first["package"]["parts"][0]["url"])

    assert first["status"]["code"] == 200
    assert second["status"]["code"] == third["status"]["code"] == 210
    assert "package" not in second
    assert link.status_code == 403


def test_an_export_can_be_expired_on_demand(
    sim: httpx.Client, sim_raw: httpx.Client, control: httpx.Client, access: str, sim_state: State
) -> None:
    reference = _export(sim, access, sim_state)
    url = _status(sim, access, reference)["package"]["parts"][0]["url"]

    expired = control.post(f"/_sim/exports/{reference}/expire")
    unknown = control.post("/_sim/exports/20260101-EH-0000000000-0000000000-00/expire")

    assert expired.status_code == 200
    assert _status(sim, access, reference)["status"]["code"] == 210
    assert sim_raw.get(url).status_code == 403
    assert unknown.status_code == 404


def test_server_errors_can_target_part_downloads_or_status_calls(
    sim: httpx.Client, sim_raw: httpx.Client, control: httpx.Client, access: str, sim_state: State
) -> None:
    reference = _export(sim, access, sim_state)
    url = _status(sim, access, reference)["package"]["parts"][0]["url"]

    control.post(
        "/_sim/faults",
        json={"error_rate": 1, "error_status": 503, "path_prefix": "/storage/exports"},
    )
    part_down = sim_raw.get(url)
    status_fine = sim.get(f"/invoices/exports/{reference}", headers=bearer(access))
    control.post("/_sim/faults", json={"path_prefix": "/invoices/exports"})
    status_down = sim.get(f"/invoices/exports/{reference}", headers=bearer(access))
    part_fine = sim_raw.get(url)

    assert part_down.status_code == 503 and b"ServerBusy" in part_down.content
    assert status_fine.status_code == 200
    assert status_down.status_code == 503
    assert part_fine.status_code == 200


def test_dropped_connections_and_rate_limit_storms_on_part_downloads(
    sim: httpx.Client, sim_raw: httpx.Client, control: httpx.Client, access: str, sim_state: State
) -> None:
    url = _status(sim, access, _export(sim, access, sim_state))["package"]["parts"][0]["url"]

    control.post("/_sim/faults", json={"drop_rate": 1, "path_prefix": "/storage/"})
    with pytest.raises(httpx.RemoteProtocolError):
        sim_raw.get(url)
    control.post("/_sim/faults", json={"drop_rate": 0, "rate_limit_storm": 1})
    stormy = sim_raw.get(url)

    assert stormy.status_code == 200  # pre-signed storage is never rate-limited
