"""The dashboard: a greeting and counts of what the member may see, nothing else."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from clients.models import Prerequisite
from portal.audit import audit_record
from tests.factories import make_client

pytestmark = pytest.mark.django_db

State = Prerequisite.State


def _row(body: str, label: str) -> str:
    """The text of the table row that starts with `label` (whitespace collapsed)."""
    start = body.index(f'<th scope="row">{label}</th>')
    return " ".join(body[start : body.index("</tr>", start)].split())


@pytest.fixture
def office_clients(office, accountant, unassigned_accountant, client_company):
    make_client(office, assigned=[accountant], prerequisite=State.TO_FILE)
    make_client(office, assigned=[accountant], prerequisite=State.CONFIRMED)
    make_client(office, assigned=[unassigned_accountant], prerequisite=State.FILED)
    make_client(office, assigned=[unassigned_accountant], prerequisite=State.FILED)
    make_client(office, assigned=[accountant], is_archived=True)


def test_it_greets_the_member_by_first_name_with_office_and_role(login, manager):
    response = login(manager).get(reverse("dashboard"))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Dzień dobry, Marek!" in body
    assert "Biuro Rachunkowe Bilans · rola: Kierownik" in body


def test_an_accountant_counts_only_their_own_clients(login, accountant, office_clients):
    body = login(accountant).get(reverse("dashboard")).content.decode()

    assert "Twoi klienci" in body
    assert '<span class="stat-number">3</span> aktywnych klientów' in body
    assert "1 w archiwum" in body
    assert _row(body, "Do złożenia").endswith("1</td>")
    assert _row(body, "Złożony").endswith("0</td>")
    assert _row(body, "Potwierdzony").endswith("1</td>")


def test_a_manager_counts_every_client_of_the_office_by_zaw_fa_state(
    login, manager, office_clients, other_office
):
    make_client(other_office, prerequisite=State.FILED)

    body = login(manager).get(reverse("dashboard")).content.decode()

    assert "Klienci biura" in body
    assert '<span class="stat-number">5</span> aktywnych klientów' in body
    assert _row(body, "Złożony").endswith("2</td>")
    assert _row(body, "Niewymagany").endswith("1</td>")


def test_clients_without_a_recorded_prerequisite_are_counted_as_not_checked(login, manager):
    make_client(manager.office, prerequisite=None)

    body = login(manager).get(reverse("dashboard")).content.decode()

    assert _row(body, "Nie sprawdzono").endswith("1</td>")


def test_big_counts_use_the_polish_thousands_separator(login, manager, monkeypatch):
    from dashboard import selectors, views

    real = selectors.dashboard_counts

    def inflated(membership):  # type: ignore[no-untyped-def]
        counts = real(membership)
        return selectors.DashboardCounts(
            clients_active=12345,
            clients_archived=0,
            by_prerequisite=counts.by_prerequisite,
        )

    monkeypatch.setattr(views, "dashboard_counts", inflated)

    body = login(manager).get(reverse("dashboard")).content.decode()

    assert '<span class="stat-number">12\xa0345</span>' in body


def test_an_accountant_without_clients_is_told_to_ask_for_an_assignment(
    login, unassigned_accountant
):
    body = login(unassigned_accountant).get(reverse("dashboard")).content.decode()

    assert "Nie masz jeszcze przypisanych klientów" in body


def test_an_admin_also_sees_active_staff_by_role_and_inactive_accounts(
    login, admin_member, manager, accountant, unassigned_accountant
):
    unassigned_accountant.user.is_active = False
    unassigned_accountant.user.save()

    body = login(admin_member).get(reverse("dashboard")).content.decode()

    assert _row(body, "Księgowy").endswith("1</td>")
    assert _row(body, "Administrator").endswith("1</td>")
    assert _row(body, "Konta nieaktywne").endswith("1</td>")
    assert "Zarządzaj personelem" in body


def test_a_manager_sees_recent_audit_events_but_an_accountant_does_not(
    login, manager, accountant, office
):
    audit_record(office=office, actor=manager.user, action="staff.created", obj=accountant)

    manager_body = login(manager).get(reverse("dashboard")).content.decode()
    accountant_body = login(accountant).get(reverse("dashboard")).content.decode()

    assert "Ostatnie zdarzenia" in manager_body
    assert "Dodano pracownika" in manager_body
    assert "Ostatnie zdarzenia" not in accountant_body


def test_navigation_shows_only_what_the_role_allows(login, admin_member, manager, accountant):
    def nav(member):  # type: ignore[no-untyped-def]
        body = login(member).get(reverse("dashboard")).content.decode()
        return body[body.index('<nav class="mainnav"') : body.index("</nav>")]

    admin_nav, manager_nav, accountant_nav = nav(admin_member), nav(manager), nav(accountant)

    for text in ("Pulpit", "Klienci", "Dziennik zdarzeń", "Personel"):
        assert text in admin_nav
    assert "Dziennik zdarzeń" in manager_nav
    assert "Personel" not in manager_nav
    assert "Pulpit" in accountant_nav and "Klienci" in accountant_nav
    assert "Dziennik zdarzeń" not in accountant_nav
    assert "Personel" not in accountant_nav


def test_an_htmx_refresh_gets_only_the_counts_fragment(login, accountant, client_company):
    response = login(accountant).get(reverse("dashboard"), HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert 'id="dashboard-counts"' in body
    assert '<span class="stat-number">1</span>' in body


def test_a_normal_request_gets_the_full_page(login, accountant):
    body = login(accountant).get(reverse("dashboard")).content.decode()

    assert "<html" in body


def test_the_dashboard_refuses_a_post(login, accountant):
    assert login(accountant).post(reverse("dashboard")).status_code == 405


def test_a_user_outside_any_office_is_refused_with_an_explanation(client):
    user = get_user_model().objects.create_user(username="samotny", password="x")
    client.force_login(user)

    response = client.get(reverse("dashboard"))

    assert response.status_code == 403
    assert "Konto nie jest przypisane do żadnego biura." in response.content.decode()
