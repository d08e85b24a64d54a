"""The simulated clock: scaled real time, frozen time, or a clock shared with the client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from flask import Flask

from ksef_simulator.clock import Clock
from ksef_simulator.state import State

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class VirtualClock:
    """What a benchmark would hand to both sides: time moves only when someone sleeps."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


def test_a_followed_clock_is_the_only_source_of_time_and_advance_adds_to_it() -> None:
    virtual = VirtualClock(START)
    clock = Clock(scale=1000.0)

    clock.follow(virtual.now)
    first = clock.now()
    virtual.sleep(900)
    later = clock.now()
    clock.advance(60)
    shifted = clock.now()

    assert first == START and clock.is_following
    assert later == START + timedelta(seconds=900)
    assert shifted == START + timedelta(seconds=960)


def test_leaving_a_followed_clock_continues_from_its_last_moment() -> None:
    virtual = VirtualClock(START)
    clock = Clock(source=virtual.now)

    clock.follow(None)

    assert not clock.is_following
    assert START <= clock.now() < START + timedelta(seconds=5)


def test_the_api_and_the_rate_limits_run_on_the_shared_clock(
    simulator_app: Flask, sim_state: State, sim: httpx.Client
) -> None:
    virtual = VirtualClock(START)
    sim_state.clock.follow(virtual.now)
    control = httpx.Client(transport=httpx.WSGITransport(simulator_app), base_url="http://ksef-sim")

    before = control.get("/_sim/clock").json()["now"]
    virtual.sleep(3600)
    after = control.get("/_sim/clock").json()["now"]
    challenge = sim.post("/auth/challenge").json()

    assert before.startswith("2026-11-02T09:00:00")
    assert after.startswith("2026-11-02T10:00:00")
    assert challenge["timestamp"].startswith("2026-11-02T10:00:00")


def test_the_clock_can_be_frozen_through_the_control_endpoint(
    simulator_app: Flask, sim_state: State
) -> None:
    control = httpx.Client(transport=httpx.WSGITransport(simulator_app), base_url="http://ksef-sim")

    frozen = control.post("/_sim/clock/freeze", json={"at": START.isoformat()})
    sim_state.clock.advance(30)
    bad = control.post("/_sim/clock/freeze", json={"at": "2026-11-02T09:00:00"})

    assert frozen.json()["now"].startswith("2026-11-02T09:00:00")
    assert sim_state.now() == START + timedelta(seconds=30)
    assert bad.status_code == 400
