"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# The official KSeF samples and test vectors the tests read, vendored unmodified
# (SOURCES.md, SHA256SUMS). The contract and the XSDs are package data of ksef_simulator/
# and ksef/ (ksef_simulator.contract.CONTRACT_PATH, ksef.schemas.schema_dir).
KSEF_DATA_DIR = REPO_ROOT / "tests" / "data" / "ksef"


@pytest.fixture(scope="session")
def ksef_data() -> Path:
    return KSEF_DATA_DIR


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
