"""The shared KSeF rate limiter: one set of counters for every worker on every machine.

KSeF counts requests per (context, client IP) in sliding windows of 1 s, 60 s and 60 min,
all three at once, and answers 429 with Retry-After when any of them is full; the block
grows with repeated violations and dodging limits with many IPs is treated as an
incident (https://github.com/CIRFMF/ksef-docs/blob/main/limity/limity-api.md). A
deployment has one outgoing IP, so all its Celery workers spend from the same counters.
They live in a store every worker sees: Redis in production, an SQLite file shared by
the processes of one machine by default (`KSEF_RATE_LIMIT_URL`).

`RateLimiter.acquire` never sleeps. It either reserves the slot in every window at once
or reserves nothing and says when the first slot frees, so a task reschedules itself
(countdown = `Decision.retry_after`) instead of holding a worker while it waits.

A hit at time `t` counts in a window of `w` seconds while `t > now - w`, the comparison
the KSeF simulator makes. Timestamps come from the caller's
`Clock`, never from the store's server, so virtual-time benchmarks run production limits.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, Protocol, cast
from urllib.parse import SplitResult, urlsplit

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from invoices.sync.clock import Clock, SystemClock

if TYPE_CHECKING:
    from ksef.models import RateLimitValues

__all__ = [
    "DOWNLOAD_INVOICE",
    "EXPORT_STATUS",
    "PUBLIC",
    "PUBLIC_LIMITS",
    "QUERY_METADATA",
    "READ_RATE_LIMITS",
    "START_EXPORT",
    "Decision",
    "Limits",
    "Operation",
    "RateLimitStore",
    "RateLimitTable",
    "RateLimiter",
    "RedisStore",
    "SqliteStore",
    "Window",
    "check_store_url",
    "context_key",
    "group_of",
    "operation_key",
    "public_key",
    "rate_limit_store",
    "rate_limiter",
    "store_from_url",
]

# The three KSeF windows, in seconds; the longest bounds what a store has to remember.
SECOND, MINUTE, HOUR = 1.0, 60.0, 3600.0
LONGEST_WINDOW: Final = HOUR
# How long the limits read from GET /rate-limits serve every worker before a re-read.
TABLE_TTL: Final = 3600.0


class Window(NamedTuple):
    seconds: float
    limit: int


@dataclass(frozen=True)
class Limits:
    """Requests allowed per window; None leaves a window unlimited (public endpoints)."""

    per_second: int | None = None
    per_minute: int | None = None
    per_hour: int | None = None

    def __post_init__(self) -> None:
        for value in (self.per_second, self.per_minute, self.per_hour):
            if value is not None and value < 1:
                raise ValueError(f"a rate limit must be a positive count, not {value!r}")

    @classmethod
    def from_ksef(cls, values: RateLimitValues) -> Limits:
        return cls(values.per_second, values.per_minute, values.per_hour)

    def windows(self) -> tuple[Window, ...]:
        pairs = zip(
            (SECOND, MINUTE, HOUR), (self.per_second, self.per_minute, self.per_hour), strict=True
        )
        return tuple(Window(seconds, limit) for seconds, limit in pairs if limit is not None)


@dataclass(frozen=True)
class Decision:
    """The answer to one acquire: granted, or when to come back (`retry_at`, epoch seconds)."""

    granted: bool
    at: float
    retry_at: float | None = None

    @property
    def retry_after(self) -> float:
        """Seconds from the decision until a slot frees: a rescheduled task's countdown."""
        return 0.0 if self.retry_at is None else max(0.0, self.retry_at - self.at)


# --------------------------------------------------------------------- operations and keys


class Operation(NamedTuple):
    """A KSeF operation as the contract names it: method and path template."""

    method: str
    path: str


QUERY_METADATA: Final = Operation("POST", "/invoices/query/metadata")
START_EXPORT: Final = Operation("POST", "/invoices/exports")
EXPORT_STATUS: Final = Operation("GET", "/invoices/exports/{referenceNumber}")
DOWNLOAD_INVOICE: Final = Operation("GET", "/invoices/ksef/{ksefNumber}")
READ_RATE_LIMITS: Final = Operation("GET", "/rate-limits")

# The groups of GET /rate-limits, from each operation's `x-rate-limits` in the contract.
# Any other authenticated operation (permissions, tokens, certificates, limits, auth
# sessions) is in group "other", where every endpoint has a counter of its own.
GROUP_OF: Final[Mapping[Operation, str]] = {
    QUERY_METADATA: "invoiceMetadata",
    START_EXPORT: "invoiceExport",
    EXPORT_STATUS: "invoiceExportStatus",
    DOWNLOAD_INVOICE: "invoiceDownload",
    Operation("POST", "/sessions/online"): "onlineSession",
    Operation("POST", "/sessions/online/{referenceNumber}/close"): "onlineSession",
    Operation("POST", "/sessions/batch"): "batchSession",
    Operation("POST", "/sessions/batch/{referenceNumber}/close"): "batchSession",
    Operation("POST", "/sessions/online/{referenceNumber}/invoices"): "invoiceSend",
    Operation(
        "GET", "/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}"
    ): "invoiceStatus",
    Operation("GET", "/sessions"): "sessionList",
    Operation("GET", "/sessions/{referenceNumber}/invoices"): "sessionInvoiceList",
    Operation("GET", "/sessions/{referenceNumber}/invoices/failed"): "sessionInvoiceList",
    Operation("GET", "/sessions/{referenceNumber}"): "sessionMisc",
    Operation("GET", "/sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo"): "sessionMisc",
    Operation(
        "GET", "/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}/upo"
    ): "sessionMisc",
    Operation("GET", "/sessions/{referenceNumber}/upo/{upoReferenceNumber}"): "sessionMisc",
}
# Authentication happens before there is a context: KSeF limits these per IP only, so
# every client of the portal spends from one counter.
PUBLIC: Final = "public"
PUBLIC_OPERATIONS: Final = frozenset(
    {
        Operation("POST", "/auth/challenge"),
        Operation("POST", "/auth/xades-signature"),
        Operation("POST", "/auth/ksef-token"),
        Operation("GET", "/auth/{referenceNumber}"),
        Operation("POST", "/auth/token/redeem"),
        Operation("POST", "/auth/token/refresh"),
        Operation("GET", "/security/public-key-certificates"),
    }
)
# 60/s per IP on production; GET /rate-limits does not report it, so it stays a constant.
PUBLIC_LIMITS: Final = Limits(per_second=60)


def group_of(operation: Operation) -> str:
    if operation in PUBLIC_OPERATIONS:
        return PUBLIC
    return GROUP_OF.get(operation, "other")


def context_key(context: str, group: str, operation: Operation | None = None) -> str:
    """The counter of `group` in a KSeF context (a NIP or an internal id).

    Group "other" counts each endpoint on its own (digest §8), so it needs the operation.
    """
    if group == "other":
        if operation is None:
            raise ValueError('group "other" is counted per endpoint: pass the operation')
        return f"context:{context}:other:{operation.method} {operation.path}"
    return f"context:{context}:{group}"


def public_key() -> str:
    """The per-IP counter of the public endpoints (one outgoing IP per deployment)."""
    return PUBLIC


def operation_key(context: str, operation: Operation) -> str:
    group = group_of(operation)
    return public_key() if group == PUBLIC else context_key(context, group, operation)


# ------------------------------------------------------------------------- limits table

# Production values of contract 2.6.0 (digest §8, and `x-rate-limits` of each operation
# in the OpenAPI). They apply only until GET /rate-limits has been read for a context:
# the very first call in a context needs an access token before the table can be read.
CONTRACT_DEFAULTS: Final[Mapping[str, Limits]] = {
    "onlineSession": Limits(10, 30, 120),
    "batchSession": Limits(10, 20, 60),
    "invoiceSend": Limits(10, 30, 180),
    "invoiceStatus": Limits(30, 120, 1200),
    "sessionList": Limits(5, 10, 60),
    "sessionInvoiceList": Limits(10, 20, 200),
    "sessionMisc": Limits(10, 120, 1200),
    "invoiceMetadata": Limits(8, 16, 20),
    "invoiceExport": Limits(8, 16, 20),
    "invoiceExportStatus": Limits(10, 60, 600),
    "invoiceDownload": Limits(8, 16, 64),
    "other": Limits(10, 30, 120),
}


@dataclass(frozen=True)
class RateLimitTable:
    """The limits of every group in one context, and whether KSeF reported them."""

    groups: Mapping[str, Limits]
    from_ksef: bool

    @classmethod
    def contract_defaults(cls) -> RateLimitTable:
        return cls(dict(CONTRACT_DEFAULTS), from_ksef=False)

    @classmethod
    def from_ksef_values(cls, values: Mapping[str, RateLimitValues]) -> RateLimitTable:
        # A group KSeF leaves out keeps its contract value, so that a partial answer (or a
        # renamed group in a newer API) never leaves an operation unlimited.
        groups = dict(CONTRACT_DEFAULTS)
        groups.update({name: Limits.from_ksef(value) for name, value in values.items()})
        return cls(groups, from_ksef=True)

    def limits_for(self, operation: Operation) -> Limits:
        group = group_of(operation)
        if group == PUBLIC:
            return PUBLIC_LIMITS
        return self.groups.get(group, self.groups["other"])

    def to_json(self) -> str:
        groups = {
            name: [limits.per_second, limits.per_minute, limits.per_hour]
            for name, limits in self.groups.items()
        }
        return json.dumps({"groups": groups, "from_ksef": self.from_ksef})

    @classmethod
    def from_json(cls, text: str) -> RateLimitTable:
        data = json.loads(text)
        groups = {name: Limits(*values) for name, values in data["groups"].items()}
        return cls(groups, from_ksef=bool(data["from_ksef"]))


def _table_name(context: str) -> str:
    # Per context: KSeF reports each context's effective limits (TEST can change them).
    return f"rate-limits:{context}"


# ------------------------------------------------------------------------------ limiter


class RateLimitStore(Protocol):
    """Counters that every worker sees; all times are the caller's (epoch seconds)."""

    def reserve(
        self, key: str, windows: Sequence[Window], *, cost: int, now: float
    ) -> float | None:
        """Record `cost` hits at `now` if `key` is not blocked and every window has room;
        else record nothing. None when granted, otherwise when the first slot frees."""
        ...

    def block(self, key: str, *, until: float, now: float) -> None:
        """Refuse `key` until `until` (a longer block already recorded stays)."""
        ...

    def get_value(self, name: str, *, now: float) -> str | None: ...

    def put_value(self, name: str, value: str, *, expires_at: float, now: float) -> None: ...


class RateLimiter:
    """Slots of the KSeF counters, asked for before every call; time from `clock`."""

    def __init__(
        self, store: RateLimitStore, clock: Clock | None = None, *, table_ttl: float = TABLE_TTL
    ) -> None:
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.table_ttl = table_ttl

    def acquire(self, key: str, limits: Limits, cost: int = 1) -> Decision:
        """Reserve `cost` slots of `key` in all windows at once, or none; never sleeps."""
        windows = limits.windows()
        if cost < 1 or any(cost > window.limit for window in windows):
            raise ValueError(f"cost {cost} can never fit in {limits}")
        now = self.clock.time()
        retry_at = self.store.reserve(key, windows, cost=cost, now=now)
        return Decision(granted=retry_at is None, at=now, retry_at=retry_at)

    def acquire_operation(
        self, context: str, operation: Operation, table: RateLimitTable, cost: int = 1
    ) -> Decision:
        """Acquire the counter KSeF charges `operation` to in `context`."""
        return self.acquire(operation_key(context, operation), table.limits_for(operation), cost)

    def block(self, key: str, until: float) -> None:
        """Record a 429: every worker on every machine leaves `key` alone until `until`."""
        self.store.block(key, until=until, now=self.clock.time())

    def block_for(self, key: str, retry_after: float) -> None:
        """Record a 429's Retry-After (seconds from now)."""
        now = self.clock.time()
        self.store.block(key, until=now + retry_after, now=now)

    def limits_table(
        self, context: str, read: Callable[[], Mapping[str, RateLimitValues]] | None = None
    ) -> RateLimitTable:
        """The limits of `context`: cached, else read from KSeF with `read`, else defaults.

        `read` is a KsefClient's `get_rate_limits` bound to an access token; without one
        (no token yet) the contract's production values apply. GET /rate-limits is itself
        limited, so the read spends a slot, and the defaults serve rather than wait.
        """
        cached = self.store.get_value(_table_name(context), now=self.clock.time())
        if cached is not None:
            return RateLimitTable.from_json(cached)
        defaults = RateLimitTable.contract_defaults()
        if read is None or not self.acquire_operation(context, READ_RATE_LIMITS, defaults).granted:
            return defaults
        table = RateLimitTable.from_ksef_values(read())
        now = self.clock.time()
        self.store.put_value(
            _table_name(context), table.to_json(), expires_at=now + self.table_ttl, now=now
        )
        return table


def _frees_at(timestamp: float, seconds: float) -> float:
    """The first moment at which a hit at `timestamp` is out of a `seconds` window.

    A hit counts while `timestamp > now - seconds`. `timestamp + seconds` can round so
    that `moment - seconds` falls below `timestamp`: the hit would still count there, and
    a task woken at that moment would be refused with the same retry_at again. Step up
    to the first float at which it has aged out.
    """
    moment = timestamp + seconds
    while moment - seconds < timestamp:
        moment = math.nextafter(moment, math.inf)
    return moment


def _aging_index(count: int, cost: int, limit: int) -> int | None:
    """Which of a full window's hits (oldest first) must age out to fit `cost` more."""
    excess = count + cost - limit
    return excess - 1 if excess > 0 else None


def _latest(moments: Sequence[float | None]) -> float | None:
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None


# ------------------------------------------------------------------------- SQLite store

_SQLITE_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS hits (key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS hits_key_at ON hits (key, at);
CREATE INDEX IF NOT EXISTS hits_at ON hits (at);
CREATE TABLE IF NOT EXISTS blocks (key TEXT PRIMARY KEY, until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS stored_values (
    name TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL NOT NULL
);
"""
# Rows older than the longest window are deleted at most this often (caller seconds).
_PRUNE_EVERY: Final = 60.0


class SqliteStore:
    """Counters in an SQLite file that every process of one machine opens.

    WAL lets readers run beside the one writer, and BEGIN IMMEDIATE takes the write lock
    before the counts are read, so two processes can never both fill the last slot.
    Connections are per thread and per process: sqlite3 objects must not cross a fork.
    """

    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._pruned_at = -math.inf

    def reserve(
        self, key: str, windows: Sequence[Window], *, cost: int, now: float
    ) -> float | None:
        with self._write() as db:
            self._prune(db, now)
            moments = [self._blocked_until(db, key, now)]
            moments += [self._window_frees_at(db, key, window, cost, now) for window in windows]
            retry_at = _latest(moments)
            if retry_at is None:
                db.executemany("INSERT INTO hits (key, at) VALUES (?, ?)", [(key, now)] * cost)
            return retry_at

    def block(self, key: str, *, until: float, now: float) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO blocks (key, until) VALUES (?, ?) ON CONFLICT (key) "
                "DO UPDATE SET until = max(until, excluded.until)",
                (key, until),
            )

    def get_value(self, name: str, *, now: float) -> str | None:
        row = (
            self._connection()
            .execute(
                "SELECT value FROM stored_values WHERE name = ? AND expires_at > ?", (name, now)
            )
            .fetchone()
        )
        return None if row is None else str(row[0])

    def put_value(self, name: str, value: str, *, expires_at: float, now: float) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO stored_values (name, value, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
                "expires_at = excluded.expires_at",
                (name, value, expires_at),
            )

    def _blocked_until(self, db: sqlite3.Connection, key: str, now: float) -> float | None:
        row = db.execute(
            "SELECT until FROM blocks WHERE key = ? AND until > ?", (key, now)
        ).fetchone()
        return None if row is None else float(row[0])

    def _window_frees_at(
        self, db: sqlite3.Connection, key: str, window: Window, cost: int, now: float
    ) -> float | None:
        # Hits later than `now` (a worker whose clock runs ahead) count too: a window
        # that contains `now` can contain them.
        bound = now - window.seconds
        (count,) = db.execute(
            "SELECT count(*) FROM hits WHERE key = ? AND at > ?", (key, bound)
        ).fetchone()
        index = _aging_index(count, cost, window.limit)
        if index is None:
            return None
        (oldest,) = db.execute(
            "SELECT at FROM hits WHERE key = ? AND at > ? ORDER BY at LIMIT 1 OFFSET ?",
            (key, bound, index),
        ).fetchone()
        return _frees_at(float(oldest), window.seconds)

    def _prune(self, db: sqlite3.Connection, now: float) -> None:
        if abs(now - self._pruned_at) < _PRUNE_EVERY:
            return
        self._pruned_at = now
        db.execute("DELETE FROM hits WHERE at <= ?", (now - LONGEST_WINDOW,))
        db.execute("DELETE FROM blocks WHERE until <= ?", (now,))
        db.execute("DELETE FROM stored_values WHERE expires_at <= ?", (now,))

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None or self._local.pid != os.getpid():
            db = self._connect()
            self._local.db, self._local.pid = db, os.getpid()
        return db

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are exactly the BEGIN IMMEDIATE above.
        db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        self._enable_wal(db)
        db.execute("PRAGMA synchronous=NORMAL")
        # Under the write lock, so that processes opening a fresh file at once wait
        # for each other (the busy timeout) instead of racing to create the tables.
        db.execute("BEGIN IMMEDIATE")
        for statement in filter(str.strip, _SQLITE_SCHEMA.split(";")):
            db.execute(statement)
        db.execute("COMMIT")
        return db

    def _enable_wal(self, db: sqlite3.Connection) -> None:
        # Converting a file to WAL needs an exclusive lock, and SQLite does not run the
        # busy handler for it: processes opening a fresh file at once get "database is
        # locked". Retry until one of them has converted it (WAL then stays with the file).
        deadline = time.monotonic() + self.busy_timeout
        while not _switched_to_wal(db):
            if time.monotonic() > deadline:
                raise sqlite3.OperationalError(f"{self.path} could not be switched to WAL")
            time.sleep(0.01)


def _switched_to_wal(db: sqlite3.Connection) -> bool:
    try:
        if db.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            return True
        # A refused switch may also just answer the old mode instead of raising.
        return bool(db.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal")
    except sqlite3.OperationalError as error:
        if not error.sqlite_errorname.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            raise
        return False


# -------------------------------------------------------------------------- Redis store

# KEYS: the key's hits (sorted set, score = grant time) and its block (blocked-until).
# ARGV: now, cost, member prefix, TTL, prune bound, then per window: bound, limit.
# Times travel as the caller's exact decimal strings: Lua's tostring() keeps only 14
# digits, which would move a microsecond-precise epoch timestamp.
# Reply: {granted, blocked-until or nil, per window the score that must age out or nil}.
_RESERVE_LUA: Final = """
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[5])
local reply = {0, false}
local refused = false
local blocked = redis.call('GET', KEYS[2])
if blocked and tonumber(blocked) > now then
  reply[2] = blocked
  refused = true
end
for i = 6, #ARGV, 2 do
  local bound = '(' .. ARGV[i]
  local excess = redis.call('ZCOUNT', KEYS[1], bound, '+inf') + cost - tonumber(ARGV[i + 1])
  local oldest = false
  if excess > 0 then
    refused = true
    oldest = redis.call(
      'ZRANGEBYSCORE', KEYS[1], bound, '+inf', 'WITHSCORES', 'LIMIT', excess - 1, 1)[2]
  end
  reply[#reply + 1] = oldest
end
if refused then
  return reply
end
for n = 1, cost do
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3] .. n)
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
reply[1] = 1
return reply
"""
_BLOCK_LUA: Final = """
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""
# Redis TTLs only collect garbage (in Redis's own seconds); decisions use the caller's
# timestamps, so virtual time that runs faster than the wall clock is safe.
_TTL_MARGIN: Final = 60


def _ttl(seconds: float) -> int:
    return max(1, math.ceil(seconds)) + _TTL_MARGIN


class RedisStore:
    """Counters in Redis, shared by every worker on every machine; one script per acquire."""

    def __init__(self, client: redis.Redis, *, prefix: str = "ksef-rate-limit:") -> None:
        self.redis = client
        self.prefix = prefix
        self._reserve = client.register_script(_RESERVE_LUA)
        self._block = client.register_script(_BLOCK_LUA)

    def reserve(
        self, key: str, windows: Sequence[Window], *, cost: int, now: float
    ) -> float | None:
        args: list[str | int] = [repr(now), cost, f"{now!r}:{uuid.uuid4().hex}:"]
        args += [_ttl(LONGEST_WINDOW), repr(now - LONGEST_WINDOW)]
        for window in windows:
            args += [repr(now - window.seconds), window.limit]
        reply = cast(list[Any], self._reserve(keys=self._keys(key), args=args))
        granted, blocked, *oldest = reply
        if granted:
            return None
        moments = [None if blocked is None else float(blocked)]
        moments += [
            None if score is None else _frees_at(float(score), window.seconds)
            for score, window in zip(oldest, windows, strict=True)
        ]
        return _latest(moments)

    def block(self, key: str, *, until: float, now: float) -> None:
        _, block_key = self._keys(key)
        self._block(keys=[block_key], args=[repr(until), _ttl(until - now)])

    def get_value(self, name: str, *, now: float) -> str | None:
        raw = cast(bytes | None, self.redis.get(self._value_key(name)))
        if raw is None:
            return None
        envelope = json.loads(raw)
        return str(envelope["value"]) if envelope["expires_at"] > now else None

    def put_value(self, name: str, value: str, *, expires_at: float, now: float) -> None:
        # The expiry is kept in the caller's time beside the value; Redis's EX only
        # removes it eventually.
        envelope = json.dumps({"value": value, "expires_at": expires_at})
        self.redis.set(self._value_key(name), envelope, ex=_ttl(expires_at - now))

    def _keys(self, key: str) -> list[str]:
        # The hash tag puts a key's hits and block in one slot of a Redis Cluster, which a
        # script touching both needs.
        tagged = f"{self.prefix}{{{key}}}"
        return [f"{tagged}:hits", f"{tagged}:block"]

    def _value_key(self, name: str) -> str:
        return f"{self.prefix}value:{name}"


# ----------------------------------------------------------------- configuration (URL)


@dataclass(frozen=True)
class StoreUrl:
    kind: Literal["redis", "sqlite"]
    url: str
    path: Path | None = None


def check_store_url(url: str, *, base_dir: Path) -> StoreUrl:
    """Parse KSEF_RATE_LIMIT_URL, refusing anything it cannot mean.

    `redis://host:port/db` (or `rediss://`), or `sqlite:///relative/path` (relative to
    `base_dir`) and `sqlite:////absolute/path`. A typo must stop the portal at start-up,
    not let the workers run with counters they do not share.
    """
    try:
        parts = urlsplit(url)
        if parts.scheme in ("redis", "rediss"):
            _check_redis_url(parts)
            return StoreUrl("redis", url)
        if parts.scheme == "sqlite":
            return StoreUrl("sqlite", url, _sqlite_path(parts, base_dir))
    except ValueError as error:
        raise ImproperlyConfigured(f"KSEF_RATE_LIMIT_URL {url!r} is malformed: {error}") from error
    raise ImproperlyConfigured(
        f"KSEF_RATE_LIMIT_URL must start with redis://, rediss:// or sqlite:///, not {url!r}."
    )


def _check_redis_url(parts: SplitResult) -> None:
    if not parts.hostname:
        raise ValueError("it names no host")
    _ = parts.port  # raises ValueError for a port that is not a number
    database = parts.path.removeprefix("/")
    if database and not database.isdigit():
        raise ValueError(f"the database must be a number, not {database!r}")


def _sqlite_path(parts: SplitResult, base_dir: Path) -> Path:
    if parts.netloc or parts.query or parts.fragment:
        raise ValueError("write sqlite:///relative/path or sqlite:////absolute/path")
    path = parts.path.removeprefix("/")
    if not path or path == ":memory:":
        # An in-memory database is private to one connection: nothing would be shared.
        raise ValueError("it needs a file path that every process can open")
    return base_dir / path


def store_from_url(url: str, *, base_dir: Path) -> RateLimitStore:
    config = check_store_url(url, base_dir=base_dir)
    if config.kind == "redis":
        return RedisStore(redis.Redis.from_url(config.url))
    assert config.path is not None
    return SqliteStore(config.path)


_stores: dict[str, RateLimitStore] = {}
_stores_lock = threading.Lock()


def rate_limit_store() -> RateLimitStore:
    """The configured store, built once per process (both stores survive a fork)."""
    url: str = settings.KSEF_RATE_LIMIT_URL
    with _stores_lock:
        store = _stores.get(url)
        if store is None:
            store = _stores[url] = store_from_url(url, base_dir=Path(settings.BASE_DIR))
        return store


def rate_limiter(clock: Clock | None = None) -> RateLimiter:
    """The limiter every Celery task asks before calling KSeF."""
    return RateLimiter(rate_limit_store(), clock)
