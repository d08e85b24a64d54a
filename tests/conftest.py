"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def ksef_shared_dir() -> Path:
    """Where the official KSeF contract, schemas and samples live (KSEF_SHARED_DIR)."""
    return Path(os.environ.get("KSEF_SHARED_DIR", REPO_ROOT.parent / "shared" / "ksef"))


@pytest.fixture(scope="session")
def ksef_shared() -> Path:
    path = ksef_shared_dir()
    assert (path / "openapi" / "open-api.json").is_file(), f"KSeF material not found in {path}"
    return path


@pytest.fixture(autouse=True)
def _default_language():  # type: ignore[no-untyped-def]
    """Every test starts in the portal's default language (Polish).

    A request activates the language of its cookie for the thread and, like Django's
    LocaleMiddleware, leaves it active afterwards; without this, a test that browsed in
    English would make later tests on the same worker see English messages."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


# Personas used by every view test: an office with an admin, a manager, an accountant
# assigned to `client`, an accountant not assigned to it, and a user of another office.


@pytest.fixture
def office(db):  # type: ignore[no-untyped-def]
    from tests.factories import make_office

    return make_office("Biuro Rachunkowe Bilans")


@pytest.fixture
def other_office(db):  # type: ignore[no-untyped-def]
    from tests.factories import make_office

    return make_office("Konkurencja Sp. z o.o.")


@pytest.fixture
def admin_member(office):  # type: ignore[no-untyped-def]
    from tests.factories import make_member

    return make_member(office, "admin", "admin", first_name="Anna", last_name="Adminowska")


@pytest.fixture
def manager(office):  # type: ignore[no-untyped-def]
    from tests.factories import make_member

    return make_member(office, "manager", "manager", first_name="Marek", last_name="Kierownik")


@pytest.fixture
def accountant(office):  # type: ignore[no-untyped-def]
    from tests.factories import make_member, valid_pesel

    return make_member(
        office,
        "accountant",
        "ksiegowa",
        first_name="Katarzyna",
        last_name="Księgowa",
        pesel=valid_pesel(4242),
    )


@pytest.fixture
def unassigned_accountant(office):  # type: ignore[no-untyped-def]
    from tests.factories import make_member

    return make_member(office, "accountant", "ksiegowy2", first_name="Karol", last_name="Obcy")


@pytest.fixture
def outsider(other_office):  # type: ignore[no-untyped-def]
    from tests.factories import make_member

    return make_member(other_office, "admin", "outsider", first_name="Olga", last_name="Obca")


@pytest.fixture
def client_company(office, accountant):  # type: ignore[no-untyped-def]
    """A company client of `office`, assigned to `accountant`."""
    from tests.factories import make_client

    return make_client(office, assigned=[accountant], name="Piekarnia Pod Lipą sp. z o.o.")


@pytest.fixture
def login(client):  # type: ignore[no-untyped-def]
    """login(membership) logs the Django test client in as that member and returns it."""

    def _login(membership):  # type: ignore[no-untyped-def]
        client.force_login(membership.user)
        return client

    return _login
