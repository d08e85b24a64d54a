"""A small fixed-window rate limiter on Django's cache, for the public upload-link pages."""

from __future__ import annotations

from django.core.cache import cache
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a proxy rewrites it,
    # and trusting it would let an attacker pick a fresh "IP" for every guess.
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def hit(scope: str, identity: str, *, limit: int, window_seconds: int) -> bool:
    """Count one event; False once `limit` events happened in the current window."""
    key = f"ratelimit:{scope}:{identity}"
    cache.add(key, 0, timeout=window_seconds)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window_seconds)
        count = 1
    return count <= limit
