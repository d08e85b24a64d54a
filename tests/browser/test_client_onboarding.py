"""A manager registers a company in a real browser and takes it through ZAW-FA."""

from __future__ import annotations

import pytest

from clients.models import Client, Prerequisite
from tests.browser.conftest import log_in
from tests.factories import valid_nip, valid_pesel

pytestmark = pytest.mark.browser


def test_a_manager_adds_a_client_fixing_the_nip_in_place_and_completes_zaw_fa(
    page, live_server, manager, accountant
):
    from playwright.sync_api import expect

    nip = valid_nip()
    log_in(page, live_server, manager)
    page.get_by_role("link", name="Klienci", exact=True).click()
    page.get_by_role("link", name="Dodaj klienta").click()
    # htmx is a deferred script: typing before "load" would outrun the live validation.
    page.wait_for_load_state("load")

    # A typo in the NIP: the error appears as soon as the field is left, before submitting.
    page.get_by_label("NIP", exact=True).fill(nip[:9] + str((int(nip[9]) + 1) % 10))
    page.get_by_label("Nazwa", exact=True).focus()
    nip_errors = page.locator("#errors-nip")
    expect(nip_errors).to_contain_text("NIP ma błędną cyfrę kontrolną")
    assert not Client.objects.exists()

    page.get_by_label("NIP", exact=True).fill(f"PL {nip[:3]}-{nip[3:6]}-{nip[6:8]}-{nip[8:]}")
    page.get_by_label("Nazwa", exact=True).focus()
    expect(nip_errors).to_be_empty()
    page.get_by_label("Nazwa", exact=True).fill("Browar Rzemieślniczy Chmiel sp. z o.o.")
    page.get_by_label("Forma prawna").select_option("spzoo")
    page.get_by_label("Adresy e-mail do kontaktu").fill("szef@chmiel.example")
    page.get_by_label(accountant.display_name).check()
    page.get_by_role("button", name="Dodaj klienta").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Browar Rzemieślniczy Chmiel")
    wizard = page.locator("#zaw-fa-wizard")
    expect(wizard).to_contain_text("ZAW-FA trzeba złożyć")
    credentials_step = page.locator("#step-credentials")
    expect(credentials_step).to_contain_text("zablokowane")

    wizard.get_by_label("Imię").fill("Ewa")
    wizard.get_by_label("Nazwisko").fill("Prezes")
    wizard.get_by_label("PESEL lub NIP osoby").fill(valid_pesel(31))
    wizard.get_by_role("button", name="Zapisz osobę").click()
    expect(wizard).to_contain_text("Osoba wskazana w ZAW-FA: Ewa Prezes")

    wizard.get_by_label("Data złożenia ZAW-FA").fill("2026-01-12")
    wizard.get_by_label("Urząd skarbowy").fill("Pierwszy Urząd Skarbowy w Krakowie")
    wizard.get_by_role("button", name="Zapisz złożenie").click()
    expect(page.locator("#zaw-fa-state")).to_have_text("Złożony")

    wizard.get_by_label("Data potwierdzenia").fill("2026-01-28")
    wizard.get_by_role("button", name="Potwierdź").click()
    expect(page.locator("#zaw-fa-state")).to_have_text("Potwierdzony")
    # The checklist refreshes itself: the credential step is no longer locked.
    expect(credentials_step).not_to_contain_text("zablokowane")

    client = Client.objects.get(nip=nip)
    assert client.prerequisite.state == Prerequisite.State.CONFIRMED
    assert client.prerequisite.tax_office == "Pierwszy Urząd Skarbowy w Krakowie"
