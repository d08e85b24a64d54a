"""Login throttling per account and per IP (django-axes), its unlock, and the reset limit."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from axes.handlers.proxy import AxesProxyHandler
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse

from portal.models import AuditEvent
from tests.conftest import REPO_ROOT
from tests.factories import PASSWORD

ATTACKER = "203.0.113.9"
OFFICE_IP = "198.51.100.7"


@pytest.fixture(autouse=True)
def _axes_on() -> Iterator[None]:
    cache.clear()
    with override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=10):
        yield
    cache.clear()


def _login(username: str, password: str, ip: str) -> tuple[int, str, bool]:
    browser = Client(REMOTE_ADDR=ip)
    response = browser.post(reverse("login"), {"username": username, "password": password})
    return response.status_code, response.content.decode(), "_auth_user_id" in browser.session


def _hammer(username: str, ip: str, times: int = 60) -> None:
    for attempt in range(times):
        _login(username, f"zle-haslo-{attempt}", ip)


def test_sixty_wrong_passwords_then_the_right_one_is_refused_with_a_polish_page(accountant):
    _hammer(accountant.user.username, ATTACKER)

    status, page, logged_in = _login(accountant.user.username, PASSWORD, ATTACKER)

    assert (status, logged_in) == (429, False)
    assert "Logowanie zablokowane" in page
    assert "Po 10 nieudanych próbach logowania" in page
    assert "Spróbuj ponownie za 15 min" in page


def test_the_account_stays_locked_from_another_address(accountant):
    _hammer(accountant.user.username, ATTACKER, times=10)

    status, _page, logged_in = _login(accountant.user.username, PASSWORD, OFFICE_IP)

    assert (status, logged_in) == (429, False)


def test_the_attacking_address_is_locked_for_every_account(accountant, manager):
    for attempt in range(10):
        _login(f"zgadywany-{attempt}", "cokolwiek", ATTACKER)

    assert _login(manager.user.username, PASSWORD, ATTACKER)[0] == 429
    assert _login(manager.user.username, PASSWORD, OFFICE_IP)[2] is True


def test_fewer_failures_than_the_limit_do_not_lock_and_success_resets_the_count(accountant):
    _hammer(accountant.user.username, OFFICE_IP, times=9)
    assert _login(accountant.user.username, PASSWORD, OFFICE_IP)[2] is True
    _hammer(accountant.user.username, OFFICE_IP, times=9)
    assert _login(accountant.user.username, PASSWORD, OFFICE_IP)[2] is True


def test_an_office_admin_sees_the_lock_and_lifts_it(login, admin_member, accountant):
    _hammer(accountant.user.username, ATTACKER)
    staff_page = login(admin_member).get(reverse("staff:list")).content.decode()
    assert "zablokowane po błędnych hasłach" in staff_page
    assert reverse("staff:unlock", args=[accountant.pk]) in staff_page

    response = login(admin_member).post(
        reverse("staff:unlock", args=[accountant.pk]), HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert "może znowu się logować" in response.content.decode()
    assert "zablokowane po błędnych hasłach" not in response.content.decode()
    assert _login(accountant.user.username, PASSWORD, OFFICE_IP)[2] is True
    event = AuditEvent.objects.get(action="staff.login_unlocked")
    assert (event.actor, event.object_id) == (admin_member.user, str(accountant.pk))
    # The attacker's address keeps its own lock.
    assert _login(accountant.user.username, PASSWORD, ATTACKER)[0] == 429


@pytest.mark.parametrize("persona", ["manager", "accountant"])
def test_only_an_admin_may_unlock(login, persona, request, accountant):
    member = request.getfixturevalue(persona)
    response = login(member).post(reverse("staff:unlock", args=[accountant.pk]))
    assert response.status_code == 403


def test_unlock_is_post_only_and_scoped_to_the_office(login, admin_member, outsider):
    assert login(admin_member).get(reverse("staff:unlock", args=[outsider.pk])).status_code == 405
    assert login(admin_member).post(reverse("staff:unlock", args=[outsider.pk])).status_code == 404


def test_the_management_command_lifts_a_lock(accountant):
    _hammer(accountant.user.username, ATTACKER, times=10)
    assert _login(accountant.user.username, PASSWORD, OFFICE_IP)[0] == 429

    call_command("axes_reset_username", accountant.user.username)

    assert _login(accountant.user.username, PASSWORD, OFFICE_IP)[2] is True


# --- across processes: the lock lives in the shared cache --------------------------------


def _redis_cache_url() -> str | None:
    """A Redis DB for this test: CACHE_URL if it is Redis, else the broker's host, DB 15."""
    for name in ("CACHE_URL", "CELERY_BROKER_URL"):
        url = os.environ.get(name, "")
        if url.startswith("redis://"):
            parts = urlsplit(url)
            return f"redis://{parts.netloc}/15" if name != "CACHE_URL" else url
    return None


CHILD = """
import django, sys
django.setup()
from django.contrib.auth.signals import user_login_failed
from django.test import RequestFactory
from axes.handlers.proxy import AxesProxyHandler
username = sys.argv[1]
request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="203.0.113.77")
for _ in range(60):
    user_login_failed.send(sender="child", credentials={"username": username}, request=request)
print("locked" if AxesProxyHandler.is_locked(request, {"username": username}) else "open")
"""


def test_a_lockout_recorded_by_another_process_holds_here(accountant):
    url = _redis_cache_url()
    if url is None:
        pytest.skip("needs Redis (CACHE_URL or CELERY_BROKER_URL=redis://...)")
    shared = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    }
    username = f"{accountant.user.username}-{os.getpid()}"
    accountant.user.username = username
    accountant.user.save()
    env = {**os.environ, "CACHE_URL": url, "AXES_ENABLED": "true"}
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings_test"
    with override_settings(CACHES=shared):
        try:
            child = subprocess.run(
                [sys.executable, "-c", CHILD, username],
                cwd=REPO_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert child.returncode == 0, child.stderr
            assert child.stdout.strip().endswith("locked")

            status, page, logged_in = _login(username, PASSWORD, OFFICE_IP)
            assert (status, logged_in) == (429, False)
            assert "Logowanie zablokowane" in page
            assert AxesProxyHandler.reset_attempts(username=username) >= 1
            assert _login(username, PASSWORD, OFFICE_IP)[2] is True
        finally:
            AxesProxyHandler.reset_attempts(username=username)


# --- password reset e-mails ---------------------------------------------------------------


def _ask_reset(email: str, ip: str) -> int:
    response = Client(REMOTE_ADDR=ip).post(reverse("password_reset"), {"email": email})
    return response.status_code


@override_settings(PASSWORD_RESET_EMAILS_PER_HOUR=5)
def test_reset_emails_to_one_address_stop_at_the_limit_whatever_the_ip(accountant):
    statuses = [_ask_reset(accountant.user.email, f"192.0.2.{n}") for n in range(8)]

    assert statuses == [302] * 8  # the page never tells whether an e-mail went out
    assert len(mail.outbox) == 5
    assert {tuple(m.to) for m in mail.outbox} == {(accountant.user.email,)}


@override_settings(PASSWORD_RESET_EMAILS_PER_HOUR=5)
def test_reset_requests_from_one_ip_stop_at_the_limit_with_a_polish_page(accountant, manager):
    addresses = [accountant.user.email, manager.user.email] * 3
    statuses = [_ask_reset(address, ATTACKER) for address in addresses]

    assert statuses == [302] * 5 + [429]
    assert len(mail.outbox) == 5
    page = Client(REMOTE_ADDR=ATTACKER).post(reverse("password_reset"), {"email": "x@y.pl"})
    assert "Zbyt wiele próśb o nowe hasło" in page.content.decode()
    assert _ask_reset(manager.user.email, OFFICE_IP) == 302
