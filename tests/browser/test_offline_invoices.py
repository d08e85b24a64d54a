"""An accountant finds the offline invoices waiting for KSeF in a real browser: the
dashboard from the navigation, the client filter swapping the list in place, and one
invoice opened with its KOD I "OFFLINE" and KOD II "CERTYFIKAT"."""

from __future__ import annotations

import datetime

import pytest

from certificates.expiry.selectors import local_today
from tests.browser.conftest import log_in
from tests.factories import make_client
from tests.invoices.sending.offline_support import offline_invoice

pytestmark = pytest.mark.browser


def test_an_accountant_opens_an_offline_invoice_from_the_dashboard(
    page, live_server, accountant, office, client_company
):  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    today = local_today()
    soon = offline_invoice(
        client_company, deadline=today + datetime.timedelta(days=1), number="FV/OFF/1"
    )
    other_client = make_client(office, assigned=[accountant], name="Hurtownia Zbyt sp. z o.o.")
    offline_invoice(other_client, deadline=today - datetime.timedelta(days=2), number="FV/OFF/2")

    log_in(page, live_server, accountant)
    page.get_by_role("navigation", name="Nawigacja główna").get_by_role(
        "link", name="Faktury offline"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Faktury offline")
    rows = page.locator("#offline-invoices tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("termin minął 2 dni temu")

    page.get_by_label("Klient").select_option(value=str(client_company.pk))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("FV/OFF/1")
    assert f"client={client_company.pk}" in page.url

    rows.first.get_by_role("link", name="Podgląd").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Faktura offline FV/OFF/1")
    expect(page.locator("#kod1 figcaption")).to_have_text("OFFLINE")
    expect(page.locator("#kod2 figcaption")).to_have_text("CERTYFIKAT")
    expect(page.locator("#kod2 svg")).to_be_visible()
    expect(page.locator(".doc-qr-certificate a")).to_have_attribute("href", soon.certificate_url)
    with page.expect_download() as download:
        page.get_by_role("link", name="Pobierz PDF").click()
    assert download.value.suggested_filename == "FV-OFF-1-OFFLINE.pdf"
