"""The demo prints its logins once, in one format: `seed_demo` lists them, demo.sh does not."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from demo.management.commands.seed_demo import DEMO_PASSWORD, STAFF

pytestmark = pytest.mark.django_db

DEMO_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo.sh"


def test_the_demo_script_does_not_print_a_second_list_of_logins() -> None:
    script = DEMO_SCRIPT.read_text(encoding="utf-8")

    assert DEMO_PASSWORD not in script
    for spec in STAFF:
        assert f"    {spec.username} " not in script


def test_seed_demo_prints_each_login_exactly_once() -> None:
    out = StringIO()
    call_command("seed_demo", "--no-simulator", stdout=out)
    lines = out.getvalue().splitlines()

    for spec in STAFF:
        assert sum(line.strip().startswith(f"{spec.username} ") for line in lines) == 1
    assert sum(DEMO_PASSWORD in line for line in lines) == len(STAFF)
