"""An accountant grants themselves invoice rights for a client in a real browser."""

from __future__ import annotations

import pytest

from grants.models import PermissionGrant
from tests.browser.conftest import live_url, log_in
from tests.grants.grants_support import sim_fixture, store_seal  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_an_accountant_walks_the_grant_screen_to_granted(
    page, live_server, sim, accountant, client_company
):
    from playwright.sync_api import expect

    store_seal(client_company.office, client_company, client_company.nip)
    log_in(page, live_server, accountant)
    page.goto(live_url(live_server, "grants:client", client_company.pk))

    form = page.locator("#direct-grants")
    expect(form.get_by_label("Wystawianie faktur (InvoiceWrite)")).to_be_checked()
    expect(form.get_by_label("Przeglądanie faktur (InvoiceRead)")).to_be_checked()
    form.get_by_label(f"{accountant.display_name} (PESEL {accountant.pesel})").check()
    form.get_by_role("button", name="Nadaj uprawnienia w KSeF").click()

    expect(page.locator("#grants-notice")).to_contain_text("Zlecono w KSeF 1 uprawnienie")
    grant = PermissionGrant.objects.get(client=client_company)
    row = page.locator(f"#grant-{grant.pk}")
    expect(row).to_have_attribute("data-state", "granted")
    expect(row).to_contain_text("Nadane")
    expect(row).to_contain_text("Potwierdzone w KSeF")
    tokens = sim.staff_token(accountant.pesel, client_company.nip)
    assert sim.permissions_of(tokens) >= {"InvoiceWrite", "InvoiceRead"}
