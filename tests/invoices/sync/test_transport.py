"""The rate-limited transport of the sync: every KSeF API request takes a slot first, a
429 blocks its counter for every worker, part downloads pass untouched, and a backfill
leaves the incremental cycles their share of the query and export budgets."""

from __future__ import annotations

import httpx
import pytest

from invoices.sync.clock import ManualClock
from invoices.sync.limiter import RateLimiter, SqliteStore
from invoices.sync.transport import (
    BACKFILL_RESERVE_PER_HOUR,
    LimitedTransport,
    SlotUnavailable,
    operation_of,
)

API = "http://ksef.test/v2"


def _transport(tmp_path, answer=200, headers=None):  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(answer, headers=headers or {}, json={})

    clock = ManualClock(1_800_000_000.0)
    limiter = RateLimiter(SqliteStore(tmp_path / "limits.sqlite3"), clock)
    limited = LimitedTransport(
        httpx.MockTransport(handler), limiter, context="5261040828", api_base_url=API
    )
    return limited, clock, seen


def _starts(limited: LimitedTransport, clock: ManualClock, count: int) -> int:
    """How many export starts get through, one a minute (the per-minute window never fills)."""
    granted = 0
    with httpx.Client(transport=limited) as http:
        for _ in range(count):
            try:
                http.post(f"{API}/invoices/exports", json={})
                granted += 1
            except SlotUnavailable:
                pass
            clock.advance(61)
    return granted


def test_exports_stop_at_the_hourly_limit_and_a_backfill_leaves_the_reserve(tmp_path):
    limited, clock, _ = _transport(tmp_path)
    assert _starts(limited, clock, 25) == 20  # the contract's 20 an hour

    backfilling, clock, _ = _transport(tmp_path / "other")
    backfilling.backfill = True
    assert _starts(backfilling, clock, 25) == 20 - BACKFILL_RESERVE_PER_HOUR


def test_a_refused_request_is_never_sent_and_says_when_the_slot_frees(tmp_path):
    limited, clock, seen = _transport(tmp_path)
    with httpx.Client(transport=limited) as http:
        for _ in range(8):  # invoiceExport allows 8 a second
            http.post(f"{API}/invoices/exports", json={})
        with pytest.raises(SlotUnavailable) as refused:
            http.post(f"{API}/invoices/exports", json={})
    assert len(seen) == 8
    assert refused.value.retry_at == pytest.approx(clock.time() + 1.0)


def test_a_429_blocks_the_counter_for_its_retry_after(tmp_path):
    limited, clock, seen = _transport(tmp_path, answer=429, headers={"Retry-After": "30"})
    with httpx.Client(transport=limited) as http:
        assert http.post(f"{API}/invoices/query/metadata", json={}).status_code == 429
        with pytest.raises(SlotUnavailable) as refused:
            http.post(f"{API}/invoices/query/metadata", json={})
    assert refused.value.retry_at == pytest.approx(clock.time() + 30)
    assert len(seen) == 1


def test_presigned_part_downloads_are_not_limited(tmp_path):
    limited, _clock, seen = _transport(tmp_path)
    with httpx.Client(transport=limited) as http:
        for _ in range(100):
            http.get("http://storage.ksef.test/exports/part-1?sig=x")
            http.get(f"{API}/storage/exports/ref/part-1")
    assert len(seen) == 200


def test_concrete_paths_map_to_the_contracts_operations() -> None:
    assert operation_of("/invoices/exports/20261202-EX-1", "GET").path == (
        "/invoices/exports/{referenceNumber}"
    )
    assert operation_of("/invoices/exports", "POST").path == "/invoices/exports"
    assert operation_of("/auth/20261202-AU-1", "GET").path == "/auth/{referenceNumber}"
    assert operation_of("/auth/token/refresh", "POST").path == "/auth/token/refresh"
    assert operation_of("/auth/challenge", "POST").path == "/auth/challenge"
