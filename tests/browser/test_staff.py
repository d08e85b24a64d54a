"""An admin adds a colleague in a real browser; the colleague sets a password and logs in."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import live_url, log_in

pytestmark = pytest.mark.browser


def test_an_admin_adds_a_colleague_who_sets_a_password_from_the_invitation_and_logs_in(
    page, live_server, admin_member, mailoutbox
):
    from playwright.sync_api import expect

    log_in(page, live_server, admin_member)
    page.get_by_role("link", name="Personel", exact=True).click()
    page.get_by_role("link", name="Dodaj pracownika").click()
    page.get_by_label("Login").fill("jan.nowak")
    page.get_by_label("Imię").fill("Jan")
    page.get_by_label("Nazwisko").fill("Nowak")
    page.get_by_label("E-mail").fill("jan.nowak@biuro.example")
    page.get_by_label("Rola").select_option("accountant")
    page.get_by_label("PESEL").fill("123")  # a typo first: the form explains it in place
    page.get_by_role("button", name="Dodaj i wyślij zaproszenie").click()
    expect(page.get_by_text("PESEL musi mieć dokładnie 11 cyfr.")).to_be_visible()
    page.get_by_label("PESEL").fill("")
    page.get_by_role("button", name="Dodaj i wyślij zaproszenie").click()

    expect(page.get_by_text("Dodano: Jan Nowak.")).to_be_visible()
    row = page.locator("tr", has_text="jan.nowak@biuro.example")
    expect(row).to_contain_text("zaproszenie wysłane")
    expect(row.get_by_label("Rola")).to_have_value("accountant")

    [invitation] = mailoutbox
    path = re.search(r"https?://[^/\s]+(/accounts/reset/\S+)", invitation.body)
    assert path is not None
    page.get_by_role("button", name="Wyloguj").click()
    page.goto(live_server.url + path.group(1))
    page.get_by_label("Nowe hasło", exact=True).fill("Jan-ma-nowe-haslo-1")
    page.get_by_label("Nowe hasło (powtórz)").fill("Jan-ma-nowe-haslo-1")
    page.get_by_role("button", name="Zapisz hasło").click()
    expect(page.get_by_role("heading", name="Hasło ustawione")).to_be_visible()

    log_in(page, live_server, "jan.nowak", "Jan-ma-nowe-haslo-1")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dzień dobry, Jan!")
    expect(page.get_by_role("link", name="Personel", exact=True)).to_have_count(0)
    assert page.url == live_url(live_server, "dashboard")
