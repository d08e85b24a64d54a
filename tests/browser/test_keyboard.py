"""Keyboard users: the first Tab reaches "Przejdź do treści", which shows itself and leads to
the content, and focused controls wear the portal's visible ring, not the browser's default."""

from __future__ import annotations

import pytest

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def test_the_first_tab_shows_a_skip_link_that_moves_focus_to_the_content(
    page, live_server, manager
):
    from playwright.sync_api import expect

    log_in(page, live_server, manager)
    skip = page.get_by_role("link", name="Przejdź do treści")
    assert skip.bounding_box() is None or skip.bounding_box()["y"] < 0  # hidden until focused

    page.keyboard.press("Tab")

    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_a_focused_control_gets_the_portals_visible_focus_ring(page, live_server, manager):
    log_in(page, live_server, manager)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # past the skip link, onto the header's first link

    outline = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth, s.outlineColor]; })()"
    )
    assert outline[0] == "solid"
    assert outline[1] == "3px"
    assert outline[2] == "rgb(11, 92, 173)"  # --accent
