"""A manager tries the expiry reminders in a real browser: the preview of what goes out next,
"send now" for one client, and the preview page on a phone and a laptop."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from tests.browser.conftest import live_url, log_in
from tests.certificates.expiry.factories import days_from_now, make_credential, new_client

pytestmark = pytest.mark.browser

LONG_NAME = (
    "Przedsiębiorstwo Handlowo-Usługowe Bardzo Długa Nazwa spółka z ograniczoną odpowiedzialnością"
)


@pytest.fixture
def reminded_office(office: Any, accountant: Any) -> list[Any]:
    clients = []
    for i, days in enumerate([3, 20, 45, 58]):
        client = new_client(
            office,
            assigned=[accountant],
            name=f"{LONG_NAME} {i}",
            contact_emails=[f"ksiegowosc.dluga.nazwa.{i}@przedsiebiorstwo-handlowe.example"],
        )
        make_credential(office, client, valid_to=days_from_now(days))
        clients.append(client)
    return clients


def test_a_manager_sends_one_clients_due_reminder_from_the_preview(
    page: Any, live_server: Any, manager: Any, reminded_office: list[Any]
) -> None:
    from playwright.sync_api import expect

    log_in(page, live_server, manager)
    page.goto(live_url(live_server, "expiry:dashboard"))
    page.get_by_role("link", name="Najbliższe przypomnienia").click()

    rows = page.locator("tr[data-state='due']")
    expect(rows).to_have_count(4)
    first = rows.filter(has_text=f"{LONG_NAME} 0")
    expect(first).to_contain_text("ksiegowosc.dluga.nazwa.0@")
    first.get_by_role("button", name="Wyślij teraz").click()

    expect(page.locator(".messages")).to_contain_text("Wysłano 1 przypomnienie.")
    expect(page.locator("tr[data-state='due']")).to_have_count(3)
    assert [message.to for message in mail.outbox] == [
        ["ksiegowosc.dluga.nazwa.0@przedsiebiorstwo-handlowe.example"]
    ]


@pytest.mark.parametrize("size", [(390, 844), (1366, 900)], ids=["phone", "laptop"])
def test_the_preview_never_scrolls_sideways(
    page: Any, live_server: Any, manager: Any, reminded_office: list[Any], size: tuple[int, int]
) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    log_in(page, live_server, manager)
    for url in (
        live_url(live_server, "expiry:upcoming"),
        live_url(live_server, "expiry:client_reminders", reminded_office[0].pk),
    ):
        page.goto(url)
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"{url} is {scroll} px wide on a {inner} px screen"
