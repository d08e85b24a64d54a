"""A small fixed-window rate limiter on Django's cache (upload links, password-reset e-mails)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address as seen by the first proxy we trust.

    X-Forwarded-For is client-controlled except for the entries our own proxies append,
    so only the TRUSTED_PROXY_COUNT-th entry from the right is believed; trusting more
    would let an attacker pick a fresh "IP" for every guess.
    """
    hops = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if hops > 0 and len(forwarded) >= hops:
        return forwarded[-hops]
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
