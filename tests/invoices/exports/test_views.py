"""The export screens over HTTP: a small list downloaded at once, a large one as a job
with its polled status and download, per persona (404 for other members and offices and
for unassigned clients, 403 without an office, 405 for wrong methods), HTMX vs full page."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from invoices.exports import services
from invoices.models import ExportJob
from portal.models import AuditEvent
from tests.factories import make_client
from tests.invoices.exports.support import sample_link

HTMX = {"HTTP_HX_REQUEST": "true"}
START = reverse("invoices:export_start")
State = ExportJob.State


@pytest.fixture(autouse=True)
def _no_real_pdfs(monkeypatch, fake_pdf):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(services.archive, "default_pdf_renderer", lambda: fake_pdf)


@pytest.fixture
def invoices(client_company):  # type: ignore[no-untyped-def]
    return [sample_link(client_company, "invoice-template-fa-3.xml") for _ in range(3)]


def _body(response) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(response.streaming_content)


def _job(member, kind="csv", client=None):  # type: ignore[no-untyped-def]
    return services.export_start(membership=member, kind=kind, params={}, client=client)


# --- Start ----------------------------------------------------------------------------------


def test_a_small_list_comes_back_as_the_csv_at_once(login, accountant, client_company, invoices):
    response = login(accountant).post(
        f"{START}?role=purchases&sort=issue_date", {"kind": "csv", "client": client_company.pk}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"rejestr-faktur-{client_company.nip}-" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(_body(response).decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 4
    assert not ExportJob.objects.exists()
    event = AuditEvent.objects.get(action="invoices.export_downloaded")
    assert event.actor == accountant.user and event.details["direct"] is True


def test_a_small_list_comes_back_as_the_zip_and_as_the_xlsx_at_once(login, manager, invoices):
    page = login(manager)
    archive = page.post(START, {"kind": "zip"})
    with zipfile.ZipFile(io.BytesIO(_body(archive))) as zf:
        assert len(zf.namelist()) == 6
    workbook = page.post(START, {"kind": "xlsx"})
    assert workbook["Content-Type"].startswith("application/vnd.openxmlformats")
    assert _body(workbook)[:2] == b"PK"


def test_the_lists_filters_decide_what_is_exported(login, manager, client_company, invoices):
    wanted = invoices[0].invoice
    response = login(manager).post(f"{START}?q={wanted.invoice_number}", {"kind": "csv"})
    text = _body(response).decode("utf-8-sig")
    assert wanted.ksef_number in text
    assert invoices[1].invoice.ksef_number not in text


def test_a_large_list_becomes_a_job_and_opens_its_status_page(
    login, manager, invoices, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setitem(services.DIRECT_LIMITS, ExportJob.Kind.CSV, 2)
    with django_capture_on_commit_callbacks(execute=True):
        response = login(manager).post(f"{START}?page=3&sort=number", {"kind": "csv"})
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("invoices:export_status", args=[job.pk])
    assert job.params == {"sort": ["number"]}  # the page number is no filter
    job.refresh_from_db()
    assert job.state == State.DONE


def test_htmx_always_gets_a_job_and_its_status_panel(login, manager, invoices):
    response = login(manager).post(START, {"kind": "csv"}, **HTMX)
    html = response.content.decode()
    job = ExportJob.objects.get()
    assert response.status_code == 200 and "<html" not in html
    assert f'id="export-status-{job.pk}"' in html and 'hx-trigger="every 1s"' in html


def test_an_empty_list_says_there_is_nothing_to_export(login, manager):
    response = login(manager).post(START, {"kind": "zip"})
    assert response.status_code == 200
    assert "nie ma czego eksportować" in response.content.decode()
    assert not ExportJob.objects.exists()


def test_too_large_a_list_is_refused_with_a_way_back(login, manager, invoices, monkeypatch):
    monkeypatch.setitem(services.DIRECT_LIMITS, ExportJob.Kind.ZIP, 1)
    monkeypatch.setitem(services.JOB_LIMITS, ExportJob.Kind.ZIP, 2)
    response = login(manager).post(START + "?currency=PLN", {"kind": "zip"}, **HTMX)
    html = response.content.decode()
    assert "Zawęź filtry" in html and "<html" not in html
    assert not ExportJob.objects.exists()


def test_an_unknown_kind_is_a_400_with_a_polish_message(login, manager):
    response = login(manager).post(START, {"kind": "pdf"})
    assert response.status_code == 400
    assert "Wybierz rodzaj pliku" in response.content.decode()


def test_an_unassigned_accountant_cannot_export_a_clients_list(
    login, unassigned_accountant, client_company, invoices
):
    response = login(unassigned_accountant).post(
        START, {"kind": "csv", "client": client_company.pk}
    )
    assert response.status_code == 404


def test_an_unassigned_accountants_office_wide_export_holds_nothing_of_the_client(
    login, unassigned_accountant, invoices
):
    response = login(unassigned_accountant).post(START, {"kind": "csv"})
    assert "nie ma czego eksportować" in response.content.decode()


def test_another_office_cannot_export_the_clients_list(login, outsider, client_company, invoices):
    response = login(outsider).post(START, {"kind": "zip", "client": client_company.pk})
    assert response.status_code == 404


def test_a_user_outside_any_office_is_forbidden(client, db):
    user = get_user_model().objects.create_user("nikt", password="x")
    client.force_login(user)
    assert client.post(START, {"kind": "csv"}).status_code == 403


def test_start_takes_only_post(login, manager):
    assert login(manager).get(START).status_code == 405


# --- Status and download --------------------------------------------------------------------


def test_the_status_page_shows_progress_and_its_panel_polls_while_the_job_runs(
    login, manager, invoices
):
    job = _job(manager)
    page = login(manager)
    url = reverse("invoices:export_status", args=[job.pk])
    full = page.get(url)
    assert full.status_code == 200 and "<html" in full.content.decode()
    assert "W kolejce" in full.content.decode()
    ExportJob.objects.filter(pk=job.pk).update(state=State.RUNNING, done=1)
    panel = page.get(url, **HTMX)
    html = panel.content.decode()
    assert panel.status_code == 200 and "<html" not in html
    assert 'hx-trigger="every 1s"' in html and 'value="33"' in html


def test_the_panel_stops_polling_when_the_job_is_done_and_shows_the_download_link(
    login, manager, invoices
):
    job = _job(manager)
    services.export_run(job.pk)
    panel = login(manager).get(reverse("invoices:export_status", args=[job.pk]), **HTMX)
    html = panel.content.decode()
    assert panel.status_code == 286  # htmx: stop polling
    assert "hx-trigger" not in html
    assert reverse("invoices:export_download", args=[job.pk]) in html


def test_a_failed_job_stops_polling_and_says_why(login, manager, invoices):
    job = _job(manager)
    ExportJob.objects.filter(pk=job.pk).update(state=State.FAILED, error_code="interrupted")
    panel = login(manager).get(reverse("invoices:export_status", args=[job.pk]), **HTMX)
    assert panel.status_code == 286
    assert "Zleć eksport ponownie" in panel.content.decode()


def test_the_member_who_asked_downloads_the_finished_file(
    login, accountant, client_company, invoices
):
    job = _job(accountant, kind="zip", client=client_company)
    services.export_run(job.pk)
    response = login(accountant).get(reverse("invoices:export_download", args=[job.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(_body(response))) as zf:
        assert len(zf.namelist()) == 6


def test_a_job_not_finished_has_nothing_to_download(login, manager, invoices):
    job = _job(manager)
    assert login(manager).get(reverse("invoices:export_download", args=[job.pk])).status_code == 404


@pytest.mark.parametrize(
    "persona", ["manager", "admin_member", "unassigned_accountant", "outsider"]
)
def test_nobody_but_the_member_who_asked_sees_or_downloads_a_job(
    request, login, accountant, client_company, invoices, persona
):
    job = _job(accountant, client=client_company)
    services.export_run(job.pk)
    page = login(request.getfixturevalue(persona))
    assert page.get(reverse("invoices:export_status", args=[job.pk])).status_code == 404
    assert page.get(reverse("invoices:export_download", args=[job.pk])).status_code == 404


def test_a_job_of_a_client_no_longer_assigned_turns_404(
    login, accountant, client_company, invoices
):
    job = _job(accountant, client=client_company)
    services.export_run(job.pk)
    client_company.assigned_accountants.clear()
    page = login(accountant)
    assert page.get(reverse("invoices:export_download", args=[job.pk])).status_code == 404


def test_status_and_download_take_only_get(login, manager, invoices):
    job = _job(manager)
    page = login(manager)
    assert page.post(reverse("invoices:export_status", args=[job.pk])).status_code == 405
    assert page.post(reverse("invoices:export_download", args=[job.pk])).status_code == 405


def test_my_exports_lists_only_my_own_jobs(login, manager, accountant, office, invoices):
    mine = _job(manager)
    other_client = make_client(office, assigned=[accountant])
    sample_link(other_client, "invoice-template-fa-3.xml")
    theirs = _job(accountant)
    html = login(manager).get(reverse("invoices:export_list")).content.decode()
    assert reverse("invoices:export_status", args=[mine.pk]) in html
    assert reverse("invoices:export_status", args=[theirs.pk]) not in html


# --- The list's toolbar ---------------------------------------------------------------------


def test_the_clients_list_offers_the_downloads_of_exactly_what_it_shows(
    login, accountant, client_company
):
    import datetime as dt
    import re

    march = sample_link(client_company, "invoice-template-fa-3.xml", issue_date=dt.date(2026, 3, 5))
    april = sample_link(client_company, "invoice-template-fa-3.xml", issue_date=dt.date(2026, 4, 5))
    page = login(accountant)
    url = reverse("invoices:client", kwargs={"pk": client_company.pk})
    html = page.get(f"{url}?role=purchases&month=2026-03&page=1").content.decode()
    actions = re.findall(rf'<form method="post" action="({START}[^"]*)"', html)
    assert len(actions) == 3
    assert "page=" not in actions[0] and "month=2026-03" in actions[0]
    assert f'name="client" value="{client_company.pk}"' in html
    response = page.post(
        actions[1].replace("&amp;", "&"), {"kind": "csv", "client": client_company.pk}
    )
    text = _body(response).decode("utf-8-sig")
    assert march.invoice.ksef_number in text and april.invoice.ksef_number not in text


def test_an_empty_list_offers_no_downloads(login, manager, client_company):
    url = reverse("invoices:client", kwargs={"pk": client_company.pk})
    html = login(manager).get(url).content.decode()
    assert START not in html
