"""A manager follows a client's invoice sync in a real browser: "Synchronizuj teraz", the
reason it fails, and pausing the client, which refreshes the status panel by itself."""

from __future__ import annotations

import pytest

from invoices.models import InvoiceSyncState, SyncCursor
from tests.browser.conftest import live_url, log_in

pytestmark = pytest.mark.browser


def test_a_manager_syncs_a_client_sees_why_it_fails_and_pauses_it(
    page, live_server, manager, client_company
):
    from playwright.sync_api import expect

    client_company.access_model = "client"
    client_company.save()
    log_in(page, live_server, manager)
    page.goto(live_url(live_server, "clients:detail", client_company.pk))
    page.get_by_role("link", name="Synchronizacja faktur").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Synchronizacja faktur")

    page.get_by_role("button", name="Synchronizuj teraz").click()
    # Celery runs eagerly here: the first step has run by the time the panel comes back.
    expect(page.locator("#sync-notice")).to_contain_text("Zlecono synchronizację")
    sales = page.locator("#cursor-Subject1")
    expect(sales).to_have_attribute("data-state", "failing")
    expect(sales).to_contain_text("Brak aktywnego poświadczenia")
    expect(page.locator("#sync-status")).to_have_attribute("data-busy", "false")
    assert SyncCursor.objects.filter(client=client_company).count() == 2

    settings = page.locator("#sync-settings")
    settings.get_by_label("Wstrzymaj synchronizację").check()
    settings.get_by_role("button", name="Zapisz").click()
    expect(page.locator("#sync-settings-notice")).to_contain_text("Zapisano")
    expect(page.locator("#sync-paused")).to_contain_text("wstrzymana")
    expect(page.locator("#sync-blocked")).to_contain_text("wstrzymana")
    assert InvoiceSyncState.objects.get(client=client_company).paused
