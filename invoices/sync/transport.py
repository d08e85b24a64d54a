"""Every KSeF request of the sync asks the shared rate limiter first.

`LimitedTransport` wraps the HTTP transport of one client context's session. Before a
request to the KSeF API it reserves a slot in the counter KSeF charges that operation to
(per context and limit group, or the per-IP counter of the public auth endpoints); with
no slot free it raises `SlotUnavailable` at once and the engine reschedules the step for
the moment the slot frees — a worker never sleeps holding a slot. A 429 answer blocks the
counter for its Retry-After on every worker. Pre-signed part downloads are not limited by
KSeF and pass straight through.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from invoices.sync.limiter import (
    Limits,
    Operation,
    RateLimiter,
    RateLimitTable,
    group_of,
    operation_key,
)
from ksef._http import parse_retry_after

# Concrete paths below the API root -> the contract's templates (the limiter's keys).
_TEMPLATES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^/invoices/exports/[^/]+$"), "/invoices/exports/{referenceNumber}"),
    (re.compile(r"^/invoices/ksef/[^/]+$"), "/invoices/ksef/{ksefNumber}"),
    (re.compile(r"^/auth/token/(redeem|refresh)$"), "/auth/token/{action}"),
    (re.compile(r"^/auth/sessions/current$"), "/auth/sessions/current"),
    (re.compile(r"^/auth/sessions/[^/]+$"), "/auth/sessions/{referenceNumber}"),
    (
        re.compile(r"^/auth/(?!challenge$|xades-signature$|ksef-token$|sessions$)[^/]+$"),
        "/auth/{referenceNumber}",
    ),
]
DEFAULT_RETRY_AFTER = 60.0
# What a backfill leaves of a context's query and export budgets for the incremental
# cycles of the same client: one probe and one export per subject type every 15 minutes
# (two subject types: 8 an hour each) stay available however long the history is.
BACKFILL_RESERVE_PER_HOUR = 8
BACKFILL_RESERVE_PER_MINUTE = 2
RESERVED_GROUPS = frozenset({"invoiceMetadata", "invoiceExport"})


class SlotUnavailable(Exception):
    """No rate-limit slot is free for this request before `retry_at` (epoch seconds)."""

    def __init__(self, retry_at: float, key: str) -> None:
        super().__init__(f"rate limit {key}: next slot at {retry_at:.3f}")
        self.retry_at = retry_at
        self.key = key


def operation_of(path: str, method: str) -> Operation:
    for pattern, template in _TEMPLATES:
        if pattern.match(path):
            if template == "/auth/token/{action}":
                return Operation(method, path)  # redeem and refresh are two operations
            return Operation(method, template)
    return Operation(method, path)


class LimitedTransport(httpx.BaseTransport):
    def __init__(
        self,
        inner: httpx.BaseTransport,
        limiter: RateLimiter,
        *,
        context: str,
        api_base_url: str,
        table: RateLimitTable | None = None,
    ) -> None:
        self.inner = inner
        self.limiter = limiter
        self.context = context
        self.api_path = urlsplit(api_base_url).path.rstrip("/")
        self.api_host = urlsplit(api_base_url).netloc
        self.table = table or RateLimitTable.contract_defaults()
        # Set by the engine while it works on a backfill window (see BACKFILL_RESERVE_*).
        self.backfill = False

    def _operation(self, request: httpx.Request) -> Operation | None:
        path = request.url.path
        if request.url.netloc.decode() != self.api_host or not path.startswith(self.api_path):
            return None  # a pre-signed part link: KSeF does not limit those
        below = path[len(self.api_path) :]
        if not below.startswith("/") or below.startswith("/storage/"):
            return None
        return operation_of(below, request.method)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        operation = self._operation(request)
        if operation is None:
            return self.inner.handle_request(request)
        key = operation_key(self.context, operation)
        decision = self.limiter.acquire(key, self._limits(operation))
        if not decision.granted:
            raise SlotUnavailable(decision.retry_at or decision.at, key)
        response = self.inner.handle_request(request)
        if response.status_code == 429:
            wait = parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
            self.limiter.block_for(key, wait if wait is not None else DEFAULT_RETRY_AFTER)
        return response

    def _limits(self, operation: Operation) -> Limits:
        limits = self.table.limits_for(operation)
        if not self.backfill or group_of(operation) not in RESERVED_GROUPS:
            return limits
        return Limits(
            limits.per_second,
            _less(limits.per_minute, BACKFILL_RESERVE_PER_MINUTE),
            _less(limits.per_hour, BACKFILL_RESERVE_PER_HOUR),
        )

    def close(self) -> None:
        self.inner.close()


def _less(limit: int | None, reserve: int) -> int | None:
    """A budget with the reserve kept back, never below one request."""
    return None if limit is None else max(1, limit - reserve)
