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


@pytest.mark.browser
def test_the_client_uploads_through_its_link_and_sees_one_final_page(
    page: Any, live_server: Any, accountant: Any, client_company: Any, tmp_path: Any
) -> None:
    from playwright.sync_api import expect

    from certificates.models import UploadLink
    from certificates.services import upload_link_create, upload_link_token_hash

    link = upload_link_create(
        actor=accountant.user,
        client=client_company,
        kind="authentication",
        recipient_email=client_company.contact_emails[0],
    )
    raw = "browser-self-upload-link-token-0123456789abcdefghij"
    UploadLink.objects.filter(pk=link.pk).update(token_hash=upload_link_token_hash(raw))
    files = make_files(client_company.nip)
    certificate, key = tmp_path / "certyfikat.crt", tmp_path / "klucz.key"
    certificate.write_bytes(files.certificate_pem)
    key.write_bytes(files.key_pem)

    page.goto(live_url(live_server, "certificates:self_upload", raw))
    expect(page.locator("#expected-owner")).to_contain_text(f"VATPL-{client_company.nip}")
    page.get_by_label(re.compile("^Certyfikat")).set_input_files(str(certificate))
    page.get_by_label(re.compile("^Klucz prywatny")).set_input_files(str(key))
    page.get_by_label(re.compile("^Hasło do klucza")).fill(PASSWORD)
    page.get_by_role("button", name="Prześlij").click()

    expect(page.locator("#upload-done")).to_contain_text("Dziękujemy")
    expect(page).to_have_title(re.compile("^Dziękujemy"))
    expect(page.locator("header")).to_have_count(1)
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator("#upload-form")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("Link działa jednorazowo")
