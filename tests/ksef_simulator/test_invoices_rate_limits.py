"""The metadata query's production limits: 8/s, 16/min, 20/h per (context, IP)."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from ksef_simulator import SimulatorConfig, seeding
from ksef_simulator.state import State
from tests.ksef_simulator.helpers import owner_login
from tests.ksef_simulator.invoice_support import date_filters, query


@pytest.fixture
def simulator_config() -> SimulatorConfig:
    return SimulatorConfig(profile="production", jwt_secret=b"test-secret-test-secret-test-sec")


def test_the_21st_query_in_an_hour_waits_and_other_contexts_are_not_affected(
    sim: httpx.Client, sim_state: State
) -> None:
    seeded = seeding.seed(sim_state, seeding.SeedSpec(subjects=2, invoices=5, seed=2))
    first, second = (s.nip for s in seeded.subjects)
    filters = date_filters("Subject1", date(2026, 9, 1), date(2026, 11, 1))
    access = owner_login(sim, first).access
    for _ in range(20):
        assert query(sim, access, filters).status_code == 200
        sim_state.clock.advance(5)  # stay under 8/s and 16/min: only the hourly limit bites

    refused = query(sim, access, filters)
    other = query(sim, owner_login(sim, second).access, filters)

    assert refused.status_code == 429
    retry_after = int(refused.headers["Retry-After"])
    assert 3400 < retry_after <= 3600
    assert refused.json()["status"]["code"] == 429
    assert other.status_code == 200
    sim_state.clock.advance(retry_after)
    assert query(sim, owner_login(sim, first).access, filters).status_code == 200
