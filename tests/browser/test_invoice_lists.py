"""An accountant finds a month's purchase invoice of a client in a real browser: from the
client page to its invoices, the purchases tab, a month filter (the URL follows, so the
view can be bookmarked), the row, the invoice itself and its downloads (the XML whose hash
is KSeF's, the PDF), then back on the list the month's ZIP. On a phone the list stays
inside the screen's width."""

from __future__ import annotations

import datetime as dt
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from ksef.crypto import sha256_b64
from tests.browser.conftest import live_url, log_in
from tests.conftest import KSEF_DATA_DIR
from tests.invoices.browse.support import make_invoice

pytestmark = pytest.mark.browser


@pytest.fixture
def invoices(client_company):  # type: ignore[no-untyped-def]
    xml = (KSEF_DATA_DIR / "samples" / "invoices" / "mf-fa3-example-01.xml").read_bytes()
    february = make_invoice(
        client_company,
        "Subject2",
        counterparty_nip="9999999999",
        counterparty_name="ABC AGD sp. z o. o.",
        invoice_number="FV2026/02/150",
        issue_date=dt.date(2026, 2, 15),
        net_amount=Decimal("1667.48"),
        vat_amount=Decimal("383.52"),
        gross_amount=Decimal("2051.00"),
        xml=xml,
        size=len(xml),
        invoice_hash=sha256_b64(xml),
    )
    march = make_invoice(
        client_company, "Subject2", invoice_number="FV/MARZEC/1", issue_date=dt.date(2026, 3, 3)
    )
    sale = make_invoice(client_company, "Subject1", invoice_number="FV/SPRZEDAZ/1")
    return february, march, sale


def _download(page, target: Path, role: str, name: str) -> Path:  # type: ignore[no-untyped-def]
    with page.expect_download() as download:
        page.get_by_role(role, name=name).click()
    path = target
    download.value.save_as(path)
    return path


def test_an_accountant_filters_a_clients_purchases_by_month_opens_one_and_downloads_it(
    page, live_server, accountant, client_company, invoices, settings, tmp_path
):
    from playwright.sync_api import expect

    february, march, _sale = invoices
    log_in(page, live_server, accountant)
    page.goto(live_url(live_server, "clients:detail", client_company.pk))
    page.locator("#client-invoices-link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(client_company.name)

    page.locator("#tab-sales").click()
    expect(page.locator("#invoice-table")).to_contain_text("FV/SPRZEDAZ/1")
    page.locator("#tab-purchases").click()
    expect(page.locator("#tab-purchases")).to_have_attribute("aria-current", "page")
    table = page.locator("#invoice-table")
    expect(table).to_contain_text("FV/MARZEC/1")
    expect(table).not_to_contain_text("FV/SPRZEDAZ/1")

    page.get_by_label("Miesiąc").fill("2026-02")
    page.get_by_label("Miesiąc").dispatch_event("change")
    expect(table).not_to_contain_text("FV/MARZEC/1")
    row = page.locator(f"#link-{february.pk}")
    expect(row).to_contain_text("FV2026/02/150")
    expect(row).to_contain_text("ABC AGD sp. z o. o.")
    expect(row).to_contain_text("2\xa0051,00")
    expect(row).to_contain_text("15.02.2026")
    expect(page.locator("#invoice-count")).to_have_text("1 faktura")
    # The filter is in the address: reloading (or a bookmark) shows the same rows.
    assert "month=2026-02" in page.url and "role=purchases" in page.url
    page.reload()
    expect(page.locator(f"#link-{february.pk}")).to_be_visible()
    expect(page.locator(f"#link-{march.pk}")).to_have_count(0)

    row.get_by_role("link", name="FV2026/02/150").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("FV2026/02/150")
    assert page.url.endswith(f"/invoices/{february.invoice.pk}/")

    invoice = february.invoice
    xml = _download(page, tmp_path / "invoice.xml", "link", "Pobierz XML")
    assert xml.read_bytes() == bytes(invoice.xml)
    assert sha256_b64(xml.read_bytes()) == invoice.invoice_hash  # what KSeF holds
    pdf = _download(page, tmp_path / "invoice.pdf", "link", "Pobierz PDF")
    assert pdf.read_bytes().startswith(b"%PDF")

    settings.EXPORTS_ROOT = tmp_path / "exports"
    page.go_back()  # the month's list again, from the address
    expect(page.locator("#invoice-count")).to_have_text("1 faktura")
    month = _download(page, tmp_path / "month.zip", "button", "ZIP (XML i PDF)")
    with zipfile.ZipFile(month) as zf:
        assert sorted(zf.namelist()) == [f"{invoice.ksef_number}.pdf", f"{invoice.ksef_number}.xml"]
        assert zf.read(f"{invoice.ksef_number}.xml") == bytes(invoice.xml)
        assert zf.read(f"{invoice.ksef_number}.pdf").startswith(b"%PDF")


def test_on_a_phone_the_list_does_not_widen_the_page(
    page, live_server, accountant, client_company, invoices
):
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, accountant)
    page.goto(live_url(live_server, "invoices:client", pk=client_company.pk))
    expect(page.locator("#invoice-table")).to_be_visible()
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(live_url(live_server, "invoices:list"))
    expect(page.locator("#invoice-table")).to_be_visible()
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths
