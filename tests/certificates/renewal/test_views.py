"""The renewal screens: office settings, the client's choice, "Odnów teraz" — scoped to
the office and the role (managers and admins change things; accountants only look)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from certificates.models import ClientRenewalChoice, CredentialRenewal, RenewalSettings
from portal.models import AuditEvent
from tests.factories import make_client

SETTINGS = {
    "enabled_by_default": "on",
    "days_before": "30",
    "key_type": "ec",
}


@pytest.mark.parametrize("persona", ["manager", "admin_member"])
def test_managers_and_admins_change_the_office_settings_and_it_is_logged(request, login, persona):
    member = request.getfixturevalue(persona)
    browser = login(member)

    response = browser.post(reverse("renewal:office"), SETTINGS | {"days_before": "21"})

    assert response.status_code == 302
    saved = RenewalSettings.objects.get(office=member.office)
    assert saved.enabled_by_default and saved.days_before == 21 and saved.updated_by == member.user
    event = AuditEvent.objects.get(action="renewal.settings_changed")
    assert event.actor == member.user
    assert event.details["days_before"] == {"from": 30, "to": 21}
    page = browser.get(reverse("renewal:office")).content.decode()
    assert "Automatyczne odnawianie certyfikatów KSeF" in page


def test_an_accountant_may_not_open_or_change_the_office_settings(login, accountant):
    browser = login(accountant)
    assert browser.get(reverse("renewal:office")).status_code == 403
    assert browser.post(reverse("renewal:office"), SETTINGS).status_code == 403
    assert not RenewalSettings.objects.exists()


def test_a_days_value_outside_the_range_is_refused_in_polish(login, manager):
    response = login(manager).post(reverse("renewal:office"), SETTINGS | {"days_before": "3"})
    assert response.status_code == 200
    assert "Podaj liczbę dni od 7 do 90." in response.content.decode()


def test_the_settings_form_answers_htmx_with_its_fragment(login, manager):
    response = login(manager).get(reverse("renewal:office"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="renewal-settings"' in body and "<html" not in body


def test_a_manager_enables_renewal_for_a_client_and_the_custody_log_says_who(
    login, manager, client_company
):
    browser = login(manager)
    url = reverse("renewal:client_choice", args=[client_company.pk])

    assert browser.post(url, {"choice": "enabled"}).status_code == 302

    choice = ClientRenewalChoice.objects.get(client=client_company)
    assert choice.enabled and choice.changed_by == manager.user
    event = AuditEvent.objects.get(action="credential.renewal_consent")
    assert (event.actor, event.client_id) == (manager.user, client_company.pk)
    assert event.details == {"from": "office_default", "to": "enabled"}
    page = browser.get(reverse("renewal:client", args=[client_company.pk])).content.decode()
    assert "Włączone dla tego klienta" in page

    browser.post(url, {"choice": "default"})
    assert not ClientRenewalChoice.objects.filter(client=client_company).exists()


def test_an_accountant_sees_the_state_but_may_not_enable_or_run(
    login, accountant, client_company, due_client
):
    _client, credential, _files = due_client
    browser = login(accountant)

    page = browser.get(reverse("renewal:client", args=[client_company.pk]))
    assert page.status_code == 200
    assert "Odnów teraz" not in page.content.decode()
    choice = reverse("renewal:client_choice", args=[client_company.pk])
    assert browser.post(choice, {"choice": "enabled"}).status_code == 403
    run = reverse("renewal:run", args=[credential.pk])
    assert browser.post(run).status_code == 403
    assert not CredentialRenewal.objects.exists()


def test_an_unassigned_accountant_and_another_office_get_404(
    login, unassigned_accountant, outsider, client_company, due_client
):
    _client, credential, _files = due_client
    for member in (unassigned_accountant, outsider):
        browser = login(member)
        assert browser.get(reverse("renewal:client", args=[client_company.pk])).status_code == 404
        assert browser.post(reverse("renewal:run", args=[credential.pk])).status_code == 404
    assert (
        login(outsider)
        .post(reverse("renewal:client_choice", args=[client_company.pk]), {"choice": "enabled"})
        .status_code
        == 404
    )


def test_the_wrong_method_is_405(login, manager, client_company):
    browser = login(manager)
    choice = reverse("renewal:client_choice", args=[client_company.pk])
    assert browser.get(choice).status_code == 405
    assert browser.post(reverse("renewal:client", args=[client_company.pk])).status_code == 405


def test_a_manager_runs_a_renewal_now_and_the_page_shows_it_renewed(
    sim, login, manager, due_client, _on_commit_runs
):
    client, credential, _files = due_client
    browser = login(manager)

    with _on_commit_runs(execute=True):
        response = browser.post(reverse("renewal:run", args=[credential.pk]))

    assert response.status_code == 302
    assert sim.enrollments(client.nip) == 1
    page = browser.get(reverse("renewal:client", args=[client.pk])).content.decode()
    assert "odnowiono" in page
    assert AuditEvent.objects.filter(
        action="credential.renewal_requested", actor=manager.user
    ).exists()


def test_the_client_page_fragment_for_htmx(login, manager, client_company):
    response = login(manager).get(
        reverse("renewal:client", args=[client_company.pk]), HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert 'id="renewal-state"' in body and "<html" not in body


def test_another_offices_client_is_404_for_a_manager(login, manager, other_office):
    foreign = make_client(other_office)
    browser = login(manager)
    assert browser.get(reverse("renewal:client", args=[foreign.pk])).status_code == 404


def test_managers_find_the_renewal_screens_from_the_credentials_and_the_expiry_pages(
    login, manager, accountant, client_company
):
    client_page = reverse("certificates:client", args=[client_company.pk])
    renewal_url = reverse("renewal:client", args=[client_company.pk])

    as_manager = login(manager)
    assert renewal_url in as_manager.get(client_page).content.decode()
    assert reverse("renewal:office") in as_manager.get(reverse("expiry:dashboard")).content.decode()

    assert renewal_url not in login(accountant).get(client_page).content.decode()


def test_the_expiry_dashboard_shows_each_certificates_renewal_state(
    sim, due_client, login, manager
):
    client, credential, _files = due_client
    page = login(manager).get(reverse("expiry:dashboard")).content.decode()

    row = page[page.index(f'data-credential="{credential.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "zaplanowane" in row
    assert reverse("renewal:client", args=[client.pk]) in row

    CredentialRenewal.objects.create(
        office=credential.office,
        credential=credential,
        state=CredentialRenewal.State.FAILED,
        message_data={"msgid": "Limit certyfikatów KSeF wyczerpany."},
    )
    page = login(manager).get(reverse("expiry:dashboard")).content.decode()
    assert "niepowodzenie" in page and "Limit certyfikatów KSeF wyczerpany." in page


def test_renewal_states_of_a_page_cost_the_same_queries_for_one_or_many(
    sim, renewing_office, office, django_assert_max_num_queries
):
    from certificates.renewal.selectors import renewal_states
    from tests.certificates.renewal.conftest import issue, store

    credentials = []
    for _ in range(6):
        client = make_client(office)
        credentials.append(store(client, issue(sim.state, client.nip)))

    with django_assert_max_num_queries(4):
        states = renewal_states(credentials)

    assert {state.code for state in states.values()} == {"scheduled"}
