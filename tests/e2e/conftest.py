"""Our `ksef/` client against the KSeF simulator, in-process over HTTP.

The simulator fixtures are the ones of tests/ksef_simulator (re-exported here, not copied):
`simulator_config` (override it per class), `simulator_app`, `sim_state`, and `sim` for
test data (/testdata/... calls). On top of them:

* `sim_sleep` — the client's `sleep`: records each wait and moves the simulated clock by
  it, so Retry-After, backoff and polling cost no real time;
* `ksef_http` — `httpx.Client` on http://ksef-sim/v2 over a WSGI transport, holding every
  exchange to the contract like `sim` does (a body our client builds wrong fails the test);
* `ksef_client` — `KsefClient(http=ksef_http)` with the simulated clock, the fake sleep and no
  jitter (not `client`, which is pytest-django's test client).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from flask import Flask

from ksef.client import KsefClient
from ksef_simulator.state import State
from tests.ksef_simulator.conftest import (
    sim,
    sim_state,
    simulator_app,
    simulator_config,
)
from tests.ksef_simulator.helpers import ContractCheckingHooks, SimTransport

__all__ = ["sim", "sim_state", "simulator_app", "simulator_config"]

BASE_URL = "http://ksef-sim/v2"


class SimulatedSleep:
    """A `sleep` that advances the simulator's clock instead of waiting."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.waits: list[float] = []
        # Run after each wait (e.g. "the outage is over"), like time passing would.
        self.then: Callable[[], None] | None = None

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.state.clock.advance(seconds)
        if self.then is not None:
            self.then()


@pytest.fixture
def sim_sleep(sim_state: State) -> SimulatedSleep:
    return SimulatedSleep(sim_state)


@pytest.fixture
def ksef_http(simulator_app: Flask) -> Iterator[httpx.Client]:
    hooks = ContractCheckingHooks()
    with httpx.Client(
        transport=SimTransport(simulator_app),
        base_url=BASE_URL,
        event_hooks={"request": [hooks.on_request], "response": [hooks.on_response]},
    ) as http:
        yield http


@pytest.fixture
def ksef_client(ksef_http: httpx.Client, sim_state: State, sim_sleep: SimulatedSleep) -> KsefClient:
    return KsefClient(
        BASE_URL,
        http=ksef_http,
        sleep=sim_sleep,
        clock=sim_state.now,
        jitter=lambda: 0.0,
    )
