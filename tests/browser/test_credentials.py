"""The main credential journey in a real browser: upload a certificate, run the live check."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from certificates import connection
from ksef_simulator import SimulatorConfig, create_app
from tests.browser.conftest import live_url, log_in
from tests.certificates.conftest import PASSWORD, make_files
from tests.ksef_simulator.helpers import SimTransport


@pytest.fixture
def simulator(settings: Any) -> Iterator[None]:
    app = create_app(
        SimulatorConfig(profile="fast", jwt_secret=b"browser-tests-browser-tests-brow")
    )
    settings.KSEF_BASE_URL = "http://ksef-sim/v2"
    connection.set_transport(SimTransport(app))
    yield
    connection.set_transport(None)


@pytest.mark.browser
def test_an_accountant_uploads_a_certificate_and_checks_the_connection(
    page: Any,
    live_server: Any,
    accountant: Any,
    client_company: Any,
    simulator: None,
    tmp_path: Any,
) -> None:
    from playwright.sync_api import expect

    files = make_files(client_company.nip)
    certificate, key = tmp_path / "certyfikat.crt", tmp_path / "klucz.key"
    certificate.write_bytes(files.certificate_pem)
    key.write_bytes(files.key_pem)

    log_in(page, live_server, accountant)
    page.goto(live_url(live_server, "certificates:client", pk=client_company.pk))
    page.locator("#slot-authentication").get_by_role("link", name="Prześlij").click()
    page.get_by_label(re.compile("^Certyfikat")).set_input_files(str(certificate))
    page.get_by_label(re.compile("^Klucz prywatny")).set_input_files(str(key))
    page.get_by_label(re.compile("^Hasło do klucza")).fill("zle haslo")
    page.get_by_role("button", name="Sprawdź i zapisz").click()
    expect(page.locator("#upload-form")).to_contain_text("Hasło nie pasuje do klucza prywatnego.")

    # The HTMX-swapped form is a fresh one: files are chosen again, as a user would.
    page.get_by_label(re.compile("^Certyfikat")).set_input_files(str(certificate))
    page.get_by_label(re.compile("^Klucz prywatny")).set_input_files(str(key))
    page.get_by_label(re.compile("^Hasło do klucza")).fill(PASSWORD)
    page.get_by_role("button", name="Sprawdź i zapisz").click()
    expect(page.locator(".messages")).to_contain_text("Zapisano")
    slot = page.locator("#slot-authentication")
    expect(slot).to_contain_text(client_company.nip)
    expect(page.locator("body")).not_to_contain_text(PASSWORD)

    slot.get_by_role("button", name="Sprawdź połączenie z KSeF").click()
    expect(slot.locator(".check-status")).to_contain_text("Połączenie działa", timeout=15_000)
    expect(slot.locator(".check-status")).to_have_attribute("data-state", "succeeded")
