"""Rate limits per (context, IP) in three windows, profiles and per-context overrides (§8)."""

from __future__ import annotations

import json

import httpx
import pytest

from ksef_simulator import SimulatorConfig, ratelimit
from ksef_simulator.state import State
from tests.contract import contract
from tests.ksef_simulator.helpers import bearer, owner_login

CLIENT = "5265877635"
OTHER = "7680002466"


@pytest.fixture
def simulator_config() -> SimulatorConfig:
    return SimulatorConfig(profile="production", jwt_secret=b"test-secret-test-secret-test-sec")


def test_every_operation_has_the_contract_limits_in_its_group() -> None:
    for template, item in contract()["paths"].items():
        for method, op in item.items():
            limits = op.get("x-rate-limits")
            group = ratelimit.group_for(method, template)
            expected = ratelimit.PUBLIC if group == "public" else ratelimit.PRODUCTION[group]
            assert limits == expected, f"{method.upper()} {template}: {limits} vs {group}"


def test_the_121st_call_in_an_hour_gets_429_until_retry_after_passes(
    sim: httpx.Client, sim_state: State
) -> None:
    client = owner_login(sim, CLIENT)
    other = owner_login(sim, OTHER)
    sim_state.clock.freeze()
    for _ in range(120):  # group "other": 10/s, 30/min, 120/h; 2.5 s apart stays under 30/min
        assert sim.get("/limits/context", headers=bearer(client.access)).status_code == 200
        sim_state.clock.advance(2.5)

    refused = sim.get("/limits/context", headers=bearer(client.access))

    assert refused.status_code == 429
    retry_after = int(refused.headers["Retry-After"])
    assert 3000 < retry_after <= 3600
    assert "godzinę" in refused.json()["status"]["details"][0]
    assert sim.get("/limits/context", headers=bearer(other.access)).status_code == 200
    sim_state.clock.advance(retry_after)
    # The 15-minute access token has expired meanwhile; the refresh token has not.
    fresh = sim.post("/auth/token/refresh", headers=bearer(client.refresh)).json()
    assert (
        sim.get("/limits/context", headers=bearer(fresh["accessToken"]["token"])).status_code == 200
    )


def test_the_per_second_window_refuses_the_11th_call(sim: httpx.Client, sim_state: State) -> None:
    client = owner_login(sim, CLIENT)
    sim_state.clock.freeze()
    statuses = [
        sim.get("/rate-limits", headers=bearer(client.access)).status_code for _ in range(11)
    ]

    assert statuses == [200] * 10 + [429]
    sim_state.clock.advance(1)
    assert sim.get("/rate-limits", headers=bearer(client.access)).status_code == 200


def test_group_other_counts_each_endpoint_separately(sim: httpx.Client, sim_state: State) -> None:
    client = owner_login(sim, CLIENT)
    sim_state.clock.freeze()
    for _ in range(10):
        sim.get("/rate-limits", headers=bearer(client.access))

    assert sim.get("/rate-limits", headers=bearer(client.access)).status_code == 429
    assert sim.get("/limits/context", headers=bearer(client.access)).status_code == 200


def test_rate_limits_report_the_production_profile(sim: httpx.Client) -> None:
    client = owner_login(sim, CLIENT)

    limits = sim.get("/rate-limits", headers=bearer(client.access)).json()

    assert limits["invoiceMetadata"] == {"perSecond": 8, "perMinute": 16, "perHour": 20}
    assert limits["invoiceDownload"] == {"perSecond": 8, "perMinute": 16, "perHour": 64}


def test_a_context_can_set_its_own_limits_and_go_back(sim: httpx.Client, sim_state: State) -> None:
    client = owner_login(sim, CLIENT)
    custom = {
        group: {"perSecond": 1, "perMinute": 2, "perHour": 3} for group in ratelimit.GROUP_NAMES
    }
    assert (
        sim.post(
            "/testdata/rate-limits", json={"rateLimits": custom}, headers=bearer(client.access)
        ).status_code
        == 200
    )
    sim_state.clock.freeze()

    assert sim.get("/limits/context", headers=bearer(client.access)).status_code == 200
    assert sim.get("/limits/context", headers=bearer(client.access)).status_code == 429
    sim_state.clock.advance(1)
    assert sim.delete("/testdata/rate-limits", headers=bearer(client.access)).status_code == 200
    assert sim.get("/limits/context", headers=bearer(client.access)).status_code == 200


def test_the_fast_profile_is_far_above_production() -> None:
    fast = ratelimit.profile_values("fast")

    assert fast["invoiceMetadata"]["perHour"] == 20 * ratelimit.FAST_FACTOR


def test_session_limits_can_be_changed_on_test(sim: httpx.Client) -> None:
    client = owner_login(sim, CLIENT)
    limits = {"maxInvoiceSizeInMB": 2, "maxInvoiceWithAttachmentSizeInMB": 4, "maxInvoices": 5}
    assert (
        sim.post(
            "/testdata/limits/context/session",
            json={"onlineSession": limits, "batchSession": limits},
            headers=bearer(client.access),
        ).status_code
        == 200
    )

    assert (
        sim.get("/limits/context", headers=bearer(client.access)).json()["onlineSession"] == limits
    )
    sim.delete("/testdata/limits/context/session", headers=bearer(client.access))
    default = sim.get("/limits/context", headers=bearer(client.access)).json()
    assert default["onlineSession"]["maxInvoices"] == 10000
    subject = sim.get("/limits/subject", headers=bearer(client.access)).json()
    assert subject == {
        "enrollment": {"maxEnrollments": 300},
        "certificate": {"maxCertificates": 100},
    }


def test_the_state_survives_a_snapshot(
    tmp_path: object, sim: httpx.Client, sim_state: State
) -> None:
    from pathlib import Path

    from ksef_simulator import create_app

    owner_login(sim, CLIENT)
    path = Path(str(tmp_path)) / "state.pickle"
    sim_state.save(path)

    restored = create_app(SimulatorConfig(state_file=path))
    state = restored.extensions["ksef_simulator"]
    assert len(state.auth_operations) == len(sim_state.auth_operations)
    assert json.dumps(state.faults.as_json()) == json.dumps(sim_state.faults.as_json())


def test_public_endpoints_refuse_the_61st_call_in_a_second_from_one_ip(
    sim: httpx.Client, sim_state: State
) -> None:
    sim_state.clock.freeze()
    statuses = [sim.post("/auth/challenge").status_code for _ in range(61)]

    assert statuses == [200] * 60 + [429]
    sim_state.clock.advance(1)
    assert sim.post("/auth/challenge").status_code == 200


def test_the_fast_profile_scales_the_public_limit_too() -> None:
    assert ratelimit.public_limits("production") == {"perSecond": 60}
    assert ratelimit.public_limits("fast") == {"perSecond": 60 * ratelimit.FAST_FACTOR}
