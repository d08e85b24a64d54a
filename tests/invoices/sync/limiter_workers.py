"""Worker processes for the limiter's atomicity test: a module that imports little,
since every spawned child imports it before it can start."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import redis

from invoices.sync.clock import SystemClock
from invoices.sync.limiter import Limits, RateLimiter, RateLimitStore, RedisStore, SqliteStore

HAMMERED_KEY = "context:5265877635:invoiceDownload"
HAMMER_LIMITS = Limits(per_second=4, per_minute=10, per_hour=1000)


def open_store(kind: str, location: str, prefix: str) -> RateLimitStore:
    if kind == "sqlite":
        return SqliteStore(Path(location))
    return RedisStore(redis.Redis.from_url(location), prefix=prefix)


def hammer(kind: str, location: str, prefix: str, ready: Any, results: Any, seconds: float) -> None:
    """One worker process: acquire as fast as it can for `seconds` once all are ready."""
    limiter = RateLimiter(open_store(kind, location, prefix), SystemClock())
    granted: list[float] = []
    ready.wait(timeout=120)  # importing this module in a spawned child takes seconds
    stop_at = time.time() + seconds
    for _ in range(5000):
        if time.time() >= stop_at:
            break
        decision = limiter.acquire(HAMMERED_KEY, HAMMER_LIMITS)
        if decision.granted:
            granted.append(decision.at)
        else:
            time.sleep(random.uniform(0, 0.002))
    results.put(granted)
