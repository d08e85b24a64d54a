"""The month's downloads in a real browser: a client's purchases of one month as a ZIP
straight from the list's toolbar, and a larger list as a job whose progress panel polls
until the file is ready and then offers it."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from invoices.exports import services
from invoices.models import ExportJob
from tests.browser.conftest import live_url, log_in
from tests.invoices.exports.support import sample_link

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _exports_root(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.EXPORTS_ROOT = tmp_path / "exports"


def _month(client):  # type: ignore[no-untyped-def]
    march = [
        sample_link(client, "mf-fa3-example-01.xml", issue_date=dt.date(2026, 3, day))
        for day in (3, 17)
    ]
    april = sample_link(client, "mf-fa3-example-01.xml", issue_date=dt.date(2026, 4, 2))
    return march, april


def test_the_months_zip_downloads_from_the_clients_list(
    page, live_server, accountant, client_company, tmp_path
):
    march, april = _month(client_company)
    log_in(page, live_server, accountant)
    page.goto(live_url(live_server, "invoices:client", pk=client_company.pk) + "?month=2026-03")
    expect(page.locator("#invoice-count")).to_contain_text("2")
    with page.expect_download() as download:
        page.get_by_role("button", name="ZIP (XML i PDF)").click()
    path = Path(tmp_path / "month.zip")
    download.value.save_as(path)
    assert download.value.suggested_filename.startswith(f"faktury-{client_company.nip}-")
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        for link in march:
            assert zf.read(f"{link.invoice.ksef_number}.xml") == bytes(link.invoice.xml)
            assert zf.read(f"{link.invoice.ksef_number}.pdf").startswith(b"%PDF")
    assert f"{april.invoice.ksef_number}.xml" not in names and len(names) == 4


def test_a_larger_list_shows_its_progress_until_the_file_is_ready(
    page, live_server, accountant, client_company, monkeypatch, tmp_path
):
    _month(client_company)
    monkeypatch.setitem(services.DIRECT_LIMITS, ExportJob.Kind.CSV, 1)
    # The worker is this test: it runs the job once the page is polling.
    monkeypatch.setattr(services, "enqueue_on_commit", lambda name, pk: None)
    log_in(page, live_server, accountant)
    page.goto(live_url(live_server, "invoices:client", pk=client_company.pk) + "?month=2026-03")
    page.get_by_role("button", name="Rejestr CSV").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Eksport faktur")
    expect(page.locator(".export-status")).to_contain_text("W kolejce")
    job = ExportJob.objects.get()
    assert services.export_run(job.pk) == "done"
    link = page.get_by_role("link", name="Pobierz plik")
    expect(link).to_be_visible()  # the panel polled, swapped in the result and stopped
    with page.expect_download() as download:
        link.click()
    path = Path(tmp_path / "rejestr.csv")
    download.value.save_as(path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf") and path.read_bytes().count(b"\r\n") == 3
