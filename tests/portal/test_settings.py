"""Settings come from the environment and refuse malformed values at start-up."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO_ROOT


def _load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE"))}
    environment.update(env)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings;"
            "print(settings.DATABASES['default']['ENGINE'], settings.EMAIL_BACKEND)",
        ],
        cwd=REPO_ROOT,
        env={**environment, "DJANGO_SETTINGS_MODULE": "portal.settings"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_it_refuses_to_start_without_a_secret_key_outside_debug() -> None:
    result = _load_settings(SECRET_KEY="", DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_it_refuses_a_malformed_boolean_instead_of_reading_it_as_false() -> None:
    result = _load_settings(SECRET_KEY="x" * 50, DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


def test_it_uses_sqlite_and_file_mail_by_default_and_postgres_and_smtp_when_configured() -> None:
    default = _load_settings(SECRET_KEY="x" * 50, EMAIL_URL="filemail://var/mail")
    assert default.returncode == 0, default.stderr
    assert "sqlite3" in default.stdout and "filebased" in default.stdout
    production = _load_settings(
        SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://portal@127.0.0.1:5432/portal",
        EMAIL_URL="smtp://user:secret@127.0.0.1:2525",
    )
    assert production.returncode == 0, production.stderr
    assert "postgresql" in production.stdout and "smtp" in production.stdout
