"""Playwright fixtures for browser tests: the system Chromium against pytest-django's live server.

Use them like this::

    import pytest
    from tests.browser.conftest import log_in

    @pytest.mark.browser
    def test_something(page, live_server, accountant):
        log_in(page, live_server, accountant)          # through the real login form
        page.get_by_role("link", name="Klienci").click()

Fixtures and helpers:

- ``browser`` (session): one headless system Chromium (/usr/bin/chromium, overridable with
  the CHROMIUM environment variable). Browsers are never downloaded (no `playwright install`).
- ``page`` (function): a fresh page in its own context (no cookies shared between tests),
  Polish locale, Europe/Warsaw time zone, 10 s default timeout. On failure the page's last
  URL is printed with the assertion.
- ``log_in(page, live_server, membership_or_username, password=PASSWORD)``: fills in and
  submits the login form, then waits for the dashboard greeting.
- ``live_url(live_server, "clients:list", pk=...)``: an absolute URL from a URL name.

The live server runs in a thread of the test process, so `django.core.mail.outbox` (the
`mailoutbox` fixture) sees mail sent by the pages, and the personas fixtures of
tests/conftest.py work as usual (pytest-django switches the test to a transactional
database when `live_server` is used).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from tests.factories import PASSWORD

# Playwright's sync API runs an asyncio loop in this thread; Django would otherwise refuse
# database access from the test body ("You cannot call this from an async context").
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no system Chromium at {CHROMIUM} (run `make chromium`)")
    # Once Playwright's loop runs, this thread's Django connections are looked up in another
    # asyncio context: the connection earlier tests left open would never be closed again
    # and keep PostgreSQL from dropping the test database at the end.
    from django.db import connections

    connections.close_all()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        connections.close_all()  # those opened while the loop ran, in its context


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="pl-PL", timezone_id="Europe/Warsaw")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def live_url(live_server: Any, name: str, *args: Any, **kwargs: Any) -> str:
    return f"{live_server.url}{reverse(name, args=args or None, kwargs=kwargs or None)}"


def log_in(page: Any, live_server: Any, who: Any, password: str = PASSWORD) -> None:
    """Log in through the real login form as a Membership (or a username)."""
    from playwright.sync_api import expect

    username = who if isinstance(who, str) else who.user.username
    page.goto(live_url(live_server, "login"))
    page.get_by_label("Nazwa użytkownika").fill(username)
    page.get_by_label("Hasło").fill(password)
    page.get_by_role("button", name="Zaloguj").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dzień dobry")
