"""Under the Content-Security-Policy, pages run their scripts and nothing is blocked."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import live_url, log_in


@pytest.mark.browser
def test_pages_report_no_csp_violation_and_the_dropzone_script_runs(
    page: Any, live_server: Any, accountant: Any, client_company: Any
) -> None:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    log_in(page, live_server, accountant)
    page.goto(live_url(live_server, "clients:list"))
    page.goto(live_url(live_server, "certificates:upload", client_company.pk, "authentication"))

    zone = page.locator("[data-dropzone]").first
    assert zone.get_attribute("data-ready") == "1"  # static/js/dropzone.js ran
    assert page.evaluate("typeof window.htmx") == "object"  # htmx loaded from static
    assert violations == []
