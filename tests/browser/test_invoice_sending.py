"""An accountant sends a client's invoices in a real browser: a ZIP of three FA(3) files
uploaded, checked file by file, sent, each given its KSeF number, and one UPO opened."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from invoices.models import OutgoingInvoice
from invoices.sending import sender as sender_module
from tests.browser.conftest import live_url, log_in
from tests.invoices.sending.support import example, seller, sendsim_fixture  # noqa: F401

pytestmark = pytest.mark.browser


def test_an_accountant_sends_a_zip_of_three_invoices_and_opens_a_upo(
    page, live_server, accountant, office, sendsim, monkeypatch, tmp_path
):
    from playwright.sync_api import expect

    monkeypatch.setattr(sender_module, "Sender", lambda: sendsim.sender())
    client = seller(office)
    client.assigned_accountants.set([accountant])
    archive = tmp_path / "faktury.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for n in range(1, 4):
            zipped.writestr(f"FV-{n}.xml", example(client, f"FV/{n}/2026"))
    archive.write_bytes(buffer.getvalue())

    log_in(page, live_server, accountant)
    page.goto(live_url(live_server, "clients:detail", client.pk))
    page.get_by_role("link", name="Wyślij faktury").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Wyślij faktury")
    page.get_by_label("Pliki faktur FA (3) — XML lub archiwum ZIP").set_input_files(str(archive))
    page.get_by_role("button", name="Sprawdź pliki").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Wysyłka faktur")
    rows = page.locator("#send-invoices tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#send-invoices")).to_contain_text("faktury.zip/FV-2.xml")
    page.get_by_role("button", name="Wyślij 3 faktury do KSeF").click()

    expect(page.locator("#send-progress")).to_have_attribute("data-state", "done")
    for invoice in OutgoingInvoice.objects.filter(client=client):
        assert invoice.ksef_number
        expect(page.locator(f"#outgoing-{invoice.pk}")).to_contain_text(invoice.ksef_number)
    first = OutgoingInvoice.objects.get(client=client, file_name="faktury.zip/FV-1.xml")
    with page.expect_download() as download:
        page.locator(f"#outgoing-{first.pk} .upo-link").click()
    upo = Path(download.value.path()).read_bytes()
    assert first.ksef_number.encode() in upo and b"Potwierdzenie" in upo
