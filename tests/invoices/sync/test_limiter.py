"""The shared KSeF rate limiter, on both stores: windows, blocks, atomicity, limits table."""

from __future__ import annotations

import bisect
import math
import multiprocessing
import os
import random
import sqlite3
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from invoices.sync import limiter as limiter_module
from invoices.sync.clock import ManualClock, SystemClock
from invoices.sync.limiter import (
    CONTRACT_DEFAULTS,
    DOWNLOAD_INVOICE,
    EXPORT_STATUS,
    GROUP_OF,
    PUBLIC_LIMITS,
    PUBLIC_OPERATIONS,
    QUERY_METADATA,
    READ_RATE_LIMITS,
    START_EXPORT,
    Decision,
    Limits,
    Operation,
    RateLimiter,
    RateLimitStore,
    RateLimitTable,
    RedisStore,
    SqliteStore,
    check_store_url,
    context_key,
    group_of,
    operation_key,
    public_key,
    rate_limit_store,
)
from ksef.client import KsefClient
from ksef.models import RateLimitValues
from ksef_simulator import SimulatorConfig, create_app, ratelimit
from tests.contract import contract
from tests.invoices.sync.limiter_workers import hammer
from tests.ksef_simulator.helpers import SimTransport, bearer, owner_login

# A binary-exact fraction, so that `START + window` is exactly what a reader expects.
START = 1_800_000_000.25
CLIENT_NIP = "5265877635"
OTHER_NIP = "7680002466"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_url() -> str:
    """The suite's Redis when it runs on one (CI), else a database of this test's own."""
    url = os.environ.get("KSEF_RATE_LIMIT_URL", "")
    return url if url.startswith("redis") else LOCAL_REDIS_URL


@pytest.fixture
def redis_store() -> Iterator[RedisStore]:
    client = redis.Redis.from_url(_redis_url())
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"Redis is not reachable at {_redis_url()}")
    prefix = f"test-limiter:{uuid.uuid4().hex}:"
    yield RedisStore(client, prefix=prefix)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "limits.sqlite3")


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest) -> RateLimitStore:
    return request.getfixturevalue(f"{request.param}_store")  # type: ignore[no-any-return]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def limiter(store: RateLimitStore, clock: ManualClock) -> RateLimiter:
    return RateLimiter(store, clock)


def another_worker(store: RateLimitStore, clock: ManualClock) -> RateLimiter:
    """A limiter in 'another process': its own connection to the same counters."""
    if isinstance(store, SqliteStore):
        return RateLimiter(SqliteStore(store.path), clock)
    assert isinstance(store, RedisStore)
    return RateLimiter(RedisStore(redis.Redis.from_url(_redis_url()), prefix=store.prefix), clock)


def acquire_at(limiter: RateLimiter, clock: ManualClock, at: float, limits: Limits) -> Decision:
    clock.set(START + at)
    return limiter.acquire("context:5265877635:invoiceMetadata", limits)


# ------------------------------------------------------------------------------ windows


@pytest.mark.parametrize(
    ("limits", "window", "spacing"),
    [
        (Limits(per_second=3), 1.0, 0.125),
        (Limits(per_second=100, per_minute=3), 60.0, 4.0),
        (Limits(per_second=100, per_minute=100, per_hour=3), 3600.0, 128.0),
    ],
    ids=["second", "minute", "hour"],
)
def test_it_grants_up_to_each_windows_limit_and_refuses_the_next_with_the_exact_retry_at(
    limiter: RateLimiter, clock: ManualClock, limits: Limits, window: float, spacing: float
) -> None:
    grants = [acquire_at(limiter, clock, n * spacing, limits) for n in range(3)]
    refused = acquire_at(limiter, clock, 3 * spacing, limits)

    assert [decision.granted for decision in grants] == [True, True, True]
    assert refused == Decision(granted=False, at=START + 3 * spacing, retry_at=START + window)
    assert refused.retry_after == window - 3 * spacing


def test_all_three_windows_apply_at_once_and_the_latest_one_decides(
    limiter: RateLimiter, clock: ManualClock
) -> None:
    limits = Limits(per_second=2, per_minute=3, per_hour=4)
    assert acquire_at(limiter, clock, 0.0, limits).granted
    assert acquire_at(limiter, clock, 0.5, limits).granted
    assert acquire_at(limiter, clock, 0.75, limits).retry_at == START + 1.0  # the second
    assert acquire_at(limiter, clock, 1.0, limits).granted
    assert acquire_at(limiter, clock, 2.0, limits).retry_at == START + 60.0  # the minute
    assert acquire_at(limiter, clock, 60.0, limits).granted
    assert acquire_at(limiter, clock, 61.0, limits).retry_at == START + 3600.0  # the hour
    assert acquire_at(limiter, clock, 3600.0, limits).granted


def test_a_refused_request_reserves_nothing_in_any_window(
    limiter: RateLimiter, clock: ManualClock
) -> None:
    limits = Limits(per_second=1, per_minute=2)
    assert acquire_at(limiter, clock, 0.0, limits).granted
    for at in (0.25, 0.5, 0.75):
        assert not acquire_at(limiter, clock, at, limits).granted

    # Had the refusals counted, the minute (2) would be full by now.
    assert acquire_at(limiter, clock, 1.0, limits).granted


def test_the_window_slides_so_old_grants_age_out_one_by_one(
    limiter: RateLimiter, clock: ManualClock
) -> None:
    limits = Limits(per_minute=3)
    for at in (0.0, 10.0, 20.0):
        assert acquire_at(limiter, clock, at, limits).granted

    assert acquire_at(limiter, clock, 30.0, limits).retry_at == START + 60.0
    assert acquire_at(limiter, clock, 60.0, limits).granted
    assert acquire_at(limiter, clock, 61.0, limits).retry_at == START + 70.0
    assert acquire_at(limiter, clock, 70.0, limits).granted


def test_a_caller_that_comes_back_at_retry_at_is_granted_even_when_floats_round(
    store: RateLimitStore,
) -> None:
    # Just before 2**31 s (January 2038) `t + 3600` lands in the next binade, rounds, and
    # `(t + 3600) - 3600` comes out below `t`: waking at the naive moment would be refused.
    first_at = 2147481864.4336865
    assert (first_at + 3600.0) - 3600.0 < first_at
    clock = ManualClock(first_at)
    limiter, limits = RateLimiter(store, clock), Limits(per_hour=1)
    assert limiter.acquire("k", limits).granted
    clock.advance(1.0)

    refused = limiter.acquire("k", limits)

    assert refused.retry_at is not None
    assert refused.retry_at == math.nextafter(first_at + 3600.0, math.inf)
    clock.set(refused.retry_at)
    assert limiter.acquire("k", limits).granted


def test_a_cost_takes_several_slots_at_once_or_none(
    limiter: RateLimiter, clock: ManualClock
) -> None:
    limits = Limits(per_second=3)
    assert limiter.acquire("k", limits, cost=2).granted
    assert limiter.acquire("k", limits, cost=2) == Decision(False, START, START + 1.0)
    assert limiter.acquire("k", limits, cost=1).granted
    assert not limiter.acquire("k", limits, cost=1).granted


def test_it_rejects_a_cost_that_no_window_could_ever_hold(limiter: RateLimiter) -> None:
    with pytest.raises(ValueError, match="can never fit"):
        limiter.acquire("k", Limits(per_second=10, per_minute=3), cost=4)
    with pytest.raises(ValueError, match="can never fit"):
        limiter.acquire("k", Limits(per_second=10), cost=0)


def test_limits_refuse_a_count_below_one() -> None:
    with pytest.raises(ValueError, match="positive"):
        Limits(per_second=0)


# ------------------------------------------------------------------------------- blocks


def test_a_429_blocks_the_key_for_every_worker_until_retry_after_has_passed(
    store: RateLimitStore, limiter: RateLimiter, clock: ManualClock
) -> None:
    limits = Limits(per_second=10)
    worker = another_worker(store, clock)
    limiter.block_for("k", 30.0)
    clock.advance(10.0)

    assert worker.acquire("k", limits) == Decision(False, START + 10.0, START + 30.0)
    assert worker.acquire("other-key", limits).granted
    clock.set(START + 30.0)
    assert worker.acquire("k", limits).granted


def test_a_shorter_block_does_not_cut_a_longer_one_short(
    limiter: RateLimiter, clock: ManualClock
) -> None:
    limiter.block("k", START + 30.0)
    limiter.block("k", START + 5.0)
    clock.advance(10.0)

    assert limiter.acquire("k", Limits(per_second=10)).retry_at == START + 30.0


def test_a_block_and_a_full_window_report_the_later_moment(
    limiter: RateLimiter, clock: ManualClock
) -> None:
    limits = Limits(per_minute=1)
    assert limiter.acquire("k", limits).granted
    limiter.block("k", START + 5.0)

    assert limiter.acquire("k", limits).retry_at == START + 60.0


# --------------------------------------------------------------------- keys and groups


def test_the_sync_operations_are_charged_to_their_kse_f_groups() -> None:
    assert group_of(QUERY_METADATA) == "invoiceMetadata"
    assert group_of(START_EXPORT) == "invoiceExport"
    assert group_of(EXPORT_STATUS) == "invoiceExportStatus"
    assert group_of(DOWNLOAD_INVOICE) == "invoiceDownload"
    assert group_of(READ_RATE_LIMITS) == "other"
    assert group_of(Operation("POST", "/permissions/query/persons/grants")) == "other"
    assert group_of(Operation("POST", "/auth/challenge")) == "public"


def test_each_endpoint_of_group_other_has_a_counter_of_its_own(
    limiter: RateLimiter,
) -> None:
    table = RateLimitTable({**CONTRACT_DEFAULTS, "other": Limits(per_second=1)}, from_ksef=True)
    permissions = Operation("POST", "/permissions/query/persons/grants")

    assert limiter.acquire_operation(CLIENT_NIP, READ_RATE_LIMITS, table).granted
    assert not limiter.acquire_operation(CLIENT_NIP, READ_RATE_LIMITS, table).granted
    assert limiter.acquire_operation(CLIENT_NIP, permissions, table).granted
    assert limiter.acquire_operation(OTHER_NIP, READ_RATE_LIMITS, table).granted
    with pytest.raises(ValueError, match="per endpoint"):
        context_key(CLIENT_NIP, "other")


def test_the_public_auth_endpoints_share_one_counter_across_all_clients(
    limiter: RateLimiter,
) -> None:
    table = RateLimitTable.contract_defaults()
    challenge = Operation("POST", "/auth/challenge")
    for n in range(60):
        context = CLIENT_NIP if n % 2 else OTHER_NIP
        assert limiter.acquire_operation(context, challenge, table).granted

    refused = limiter.acquire_operation(
        "1111111111", Operation("GET", "/auth/{referenceNumber}"), table
    )

    assert not refused.granted
    assert operation_key(CLIENT_NIP, challenge) == operation_key(OTHER_NIP, challenge)
    assert operation_key(CLIENT_NIP, challenge) == public_key()


def test_the_contract_defaults_are_the_x_rate_limits_of_the_contract() -> None:
    for path, item in contract()["paths"].items():
        if path.startswith("/testdata/") or path == "/peppol/query":
            continue  # TEST-only set-up and PEPPOL lookups: the portal's sync never calls them
        for method, spec in item.items():
            operation = Operation(method.upper(), path)
            limits = RateLimitTable.contract_defaults().limits_for(operation)
            stated = spec["x-rate-limits"]
            assert limits == Limits(
                stated.get("perSecond"), stated.get("perMinute"), stated.get("perHour")
            ), f"{method.upper()} {path}"
            if operation in PUBLIC_OPERATIONS:
                assert limits == PUBLIC_LIMITS


def test_every_operation_of_the_group_map_exists_in_the_contract() -> None:
    paths = contract()["paths"]
    for operation in [*GROUP_OF, *PUBLIC_OPERATIONS, READ_RATE_LIMITS]:
        assert operation.method.lower() in paths.get(operation.path, {}), operation


# --------------------------------------------------------------------------- the table


@pytest.fixture
def ksef_with_lowered_limits() -> Iterator[tuple[KsefClient, str]]:
    """A KSeF (the simulator, over HTTP) whose context has its own invoiceMetadata limits."""
    app = create_app(SimulatorConfig(profile="production", jwt_secret=b"t" * 32))
    with httpx.Client(transport=SimTransport(app), base_url="http://ksef-sim/v2") as sim:
        access = owner_login(sim, CLIENT_NIP).access
        lowered = {
            **ratelimit.PRODUCTION,
            "invoiceMetadata": {"perSecond": 2, "perMinute": 4, "perHour": 6},
        }
        response = sim.post(
            "/testdata/rate-limits", json={"rateLimits": lowered}, headers=bearer(access)
        )
        assert response.status_code == 200
        with httpx.Client(transport=SimTransport(app)) as http:
            yield KsefClient("http://ksef-sim/v2", http=http), access


def test_the_limits_table_is_read_from_kse_f_once_and_then_serves_every_worker(
    store: RateLimitStore, clock: ManualClock, ksef_with_lowered_limits: tuple[KsefClient, str]
) -> None:
    ksef, access = ksef_with_lowered_limits
    reads: list[float] = []

    def read() -> dict[str, RateLimitValues]:
        reads.append(clock.time())
        return ksef.get_rate_limits(access)

    first = RateLimiter(store, clock).limits_table(CLIENT_NIP, read)
    clock.advance(3599.0)
    second = another_worker(store, clock).limits_table(CLIENT_NIP, read)
    clock.advance(1.0)
    RateLimiter(store, clock).limits_table(CLIENT_NIP, read)

    assert first.from_ksef
    assert first.limits_for(QUERY_METADATA) == Limits(2, 4, 6)
    assert second == first
    assert reads == [START, START + 3600.0]  # once per hour, whoever asks


def test_before_the_table_can_be_read_the_contract_defaults_apply(
    limiter: RateLimiter,
) -> None:
    table = limiter.limits_table(CLIENT_NIP)

    assert not table.from_ksef
    assert table.limits_for(QUERY_METADATA) == Limits(8, 16, 20)
    assert table.limits_for(DOWNLOAD_INVOICE) == Limits(8, 16, 64)
    assert table.limits_for(Operation("POST", "/auth/ksef-token")) == Limits(per_second=60)
    # The defaults are not cached: the next caller with a token reads the real table.
    assert limiter.limits_table(CLIENT_NIP, lambda: {}).from_ksef


def test_groups_that_kse_f_leaves_out_keep_their_contract_values() -> None:
    table = RateLimitTable.from_ksef_values(
        {"invoiceDownload": RateLimitValues(1, 2, 3), "newGroup": RateLimitValues(4, 5, 6)}
    )

    assert table.limits_for(DOWNLOAD_INVOICE) == Limits(1, 2, 3)
    assert table.limits_for(QUERY_METADATA) == CONTRACT_DEFAULTS["invoiceMetadata"]
    assert RateLimitTable.from_json(table.to_json()) == table


def test_when_get_rate_limits_has_no_free_slot_the_defaults_serve_without_calling_kse_f(
    limiter: RateLimiter, clock: ManualClock
) -> None:
    limiter.block(operation_key(CLIENT_NIP, READ_RATE_LIMITS), START + 20.0)

    def read() -> dict[str, RateLimitValues]:
        raise AssertionError("GET /rate-limits must wait for its own slot")

    assert limiter.limits_table(CLIENT_NIP, read) == RateLimitTable.contract_defaults()


# ------------------------------------------------------------------ configuration (URL)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "redis//127.0.0.1:6379/2",
        "memcached://127.0.0.1:11211",
        "redis://:6379/2",
        "redis://127.0.0.1:port/2",
        "redis://127.0.0.1:6379/two",
        "sqlite://",
        "sqlite:///",
        "sqlite:///:memory:",
        "sqlite://host/limits.sqlite3",
        "sqlite:///limits.sqlite3?mode=ro",
    ],
)
def test_a_malformed_rate_limit_url_stops_the_portal_at_start_up(settings: Any, url: str) -> None:
    settings.KSEF_RATE_LIMIT_URL = url

    with pytest.raises(ImproperlyConfigured, match="KSEF_RATE_LIMIT_URL"):
        apps.get_app_config("invoices").ready()


def test_sqlite_paths_are_relative_to_the_project_unless_absolute() -> None:
    base = Path("/srv/portal")

    assert check_store_url("sqlite:///var/l.sqlite3", base_dir=base).path == base / "var/l.sqlite3"
    assert check_store_url("sqlite:////data/l.sqlite3", base_dir=base).path == Path(
        "/data/l.sqlite3"
    )
    assert check_store_url("rediss://cache.internal:6380/2", base_dir=base).kind == "redis"


def test_the_configured_store_is_built_once_per_process(settings: Any, tmp_path: Path) -> None:
    settings.KSEF_RATE_LIMIT_URL = f"sqlite:///{tmp_path}/shared.sqlite3"
    store = rate_limit_store()

    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "shared.sqlite3"
    assert rate_limit_store() is store
    settings.KSEF_RATE_LIMIT_URL = "redis://127.0.0.1:6379/2"
    assert isinstance(rate_limit_store(), RedisStore)


# ---------------------------------------------------------------------- housekeeping


def test_redis_keys_expire_so_idle_counters_do_not_fill_redis(
    redis_store: RedisStore, clock: ManualClock
) -> None:
    limiter = RateLimiter(redis_store, clock)
    limiter.acquire("k", Limits(per_second=1))
    limiter.block("k", START + 30.0)
    limiter.limits_table(CLIENT_NIP, lambda: {})

    keys = list(redis_store.redis.scan_iter(match=f"{redis_store.prefix}*"))
    ttls = sorted(redis_store.redis.ttl(key) for key in keys)

    assert len(keys) == 4  # hits and block of "k", the table, the hits of GET /rate-limits
    assert ttls[0] > 0 and ttls[-1] <= 3600 + 60


def test_the_sqlite_store_deletes_rows_older_than_the_longest_window(
    sqlite_store: SqliteStore, clock: ManualClock
) -> None:
    limiter = RateLimiter(sqlite_store, clock)
    limiter.acquire("idle", Limits(per_second=1))
    limiter.block("idle", START + 10.0)
    clock.advance(3600.0 + 60.0)
    limiter.acquire("busy", Limits(per_second=1))

    with sqlite3.connect(sqlite_store.path) as db:
        hits = db.execute("SELECT key FROM hits").fetchall()
        blocks = db.execute("SELECT key FROM blocks").fetchall()

    assert hits == [("busy",)]
    assert blocks == []


def test_a_fresh_sqlite_file_ends_up_in_wal_even_when_the_first_switches_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Switching a new file to WAL takes an exclusive lock for which SQLite does not wait,
    # so a process opening the file beside another one can be refused: it must retry.
    attempts: list[int] = []
    switch = limiter_module._switched_to_wal

    def refused_twice(db: sqlite3.Connection) -> bool:
        attempts.append(1)
        return len(attempts) > 2 and switch(db)

    monkeypatch.setattr(limiter_module, "_switched_to_wal", refused_twice)
    store = SqliteStore(tmp_path / "fresh.sqlite3")

    assert RateLimiter(store, ManualClock(START)).acquire("k", Limits(per_second=1)).granted
    assert len(attempts) == 3
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_sqlite_file_that_never_gets_to_wal_fails_after_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limiter_module, "_switched_to_wal", lambda db: False)
    store = SqliteStore(tmp_path / "stuck.sqlite3", busy_timeout=0.05)

    with pytest.raises(sqlite3.OperationalError, match="could not be switched to WAL"):
        RateLimiter(store, ManualClock(START)).acquire("k", Limits(per_second=1))


def test_a_manual_clock_moves_only_when_told_and_never_back() -> None:
    clock = ManualClock(datetime(2027, 1, 15, 8, 0, tzinfo=UTC))
    clock.advance(90.0)

    assert clock.now() == datetime(2027, 1, 15, 8, 1, 30, tzinfo=UTC)
    assert clock.time() == clock.now().timestamp()
    with pytest.raises(ValueError, match="never goes back"):
        clock.set(clock.time() - 1.0)
    assert abs(SystemClock().time() - time.time()) < 1.0


# ------------------------------------------------------------ atomicity across processes


def run_hammers(kind: str, location: str, prefix: str, count: int) -> list[list[float]]:
    # spawn, not fork: forking a pytest-xdist worker, which runs threads, can deadlock.
    # The target lives in a module of its own that imports little: every child imports it.
    context = multiprocessing.get_context("spawn")
    ready, results = context.Barrier(count), context.Queue()
    processes = [
        context.Process(target=hammer, args=(kind, location, prefix, ready, results, 3.5))
        for _ in range(count)
    ]
    for process in processes:
        process.start()
    try:
        return [results.get(timeout=150) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The largest number of `times` inside one window (t - seconds, t]."""
    ordered = sorted(times)
    return max(
        (index + 1 - bisect.bisect_right(ordered, moment - seconds))
        for index, moment in enumerate(ordered)
    )


def test_four_processes_hammering_one_key_never_exceed_any_window(
    store: RateLimitStore,
) -> None:
    if isinstance(store, SqliteStore):
        kind, location, prefix = "sqlite", str(store.path), ""
    else:
        assert isinstance(store, RedisStore)
        kind, location, prefix = "redis", _redis_url(), store.prefix
    per_process = run_hammers(kind, location, prefix, 4)
    granted = [moment for grants in per_process for moment in grants]

    assert most_in_any_window(granted, 1.0) <= 4
    assert most_in_any_window(granted, 60.0) <= 10
    assert len(granted) == 10  # and the minute's slots were all used, not wasted
    assert sum(1 for grants in per_process if grants) >= 2


# ------------------------------------------------------------- against the simulator


def _next_moment(rng: random.Random, decision: Decision) -> tuple[float, bool]:
    """The time of the next request of a bursty stream, and whether it is a comeback."""
    roll = rng.random()
    if roll < 0.15 and decision.retry_at is not None:
        return decision.retry_at, True
    gap = rng.choice([0.0, 0.05, 0.4, 2.0, 20.0, 400.0]) * rng.random()
    return decision.at + gap, False


@pytest.mark.parametrize("seed", [7, 11, 2026])
def test_a_random_request_stream_is_granted_exactly_when_the_simulator_would_accept_it(
    store: RateLimitStore, clock: ManualClock, seed: int
) -> None:
    rng = random.Random(seed)
    limiter = RateLimiter(store, clock)
    limits = Limits(per_second=3, per_minute=8, per_hour=20)
    simulated = {"perSecond": 3, "perMinute": 8, "perHour": 20}
    in_step = ratelimit.RateLimiter()
    granted: list[float] = []
    for _ in range(400):
        decision = limiter.acquire("stream", limits)
        verdict = in_step.hit(("stream",), simulated, decision.at)
        assert decision.granted == verdict.allowed, decision
        if decision.granted:
            granted.append(decision.at)
        else:
            assert decision.retry_at is not None
            assert verdict.retry_after == max(1, math.ceil(decision.retry_at - decision.at))
        moment, comeback = _next_moment(rng, decision)
        clock.set(moment)
        if comeback:
            assert limiter.acquire("stream", limits, cost=1).granted
            granted.append(moment)
            assert in_step.hit(("stream",), simulated, moment).allowed

    # Replayed on their own, as KSeF would receive them, no granted request meets a 429.
    replay = ratelimit.RateLimiter()
    assert all(replay.hit(("replay",), simulated, moment).allowed for moment in granted)
    assert len(granted) > 40
