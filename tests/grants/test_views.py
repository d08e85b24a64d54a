"""The grant screen and its actions over HTTP: scope (404), roles (403), methods (405),
HTMX fragments vs full pages, and polling that stops when the work is done."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from grants.models import GrantsCheck, PermissionGrant, StaffDepartureJob
from tests.grants.grants_support import (  # noqa: F401 - fixtures
    run_fixture,
    sim_fixture,
    store_seal,
)

State = PermissionGrant.State
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def grant(client_company, accountant):  # type: ignore[no-untyped-def]
    return PermissionGrant.objects.create(
        client=client_company,
        grantee_kind=PermissionGrant.GranteeKind.PERSON,
        grantee_membership=accountant,
        grantee_identifier_type="Pesel",
        grantee_identifier=accountant.pesel,
        permissions=["InvoiceWrite", "InvoiceRead"],
        state=State.GRANTED,
    )


def test_the_grant_screen_shows_invoice_rights_preselected_for_the_assigned_accountant(
    login, accountant, client_company
):
    store_seal(client_company.office, client_company, client_company.nip)
    page = login(accountant).get(reverse("grants:client", args=[client_company.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "<html" in html
    assert 'value="InvoiceWrite"' in html and 'value="InvoiceRead"' in html
    assert html.count("checked") >= 2
    assert "Nadaj uprawnienia w KSeF" in html


def test_the_grant_screen_answers_htmx_with_the_panel_only(login, accountant, client_company):
    response = login(accountant).get(reverse("grants:client", args=[client_company.pk]), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="grants-panel"' in html


def test_the_office_model_screen_shows_the_client_the_steps_in_the_ministrys_app(
    login, accountant, client_company, office
):
    client_company.access_model = "office"
    client_company.save()
    html = (
        login(accountant).get(reverse("grants:client", args=[client_company.pk])).content.decode()
    )
    assert "Aplikacji Podatnika" in html
    assert office.nip in html
    assert "Sprawdź teraz" in html


@pytest.mark.parametrize("who", ["unassigned_accountant", "outsider"])
def test_other_offices_and_unassigned_accountants_get_404_everywhere(
    request, login, who, client_company, grant
):
    browser = login(request.getfixturevalue(who))
    check = GrantsCheck.objects.create(client=client_company)
    assert browser.get(reverse("grants:client", args=[client_company.pk])).status_code == 404
    assert browser.post(reverse("grants:request", args=[client_company.pk])).status_code == 404
    assert (
        browser.post(reverse("grants:request_indirect", args=[client_company.pk])).status_code
        == 404
    )
    assert browser.post(reverse("grants:check_start", args=[client_company.pk])).status_code == 404
    assert browser.get(reverse("grants:check", args=[check.pk]), **HTMX).status_code == 404
    assert browser.get(reverse("grants:status", args=[grant.pk]), **HTMX).status_code == 404
    assert browser.post(reverse("grants:retry", args=[grant.pk])).status_code == 404


def test_an_accountant_may_not_revoke_a_grant(login, accountant, grant):
    response = login(accountant).post(reverse("grants:revoke", args=[grant.pk]))
    assert response.status_code == 403
    grant.refresh_from_db()
    assert grant.state == State.GRANTED


def test_only_admins_handle_a_departure(login, manager, accountant, admin_member, outsider):
    url = reverse("grants:departure", args=[accountant.pk])
    assert login(manager).get(url).status_code == 403
    assert login(outsider).get(url).status_code == 404
    assert login(admin_member).get(url).status_code == 200


def test_wrong_methods_get_405(login, manager, client_company, grant):
    browser = login(manager)
    assert browser.get(reverse("grants:request", args=[client_company.pk])).status_code == 405
    assert browser.get(reverse("grants:revoke", args=[grant.pk])).status_code == 405
    assert browser.get(reverse("grants:check_start", args=[client_company.pk])).status_code == 405
    assert browser.post(reverse("grants:status", args=[grant.pk])).status_code == 405
    assert browser.delete(reverse("grants:client", args=[client_company.pk])).status_code == 405


def test_an_empty_choice_is_refused_in_the_panel(login, accountant, client_company):
    store_seal(client_company.office, client_company, client_company.nip)
    response = login(accountant).post(
        reverse("grants:request", args=[client_company.pk]),
        {"permissions": ["InvoiceRead"]},
        **HTMX,
    )
    assert response.status_code == 200
    assert "Wybierz pracowników albo biuro." in response.content.decode()
    assert not PermissionGrant.objects.filter(state=State.REQUESTED).exists()


def test_granting_from_the_screen_ends_granted_and_the_row_stops_polling(
    sim, login, django_capture_on_commit_callbacks, accountant, client_company
):
    store_seal(client_company.office, client_company, client_company.nip)
    browser = login(accountant)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(
            reverse("grants:request", args=[client_company.pk]),
            {"staff": [accountant.pk], "permissions": ["InvoiceWrite", "InvoiceRead"]},
            **HTMX,
        )
    assert response.status_code == 200
    assert "Zlecono w KSeF 1 uprawnienie" in response.content.decode()
    grant = PermissionGrant.objects.get(client=client_company)
    polled = browser.get(reverse("grants:status", args=[grant.pk]), **HTMX)
    assert polled.status_code == 286  # htmx: stop polling
    assert 'data-state="granted"' in polled.content.decode()


def test_a_requested_grant_keeps_polling(login, accountant, grant):
    PermissionGrant.objects.filter(pk=grant.pk).update(state=State.REQUESTED)
    polled = login(accountant).get(reverse("grants:status", args=[grant.pk]), **HTMX)
    assert polled.status_code == 200
    assert 'hx-trigger="every 1s"' in polled.content.decode()


def test_the_status_url_without_htmx_goes_to_the_full_page(login, accountant, grant):
    response = login(accountant).get(reverse("grants:status", args=[grant.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("grants:client", args=[grant.client_id])


def test_a_manager_revokes_from_the_row(
    sim, login, django_capture_on_commit_callbacks, manager, grant
):
    store_seal(grant.client.office, grant.client, grant.client.nip)
    with django_capture_on_commit_callbacks(execute=True):
        response = login(manager).post(reverse("grants:revoke", args=[grant.pk]), **HTMX)
    assert response.status_code == 200
    grant.refresh_from_db()
    # Nothing of it existed in KSeF, so there was nothing to take away.
    assert grant.state == State.REVOKED


def test_deactivating_a_staff_member_with_grants_offers_to_revoke_them(
    login, admin_member, accountant, unassigned_accountant, grant
):
    browser = login(admin_member)
    response = browser.post(reverse("staff:deactivate", args=[accountant.pk]), **HTMX)
    assert response.status_code == 200
    # The person still looks after the grant's client: handing it over comes first.
    assert response["HX-Redirect"] == reverse("clients:handover", args=[accountant.pk])
    departure = reverse("grants:departure", args=[accountant.pk])
    assert "Przekaż klientów" in browser.get(departure).content.decode()
    handed = browser.post(response["HX-Redirect"], {"everyone": str(unassigned_accountant.pk)})
    assert handed["Location"] == departure
    page = browser.get(departure).content.decode()
    assert grant.client.name in page
    assert "Odbierz wszystkie uprawnienia" in page
    assert "Przekaż klientów" not in page


def test_the_departure_job_page_polls_until_done(login, admin_member, accountant, office):
    job = StaffDepartureJob.objects.create(office=office, membership=accountant)
    browser = login(admin_member)
    url = reverse("grants:departure_job", args=[job.pk])
    assert browser.get(url, **HTMX).status_code == 200
    assert "<html" in browser.get(url).content.decode()
    job.state = StaffDepartureJob.State.DONE
    job.results = [
        {"client_id": 1, "client_name": "Piekarnia", "outcome": "revoked", "message": "ok"}
    ]
    job.save()
    finished = browser.get(url, **HTMX)
    assert finished.status_code == 286
    assert "Piekarnia" in finished.content.decode()


def test_the_departure_job_page_says_when_a_crashed_job_waits_to_be_resumed(
    login, admin_member, accountant, office
):
    job = StaffDepartureJob.objects.create(
        office=office,
        membership=accountant,
        state=StaffDepartureJob.State.RUNNING,
        heartbeat_at=timezone.now(),
    )
    browser = login(admin_member)
    url = reverse("grants:departure_job", args=[job.pk])
    assert "wznowione automatycznie" not in browser.get(url, **HTMX).content.decode()

    job.heartbeat_at = timezone.now() - StaffDepartureJob.STALE_AFTER - timedelta(minutes=1)
    job.save()

    page = browser.get(url, **HTMX).content.decode()
    assert "Zadanie zostało przerwane" in page
    assert "wznowione automatycznie" in page


def test_a_finished_check_stops_polling_and_reloads_the_panel(login, accountant, client_company):
    check = GrantsCheck.objects.create(client=client_company, state="done", message="Sprawdzono")
    response = login(accountant).get(reverse("grants:check", args=[check.pk]), **HTMX)
    assert response.status_code == 286
    assert 'hx-trigger="load"' in response.content.decode()
