"""The sync screens over HTTP: scope (404), roles (403), methods (405), HTMX fragments vs
full pages, the status texts, and polling that stops when the engine has nothing to do."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from invoices.models import InvoiceSyncState, OfficeSyncSettings, SyncCursor
from invoices.sync import services
from invoices.sync.runner import run_until_done
from ksef_simulator.bulk import bulk_seed
from portal.models import AuditEvent
from tests.invoices.sync.support import (  # noqa: F401 - fixtures
    START,
    sync_client,
    syncsim_fixture,
)

HTMX = {"HTTP_HX_REQUEST": "true"}
State = SyncCursor.State


def _url(name, client):  # type: ignore[no-untyped-def]
    return reverse(f"invoices:{name}", args=[client.pk])


def _cursor(client, subject_type="Subject1", **fields):  # type: ignore[no-untyped-def]
    now = timezone.now()
    defaults = {
        "high_water_mark": now,
        "backfill_from": now,
        "backfill_until": now,
        "backfill_next_to": now,
        "next_cycle_at": now + timedelta(minutes=15),
    }
    return SyncCursor.objects.create(
        client=client, subject_type=subject_type, **{**defaults, **fields}
    )


# --- The status page ---------------------------------------------------------------------


def test_the_assigned_accountant_sees_one_row_per_subject_type_the_office_syncs(
    login, accountant, client_company
):
    page = login(accountant).get(_url("client_sync", client_company))
    html = page.content.decode()
    assert page.status_code == 200
    assert "<html" in html
    assert 'id="cursor-Subject1"' in html and 'id="cursor-Subject2"' in html
    assert 'id="cursor-Subject3"' not in html
    assert "jeszcze nie synchronizowano" in html
    assert "Synchronizuj teraz" in html
    # Only managers change the client's sync choices.
    assert 'id="sync-settings"' not in html


def test_the_status_page_follows_the_subject_types_the_office_chose(
    login, manager, office, client_company
):
    OfficeSyncSettings.objects.create(office=office, subject_types=["Subject2", "Subject3"])
    html = login(manager).get(_url("client_sync", client_company)).content.decode()
    assert 'id="cursor-Subject1"' not in html
    assert 'id="cursor-Subject2"' in html and 'id="cursor-Subject3"' in html
    assert 'id="sync-settings"' in html


def test_htmx_gets_the_status_panel_only_and_an_idle_panel_stops_polling(
    login, accountant, client_company
):
    _cursor(client_company, state=State.IDLE, last_success_at=timezone.now())
    response = login(accountant).get(_url("client_sync", client_company), **HTMX)
    html = response.content.decode()
    assert response.status_code == 286  # htmx: stop polling
    assert "<html" not in html
    assert 'id="sync-status"' in html
    assert "every 2s" not in html
    assert 'data-busy="false"' in html


def test_a_backfilling_cursor_keeps_polling_and_shows_its_progress(
    login, accountant, client_company
):
    _cursor(
        client_company,
        state=State.BACKFILLING,
        backfill_windows_done=2,
        backfill_windows_total=4,
        backfill_invoices_stored=120,
    )
    response = login(accountant).get(_url("client_sync", client_company), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'hx-trigger="every 2s"' in html
    assert "Pobieranie historii" in html
    assert "okna: 2 z 4, zapisano 120 faktur" in html


@pytest.mark.parametrize(
    ("stored", "text"),
    [
        (1, "zapisano 1 fakturę"),
        (3, "zapisano 3 faktury"),
        (5, "zapisano 5 faktur"),
        (12, "zapisano 12 faktur"),
        (22, "zapisano 22 faktury"),
    ],
)
def test_the_invoice_count_takes_the_polish_plural_form(
    login, accountant, client_company, stored, text
):
    _cursor(client_company, state=State.BACKFILLING, backfill_invoices_stored=stored)
    html = login(accountant).get(_url("client_sync", client_company)).content.decode()
    assert text in html


def test_the_invoice_count_reads_in_english_too(login, accountant, client_company):
    _cursor(client_company, state=State.BACKFILLING, backfill_windows_total=3)
    browser = login(accountant)
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    _cursor(client_company, "Subject2", state=State.BACKFILLING, backfill_invoices_stored=1)
    html = browser.get(_url("client_sync", client_company)).content.decode()
    assert "windows: 0 of 3, 0 invoices saved" in html
    assert "1 invoice saved" in html


def test_a_cursor_waiting_for_ksef_limits_says_until_when_in_warsaw_time(
    login, accountant, client_company
):
    until = dt.datetime(2026, 7, 1, 12, 30, tzinfo=dt.UTC)  # 14:30 in Warsaw (CEST)
    _cursor(client_company, state=State.WAITING, waiting_until=until)
    response = login(accountant).get(_url("client_sync", client_company), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200  # still polling
    assert "Czeka na limity KSeF" in html
    assert "do 14:30" in html


def test_a_missing_invoice_read_right_is_explained_and_links_to_the_grant_screen(
    login, accountant, client_company
):
    _cursor(
        client_company,
        state=State.FAILING,
        last_error_code="no_invoice_read",
        last_error_params={"nip": client_company.nip},
        failures=1,
    )
    response = login(accountant).get(_url("client_sync", client_company), **HTMX)
    html = response.content.decode()
    assert response.status_code == 286  # failing needs a person: polling stops
    assert "Brak uprawnienia „Przeglądanie faktur”" in html
    assert client_company.nip in html
    assert reverse("grants:client", args=[client_company.pk]) in html


def test_a_failing_cursor_with_another_reason_shows_it_without_a_grant_link(
    login, accountant, client_company
):
    _cursor(client_company, state=State.FAILING, last_error_code="no_credential", failures=1)
    html = login(accountant).get(_url("client_sync", client_company)).content.decode()
    assert "Brak aktywnego poświadczenia" in html
    assert reverse("grants:client", args=[client_company.pk]) not in html


def test_the_page_shows_a_paused_client_and_its_own_history_start(login, manager, client_company):
    InvoiceSyncState.objects.create(
        client=client_company, paused=True, backfill_from=dt.date(2026, 3, 15)
    )
    html = login(manager).get(_url("client_sync", client_company)).content.decode()
    assert "wstrzymana" in html
    assert "15.03.2026" in html
    assert "domyślna data biura" not in html.split('id="sync-backfill-from"')[1].split("</dd>")[0]
    assert "Synchronizacja tego klienta jest wstrzymana" in html


def test_the_status_of_a_really_synced_client_shows_what_arrived(
    syncsim, login, office, accountant
):
    client = sync_client(office, name="Hurtownia Sync sp. z o.o.")
    client.assigned_accountants.set([accountant])
    buyer = sync_client(office)
    bulk_seed(
        syncsim.state,
        seller_nip=client.nip,
        buyer_nip=buyer.nip,
        count=7,
        stored_from=START - timedelta(days=20),
        stored_to=START - timedelta(days=1),
    )
    cursors = services.cursors_ensure(client, clock=syncsim.clock)
    syncsim.clock.advance(120)
    report = run_until_done(syncsim.engine(), [c.pk for c in cursors])
    assert report.failed == []

    browser = login(accountant)
    html = browser.get(_url("client_sync", client)).content.decode()
    sales = html.split('id="cursor-Subject1"')[1].split("</tr>")[0]
    assert sales.startswith(' data-state="idle"')
    assert "Aktualna" in sales and ">7<" in sales
    assert 'id="sync-stored">7<' in html
    polled = browser.get(_url("client_sync", client), **HTMX)
    assert polled.status_code == 286
    # The onboarding checklist's last step shows the success, and links here.
    detail = browser.get(reverse("clients:detail", args=[client.pk])).content.decode()
    step = detail.split('id="step-first_sync"')[1].split("</li>")[0]
    assert '<span class="badge ok">' in step and _url("client_sync", client) in step


# --- "Synchronizuj teraz" ----------------------------------------------------------------


def test_sync_now_queues_a_step_per_subject_type_and_the_panel_starts_polling(
    login, accountant, client_company, django_capture_on_commit_callbacks
):
    client_company.access_model = "client"
    client_company.save()
    with django_capture_on_commit_callbacks() as queued:
        response = login(accountant).post(_url("client_sync_now", client_company), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert "Zlecono synchronizację" in html
    assert 'hx-trigger="every 2s"' in html
    assert "W kolejce" in html
    assert len(queued) == 2
    assert set(
        SyncCursor.objects.filter(client=client_company).values_list("subject_type", flat=True)
    ) == {"Subject1", "Subject2"}
    assert AuditEvent.objects.filter(action="invoices.sync_requested").count() == 1


def test_sync_now_without_htmx_redirects_with_a_message(login, manager, client_company):
    client_company.access_model = "office"
    client_company.save()
    browser = login(manager)
    response = browser.post(_url("client_sync_now", client_company))
    assert response.status_code == 302
    assert response["Location"] == _url("client_sync", client_company)
    page = browser.get(response["Location"]).content.decode()
    assert "Zlecono synchronizację." in page


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("archived", "Klient jest w archiwum"),
        ("paused", "Synchronizacja tego klienta jest wstrzymana"),
        ("no_access_model", "Nie wybrano modelu dostępu do KSeF"),
        ("zaw_fa", "Najpierw spełnij wymóg ZAW-FA"),
    ],
)
def test_sync_now_is_refused_with_the_reason_for_a_client_that_cannot_sync(
    login, manager, client_company, change, reason
):
    client_company.access_model = "client"
    if change == "archived":
        client_company.is_archived = True
    if change == "no_access_model":
        client_company.access_model = ""
    client_company.save()
    if change == "paused":
        InvoiceSyncState.objects.create(client=client_company, paused=True)
    if change == "zaw_fa":
        client_company.prerequisite.state = "to_file"
        client_company.prerequisite.save()
    response = login(manager).post(_url("client_sync_now", client_company), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="sync-error"' in html and reason in html
    assert not SyncCursor.objects.filter(client=client_company).exists()
    assert not AuditEvent.objects.filter(action="invoices.sync_requested").exists()


# --- The client's own choices -------------------------------------------------------------


def test_a_manager_pauses_a_client_and_the_status_panel_is_told_to_refresh(
    login, manager, client_company
):
    response = login(manager).post(
        _url("client_sync_settings", client_company), {"paused": "on", "backfill_from": ""}, **HTMX
    )
    assert response.status_code == 200
    assert "sync-changed" in response["HX-Trigger"]
    assert "Zapisano ustawienia synchronizacji klienta." in response.content.decode()
    state = InvoiceSyncState.objects.get(client=client_company)
    assert state.paused and state.backfill_from is None
    assert AuditEvent.objects.filter(action="invoices.sync_paused").count() == 1
    assert not AuditEvent.objects.filter(action="invoices.backfill_set").exists()


def test_a_manager_sets_and_clears_the_clients_own_history_start(login, manager, client_company):
    browser = login(manager)
    response = browser.post(
        _url("client_sync_settings", client_company), {"backfill_from": "2026-03-01"}
    )
    assert response.status_code == 302
    assert InvoiceSyncState.objects.get(client=client_company).backfill_from == dt.date(2026, 3, 1)
    browser.post(_url("client_sync_settings", client_company), {"backfill_from": ""})
    assert InvoiceSyncState.objects.get(client=client_company).backfill_from is None
    assert AuditEvent.objects.filter(action="invoices.backfill_set").count() == 2


def test_resuming_a_paused_client_is_recorded(login, admin_member, client_company):
    InvoiceSyncState.objects.create(client=client_company, paused=True)
    login(admin_member).post(_url("client_sync_settings", client_company), {}, **HTMX)
    assert not InvoiceSyncState.objects.get(client=client_company).paused
    assert AuditEvent.objects.filter(action="invoices.sync_resumed").count() == 1


@pytest.mark.parametrize(
    ("day", "message"),
    [
        ("2026-01-31", "KSeF działa od 01.02.2026 — wcześniejszych faktur w nim nie ma."),
        ("2999-01-01", "Data początku historii nie może być w przyszłości."),
        ("31.12.2026x", "Podaj datę w formacie RRRR-MM-DD"),
    ],
)
def test_a_history_start_ksef_cannot_serve_is_refused(login, manager, client_company, day, message):
    response = login(manager).post(
        _url("client_sync_settings", client_company), {"backfill_from": day}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert message in html
    assert 'id="sync-settings"' in html and "HX-Trigger" not in response
    assert not InvoiceSyncState.objects.filter(client=client_company).exists()


def test_an_accountant_may_not_change_a_clients_sync_choices(login, accountant, client_company):
    response = login(accountant).post(
        _url("client_sync_settings", client_company), {"paused": "on"}
    )
    assert response.status_code == 403
    assert not InvoiceSyncState.objects.filter(client=client_company).exists()


# --- The office's settings ---------------------------------------------------------------


def test_a_manager_chooses_the_subject_types_and_the_default_history_start(login, manager, office):
    browser = login(manager)
    page = browser.get(reverse("invoices:settings")).content.decode()
    assert "<html" in page and 'value="Subject1"' in page and 'value="SubjectAuthorized"' in page
    response = browser.post(
        reverse("invoices:settings"),
        {"subject_types": ["Subject2", "Subject3"], "backfill_from": "2026-04-01"},
    )
    assert response.status_code == 302
    saved = OfficeSyncSettings.objects.get(office=office)
    assert saved.subject_types == ["Subject2", "Subject3"]
    assert saved.backfill_from == dt.date(2026, 4, 1)
    assert (
        "Zapisano ustawienia synchronizacji biura."
        in browser.get(response["Location"]).content.decode()
    )


def test_the_office_settings_need_at_least_one_subject_type(login, admin_member, office):
    response = login(admin_member).post(
        reverse("invoices:settings"), {"backfill_from": "2026-02-01"}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="sync-office-settings"' in html
    assert "Wybierz co najmniej jeden rodzaj faktur." in html
    assert not OfficeSyncSettings.objects.filter(office=office).exists()


def test_the_office_default_history_start_cannot_precede_ksef(login, manager, office):
    response = login(manager).post(
        reverse("invoices:settings"), {"subject_types": ["Subject1"], "backfill_from": "2025-12-01"}
    )
    assert "KSeF działa od 01.02.2026" in response.content.decode()
    assert not OfficeSyncSettings.objects.filter(office=office).exists()


def test_a_saved_htmx_settings_form_sends_the_browser_to_the_page_again(login, manager):
    response = login(manager).post(
        reverse("invoices:settings"),
        {"subject_types": ["Subject1"], "backfill_from": "2026-02-01"},
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("invoices:settings")


def test_accountants_may_not_open_the_office_settings(login, accountant):
    browser = login(accountant)
    assert browser.get(reverse("invoices:settings")).status_code == 403
    response = browser.post(
        reverse("invoices:settings"), {"subject_types": ["Subject1"], "backfill_from": "2026-02-01"}
    )
    assert response.status_code == 403


def test_managers_find_the_sync_settings_in_the_navigation_and_accountants_do_not(
    login, manager, accountant
):
    link = f'href="{reverse("invoices:settings")}"'
    assert link in login(manager).get(reverse("dashboard")).content.decode()
    assert link not in login(accountant).get(reverse("dashboard")).content.decode()


def test_the_client_page_links_to_the_sync_screen(login, accountant, client_company):
    html = (
        login(accountant).get(reverse("clients:detail", args=[client_company.pk])).content.decode()
    )
    assert f'href="{_url("client_sync", client_company)}"' in html
    step = html.split('id="step-first_sync"')[1].split("</li>")[0]
    assert "jeszcze nie wdrożone" not in step


# --- Scope, roles and methods ------------------------------------------------------------


@pytest.mark.parametrize("who", ["unassigned_accountant", "outsider"])
def test_other_offices_and_unassigned_accountants_get_404_on_every_client_view(
    request, login, who, client_company
):
    browser = login(request.getfixturevalue(who))
    assert browser.get(_url("client_sync", client_company)).status_code == 404
    assert browser.get(_url("client_sync", client_company), **HTMX).status_code == 404
    assert browser.post(_url("client_sync_now", client_company)).status_code == 404
    assert browser.post(_url("client_sync_settings", client_company)).status_code == 404
    assert not SyncCursor.objects.exists() and not InvoiceSyncState.objects.exists()


def test_another_offices_manager_changes_only_their_own_office_settings(
    login, outsider, office, other_office
):
    login(outsider).post(
        reverse("invoices:settings"), {"subject_types": ["Subject3"], "backfill_from": "2026-02-01"}
    )
    assert OfficeSyncSettings.objects.get(office=other_office).subject_types == ["Subject3"]
    assert not OfficeSyncSettings.objects.filter(office=office).exists()


def test_logged_out_visitors_are_sent_to_the_login_page(client, client_company):
    response = client.get(_url("client_sync", client_company))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_wrong_methods_get_405(login, manager, client_company):
    browser = login(manager)
    assert browser.post(_url("client_sync", client_company)).status_code == 405
    assert browser.get(_url("client_sync_now", client_company)).status_code == 405
    assert browser.get(_url("client_sync_settings", client_company)).status_code == 405
    assert browser.delete(reverse("invoices:settings")).status_code == 405
