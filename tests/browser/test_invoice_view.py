"""The invoice view in a real browser: the Ministry-like document at a laptop's and a
phone's width, without horizontal scrolling, with KOD I visible."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import live_url, log_in
from tests.invoices.documents.support import store_sample

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def _overflow(page) -> int:  # type: ignore[no-untyped-def]
    return int(
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    )


@pytest.mark.browser
@pytest.mark.parametrize("width, height", [(1366, 900), (390, 844)])
def test_the_invoice_view_fits_the_screen_and_shows_kod_i(  # type: ignore[no-untyped-def]
    page, live_server, accountant, client_company, width, height
):
    stored = store_sample(client_company, "mf-fa3-example-01.xml")
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, live_server, accountant)
    page.goto(live_url(live_server, "invoices:detail", stored.invoice.pk))

    assert page.get_by_role("heading", level=1).inner_text() == "Faktura FV2026/02/150"
    assert _overflow(page) <= 0
    qr = page.locator("#kod1 svg")
    qr.scroll_into_view_if_needed()
    assert qr.is_visible()
    box = qr.bounding_box()
    assert box is not None and box["width"] >= 120 and box["x"] >= 0
    assert box["x"] + box["width"] <= width
    assert page.locator("#kod1 figcaption").inner_text() == stored.invoice.ksef_number
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"invoice-view-{width}.png"), full_page=True)
