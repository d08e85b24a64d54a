"""Login throttling (django-axes on the shared cache) and the throttled password reset.

Axes counts failed logins per account and, separately, per IP address; at
AXES_FAILURE_LIMIT either one locks for AXES_COOLOFF_TIME, and the right password is
refused too until then. The counters live in Django's cache, which is Redis shared by every
web process in production (CACHE_URL), so a lockout holds whichever worker answers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from axes.handlers.cache import AxesCacheHandler
from axes.helpers import get_cache, get_client_cache_keys, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache.backends.base import BaseCache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portal.ratelimit import client_ip, hit

logger = logging.getLogger(__name__)
RESET_WINDOW_SECONDS = 3600


class AxesSharedCacheHandler(AxesCacheHandler):
    """Axes' cache handler, looking the cache up at each use instead of once per process.

    The stock handler keeps the cache object it found at start-up; looking it up each time
    follows CACHES wherever it points (a test switching to Redis, a reconfigured process).
    """

    def __init__(self) -> None:  # the stock one stores the cache it found
        pass

    @property
    def cache(self) -> BaseCache:
        return get_cache()


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any = None
) -> HttpResponse:
    """The Polish lockout page (429), for axes' AXES_LOCKOUT_CALLABLE."""
    cool_off = get_cool_off(request) or timedelta(minutes=1)
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "cooloff_minutes": max(1, int(cool_off.total_seconds() // 60)),
    }
    return render(request, "registration/locked_out.html", context, status=429)


def login_lock_keys(username: str) -> list[str]:
    """The cache keys of an account's failure counter (the per-IP ones are not included)."""
    keys = get_client_cache_keys(AccessAttempt(username=username, ip_address=None))
    return [key for key in keys if key]


def locked_usernames(usernames: Iterable[str]) -> set[str]:
    """Which of these accounts are locked out now (one cache round trip for them all)."""
    by_key = {key: name for name in usernames for key in login_lock_keys(name)}
    if not by_key:
        return set()
    limit = get_failure_limit(None, None)  # type: ignore[arg-type]
    counts = get_cache().get_many(list(by_key))
    return {by_key[key] for key, count in counts.items() if int(count or 0) >= limit}


def login_unlock(username: str) -> int:
    """Clear an account's failure counter, lifting its lockout; returns keys removed."""
    return int(reset(username=username) or 0)


def _address_key(email: str) -> str:
    # A digest, so the cache holds no e-mail address and the key is safe for any backend.
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class ThrottledPasswordResetView(auth_views.PasswordResetView):
    """Django's reset view, sending at most PASSWORD_RESET_EMAILS_PER_HOUR per address and IP.

    Over the per-IP limit the form says so (429). Over the per-address limit the usual
    "check your inbox" page follows but no e-mail is sent, so the page never reveals
    whether an address belongs to an account, nor how often it was asked for.
    """

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        limit = settings.PASSWORD_RESET_EMAILS_PER_HOUR
        ip = client_ip(request)
        if not hit("password-reset-ip", ip, limit=limit, window_seconds=RESET_WINDOW_SECONDS):
            logger.warning("Password reset refused: too many requests from one IP address.")
            return render(request, "registration/password_reset_throttled.html", status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        email = str(form.cleaned_data["email"])
        limit = settings.PASSWORD_RESET_EMAILS_PER_HOUR
        if not hit(
            "password-reset-email",
            _address_key(email),
            limit=limit,
            window_seconds=RESET_WINDOW_SECONDS,
        ):
            logger.warning("Password reset e-mail not sent: too many requests for one address.")
            return super(auth_views.PasswordResetView, self).form_valid(form)
        return super().form_valid(form)
