"""Production security settings: CSP, no-store, check --deploy, proxy headers, sessions."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from portal.models import Membership
from tests.conftest import REPO_ROOT
from tests.factories import PASSWORD, make_member


def _subprocess_env(**env: str) -> dict[str, str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO", "DATABASE", "CACHE", "SECURE_", "SESSION", "CSRF"))
    }
    environment.update(env, DJANGO_SETTINGS_MODULE="portal.settings")
    return environment


def _readme_production_variables() -> dict[str, str]:
    readme = (REPO_ROOT / "README.md").read_text()
    block = re.search(r"```sh\n\s*# production variables\n(.*?)```", readme, re.S)
    assert block, "README's production section lists the variables in one block"
    pairs = (line.strip().split("=", 1) for line in block.group(1).splitlines() if "=" in line)
    return {name: value for name, value in pairs}


# --- check --deploy -----------------------------------------------------------------------


def test_check_deploy_reports_no_issue_with_the_readmes_production_variables():
    variables = _readme_production_variables()
    assert variables["SECURE_HSTS_SECONDS"] == "31536000"

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env=_subprocess_env(**variables),
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_warns_with_the_development_defaults():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=REPO_ROOT,
        env=_subprocess_env(SECRET_KEY="x" * 60, DEBUG="false"),
        capture_output=True,
        text=True,
        check=False,
    )
    for code in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert code in result.stdout + result.stderr


# --- X-Forwarded-Proto only behind a trusted proxy ----------------------------------------


def _proxy_header(count: str) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings;"
            "print(settings.SECURE_PROXY_SSL_HEADER)",
        ],
        cwd=REPO_ROOT,
        env=_subprocess_env(SECRET_KEY="x" * 60, TRUSTED_PROXY_COUNT=count),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_x_forwarded_proto_is_believed_only_behind_a_counted_proxy():
    assert _proxy_header("0") == "None"
    assert _proxy_header("1") == "('HTTP_X_FORWARDED_PROTO', 'https')"


@pytest.mark.django_db
def test_without_a_trusted_proxy_a_forged_https_header_is_still_redirected():
    with override_settings(SECURE_SSL_REDIRECT=True, SECURE_PROXY_SSL_HEADER=None):
        forged = Client().get(reverse("login"), HTTP_X_FORWARDED_PROTO="https")
    with override_settings(
        SECURE_SSL_REDIRECT=True, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")
    ):
        proxied = Client().get(reverse("login"), HTTP_X_FORWARDED_PROTO="https")

    assert forged.status_code == 301 and forged["Location"].startswith("https://")
    assert proxied.status_code == 200


# --- Content-Security-Policy --------------------------------------------------------------


@pytest.mark.django_db
def test_every_page_carries_a_csp_that_forbids_inline_script(login, accountant, client_company):
    for page in (
        Client().get(reverse("login")),
        login(accountant).get(reverse("certificates:upload", args=[client_company.pk, "offline"])),
    ):
        policy = page["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
        assert directives["script-src"] == "'self'"
        assert directives["style-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'"
        assert "unsafe" not in policy


def test_no_template_has_an_inline_script_style_or_event_handler():
    offenders = []
    for template in (REPO_ROOT / "templates").rglob("*.html"):
        if "emails" in template.parts:
            continue  # mail clients, not browsers under our CSP
        text = template.read_text()
        for match in re.finditer(r"<script\b([^>]*)>", text):
            if "src=" not in match.group(1):
                offenders.append(f"{template}: inline <script>")
        if re.search(r"\son[a-z]+=\"", text) or re.search(r"\sstyle=\"", text):
            offenders.append(f"{template}: inline handler or style")
        # The invoice PDF's template is laid out by WeasyPrint, never served to a browser.
        if "<style" in text and template.name != "pdf.html":
            offenders.append(f"{template}: inline <style> element")
    assert not offenders


def test_the_upload_page_loads_the_dropzone_script_as_a_static_file(
    login, accountant, client_company
):
    page = login(accountant).get(
        reverse("certificates:upload", args=[client_company.pk, "offline"])
    )
    body = page.content.decode()
    assert 'src="/static/js/dropzone.js"' in body
    assert Path(settings.BASE_DIR, "static", "js", "dropzone.js").read_text().count("dropzone")


# --- Cache-Control: no-store on credential pages ------------------------------------------


def test_credential_pages_are_never_stored_and_others_are_not_affected(
    login, admin_member, manager, client_company
):
    browser = login(admin_member)
    for url in (
        reverse("certificates:client", args=[client_company.pk]),
        reverse("certificates:upload", args=[client_company.pk, "authentication"]),
        reverse("certificates:office"),
        reverse("certificates:office_upload"),
        reverse("expiry:dashboard"),
        reverse("expiry:export"),
    ):
        response = browser.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url
    assert "no-store" not in browser.get(reverse("dashboard")).get("Cache-Control", "")


def test_the_public_link_page_is_never_stored_even_when_gone(db, client):
    response = client.get(reverse("certificates:self_upload", args=["no-such-token-0123456789"]))
    assert response.status_code == 404
    assert "no-store" in response["Cache-Control"]


# --- sessions -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_session_cookie_ends_with_the_browser(accountant):
    browser = Client()
    response = browser.post(
        reverse("login"), {"username": accountant.user.username, "password": PASSWORD}
    )
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert response.status_code == 302
    assert cookie["expires"] == "" and cookie["max-age"] == ""


@pytest.mark.django_db
def test_a_session_ends_after_the_idle_time_but_activity_keeps_it(accountant):
    idle = timedelta(minutes=settings.SESSION_IDLE_MINUTES)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        browser = Client()
        browser.post(reverse("login"), {"username": accountant.user.username, "password": PASSWORD})
        for _ in range(3):  # three requests, each within the idle time of the previous
            clock.shift(idle - timedelta(minutes=1))
            assert browser.get(reverse("dashboard")).status_code == 200
        clock.shift(idle + timedelta(minutes=1))
        expired = browser.get(reverse("dashboard"))
    assert expired.status_code == 302 and expired["Location"].startswith(reverse("login"))


# --- staff creation does not reveal other offices' logins ---------------------------------


def _create(browser: Client, username: str) -> str:
    data = {
        "username": username,
        "first_name": "Nowa",
        "last_name": "Osoba",
        "email": f"{username}@biuro.example",
        "role": "accountant",
    }
    return browser.post(reverse("staff:create"), data).content.decode()


def test_a_login_of_another_office_reads_exactly_like_any_unavailable_login(
    login, admin_member, accountant, other_office
):
    make_member(other_office, "accountant", "jan.obcy")
    browser = login(admin_member)
    answers = {
        name: re.sub(r'value="[^"]*"|name="csrfmiddlewaretoken"', "", _create(browser, name))
        for name in ("jan.obcy", "JAN.OBCY", accountant.user.username, "root")
    }
    marker = "Ten login jest niedostępny — wybierz inny (np. z inicjałem lub cyfrą)."
    for name, page in answers.items():
        assert marker in page, name
    # The pages differ only in the echoed login, never in what they say about it.
    errors = {
        re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', p, re.S)[0] for p in answers.values()
    }
    assert len(errors) == 1
    assert get_user_model().objects.filter(username__iexact="jan.obcy").count() == 1
    assert not get_user_model().objects.filter(username="root").exists()
    assert Membership.objects.filter(office=admin_member.office).count() == 2


@pytest.mark.django_db
def test_a_busy_session_is_written_at_most_once_a_minute(accountant):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        browser = Client()
        browser.post(reverse("login"), {"username": accountant.user.username, "password": PASSWORD})
        clock.shift(timedelta(minutes=2))
        with CaptureQueriesContext(connection) as first:
            browser.get(reverse("dashboard"))
        clock.shift(timedelta(seconds=10))
        with CaptureQueriesContext(connection) as second:
            browser.get(reverse("dashboard"))

    def writes(queries: CaptureQueriesContext) -> int:
        return sum('UPDATE "django_session"' in q["sql"] for q in queries.captured_queries)

    assert (writes(first), writes(second)) == (1, 0)


@pytest.mark.parametrize(
    "name, value",
    [
        ("LOGIN_FAILURE_LIMIT", "0"),
        ("LOGIN_LOCKOUT_MINUTES", "0"),
        ("PASSWORD_RESET_EMAILS_PER_HOUR", "0"),
        ("SESSION_IDLE_MINUTES", "0"),
        ("TRUSTED_PROXY_COUNT", "-1"),
        ("SECURE_HSTS_SECONDS", "-1"),
    ],
)
def test_a_security_setting_below_its_floor_stops_the_start_up(name, value):
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=REPO_ROOT,
        env=_subprocess_env(SECRET_KEY="x" * 60, **{name: value}),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert f"{name} must be at least" in result.stderr
