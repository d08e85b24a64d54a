"""Fixtures for the simulator tests (and for anyone who needs a KSeF in-process).

* `simulator_config` — override in a test module to change profile, delays, faults.
* `simulator_app` — a Flask app with a fresh State per test (apps are reused per config).
* `sim_state` — its State (clock, dictionaries); `sim_state.clock.advance(seconds)`.
* `sim` — httpx.Client on http://ksef-sim/v2 that checks EVERY /v2 exchange against the
  contract: response bodies against the declared schema for the status and media type,
  and JSON request bodies against the request schema — a request that violates it must
  be answered 400 / 21405, anything else fails the test.
* `sim_raw` — the same client without the checks (for deliberately odd exchanges).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from flask import Flask

from ksef_simulator import SimulatorConfig, create_app
from ksef_simulator.app import install_state
from ksef_simulator.state import State, new_state
from tests.ksef_simulator.helpers import ContractCheckingHooks, SimTransport


@pytest.fixture
def simulator_config() -> SimulatorConfig:
    return SimulatorConfig(profile="fast", jwt_secret=b"test-secret-test-secret-test-sec")


_APPS: dict[str, Flask] = {}


@pytest.fixture
def simulator_app(simulator_config: SimulatorConfig) -> Flask:
    """A fresh State in an app built once per configuration (building one costs ~0.2 s)."""
    if simulator_config.seed or simulator_config.state_file:
        return create_app(simulator_config)
    key = repr(simulator_config)
    app = _APPS.get(key)
    if app is None:
        app = _APPS[key] = create_app(simulator_config)
    else:
        install_state(app, new_state(simulator_config))
    return app


@pytest.fixture
def sim_state(simulator_app: Flask) -> State:
    return simulator_app.extensions["ksef_simulator"]  # type: ignore[no-any-return]


@pytest.fixture
def sim(simulator_app: Flask) -> Iterator[httpx.Client]:
    hooks = ContractCheckingHooks()
    with httpx.Client(
        transport=SimTransport(simulator_app),
        base_url="http://ksef-sim/v2",
        event_hooks={"request": [hooks.on_request], "response": [hooks.on_response]},
    ) as client:
        yield client


@pytest.fixture
def sim_raw(simulator_app: Flask) -> Iterator[httpx.Client]:
    with httpx.Client(transport=SimTransport(simulator_app), base_url="http://ksef-sim/v2") as c:
        yield c
