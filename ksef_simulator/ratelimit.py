"""Rate limits per (context, client IP) in sliding 1 s / 60 s / 3600 s windows.

The group of each operation and the production values come from the contract
(`x-rate-limits` of every operation, and the groups of `GET /rate-limits`). Endpoints
of group `other` each have their own counter. Public endpoints (challenge, auth status,
public keys, testdata) are limited per client IP only.
"""

from __future__ import annotations

import bisect
import math
import threading
from dataclasses import dataclass

from ksef_simulator.errors import TooManyRequests

WINDOWS = (
    ("perSecond", 1.0, "sekundę"),
    ("perMinute", 60.0, "minutę"),
    ("perHour", 3600.0, "godzinę"),
)

# Group values on production (PRD), contract 2.6.0: requests per second / minute / hour.
PRODUCTION: dict[str, dict[str, int]] = {
    "onlineSession": {"perSecond": 10, "perMinute": 30, "perHour": 120},
    "batchSession": {"perSecond": 10, "perMinute": 20, "perHour": 60},
    "invoiceSend": {"perSecond": 10, "perMinute": 30, "perHour": 180},
    "invoiceStatus": {"perSecond": 30, "perMinute": 120, "perHour": 1200},
    "sessionList": {"perSecond": 5, "perMinute": 10, "perHour": 60},
    "sessionInvoiceList": {"perSecond": 10, "perMinute": 20, "perHour": 200},
    "sessionMisc": {"perSecond": 10, "perMinute": 120, "perHour": 1200},
    "invoiceMetadata": {"perSecond": 8, "perMinute": 16, "perHour": 20},
    "invoiceExport": {"perSecond": 8, "perMinute": 16, "perHour": 20},
    "invoiceExportStatus": {"perSecond": 10, "perMinute": 60, "perHour": 600},
    "invoiceDownload": {"perSecond": 8, "perMinute": 16, "perHour": 64},
    "other": {"perSecond": 10, "perMinute": 30, "perHour": 120},
}
# Not a group of GET /rate-limits: unauthenticated endpoints, 60/s per IP.
PUBLIC = {"perSecond": 60}
GROUP_NAMES = tuple(PRODUCTION)
FAST_FACTOR = 1000

# (METHOD, contract path template) -> group. Everything else under /v2 with an access
# token is "other"; everything without one (see PUBLIC_TEMPLATES) is public.
GROUP_OF: dict[tuple[str, str], str] = {
    ("POST", "/sessions/online"): "onlineSession",
    ("POST", "/sessions/online/{referenceNumber}/close"): "onlineSession",
    ("POST", "/sessions/batch"): "batchSession",
    ("POST", "/sessions/batch/{referenceNumber}/close"): "batchSession",
    ("POST", "/sessions/online/{referenceNumber}/invoices"): "invoiceSend",
    ("GET", "/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}"): "invoiceStatus",
    ("GET", "/sessions"): "sessionList",
    ("GET", "/sessions/{referenceNumber}/invoices"): "sessionInvoiceList",
    ("GET", "/sessions/{referenceNumber}/invoices/failed"): "sessionInvoiceList",
    ("GET", "/sessions/{referenceNumber}"): "sessionMisc",
    ("GET", "/sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo"): "sessionMisc",
    ("GET", "/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}/upo"): "sessionMisc",
    ("GET", "/sessions/{referenceNumber}/upo/{upoReferenceNumber}"): "sessionMisc",
    ("POST", "/invoices/query/metadata"): "invoiceMetadata",
    ("POST", "/invoices/exports"): "invoiceExport",
    ("GET", "/invoices/exports/{referenceNumber}"): "invoiceExportStatus",
    ("GET", "/invoices/ksef/{ksefNumber}"): "invoiceDownload",
}
PUBLIC_PREFIXES = ("/auth/challenge", "/auth/xades-signature", "/auth/ksef-token", "/auth/token/")
PUBLIC_TEMPLATES = {
    "/auth/{referenceNumber}",
    "/security/public-key-certificates",
    "/peppol/query",
    "/testdata/subject",
    "/testdata/subject/remove",
    "/testdata/person",
    "/testdata/person/remove",
    "/testdata/permissions",
    "/testdata/permissions/revoke",
    "/testdata/attachment",
    "/testdata/attachment/revoke",
}


def group_for(method: str, template: str) -> str:
    if template in PUBLIC_TEMPLATES or template.startswith(PUBLIC_PREFIXES):
        return "public"
    return GROUP_OF.get((method.upper(), template), "other")


def profile_values(profile: str) -> dict[str, dict[str, int]]:
    if profile == "production":
        return {name: dict(values) for name, values in PRODUCTION.items()}
    if profile == "fast":
        return {
            name: {k: v * FAST_FACTOR for k, v in values.items()}
            for name, values in PRODUCTION.items()
        }
    raise ValueError(f"unknown rate-limit profile {profile!r}")


def public_limits(profile: str) -> dict[str, int]:
    """The per-IP limit of unauthenticated endpoints, scaled like the other groups."""
    factor = FAST_FACTOR if profile == "fast" else 1
    return {name: value * factor for name, value in PUBLIC.items()}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0
    detail: str = ""


class RateLimiter:
    """Sliding-window counters; time comes from the simulator clock (seconds)."""

    def __init__(self) -> None:
        self._hits: dict[tuple[object, ...], list[float]] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()

    def hit(self, key: tuple[object, ...], limits: dict[str, int], now: float) -> Verdict:
        """Count a request at `now` unless a window is full; rejected requests do not count."""
        with self._lock:
            hits = self._hits.setdefault(key, [])
            expired = bisect.bisect_right(hits, now - 3600.0)
            if expired:
                del hits[:expired]
            retry_after = 0.0
            detail = ""
            for name, window, word in WINDOWS:
                limit = limits.get(name)
                if limit is None:
                    continue
                start = bisect.bisect_right(hits, now - window)
                count = len(hits) - start
                if count >= limit:
                    # The request may pass once enough old hits have left the window.
                    oldest_needed = hits[start + count - limit]
                    wait = oldest_needed + window - now
                    if wait > retry_after:
                        retry_after = wait
                        detail = (
                            f"Przekroczono limit {limit} żądań na {word}. "
                            f"Spróbuj ponownie po {max(1, math.ceil(wait))} sekundach."
                        )
            if retry_after > 0:
                return Verdict(False, max(1, math.ceil(retry_after)), detail)
            bisect.insort(hits, now)
            return Verdict(True)


def check(
    limiter: RateLimiter, key: tuple[object, ...], limits: dict[str, int], now: float
) -> None:
    verdict = limiter.hit(key, limits, now)
    if not verdict.allowed:
        raise TooManyRequests(verdict.retry_after, verdict.detail)
