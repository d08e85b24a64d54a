"""Staff management pages: only admins, only their own office's people."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from portal.models import AuditEvent, Membership
from tests.factories import PASSWORD, valid_nip, valid_pesel

pytestmark = pytest.mark.django_db

User = get_user_model()


def _new_person(**overrides: str) -> dict[str, str]:
    data = {
        "username": "nowa.osoba",
        "first_name": "Natalia",
        "last_name": "Nowicka",
        "email": "natalia@biuro.example",
        "role": "accountant",
        "pesel": "",
        "nip": "",
    }
    data.update(overrides)
    return data


# --- list ---------------------------------------------------------------------------------


def test_an_admin_sees_every_person_of_the_office_with_role_and_state(
    login, admin_member, manager, accountant, outsider
):
    accountant.user.is_active = False
    accountant.user.save()

    response = login(admin_member).get(reverse("staff:list"))

    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" in body
    assert "Marek Kierownik" in body
    assert "Katarzyna Księgowa" in body
    assert "nieaktywne" in body[body.index(f'id="staff-{accountant.pk}"') :]
    assert "Olga Obca" not in body


@pytest.mark.parametrize("persona", ["manager", "accountant"])
def test_staff_management_is_refused_to_anyone_but_an_admin(login, persona, request):
    member = request.getfixturevalue(persona)

    assert login(member).get(reverse("staff:list")).status_code == 403
    assert login(member).get(reverse("staff:create")).status_code == 403


def test_the_staff_list_refuses_a_post(login, admin_member):
    assert login(admin_member).post(reverse("staff:list")).status_code == 405


def test_an_htmx_request_gets_only_the_staff_table(login, admin_member):
    response = login(admin_member).get(reverse("staff:list"), HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert "<html" not in body
    assert body.strip().startswith('<table id="staff-table">')
    assert "Anna Adminowska" in body


# --- create -------------------------------------------------------------------------------


def test_the_new_staff_form_is_a_full_page_and_an_htmx_fragment(login, admin_member):
    client = login(admin_member)

    page = client.get(reverse("staff:create")).content.decode()
    fragment = client.get(reverse("staff:create"), HTTP_HX_REQUEST="true").content.decode()

    assert "<html" in page and "Nowy pracownik" in page
    assert "<html" not in fragment and 'id="staff-form"' in fragment


def test_an_admin_adds_a_person_who_gets_an_invitation_to_set_a_password(
    login, admin_member, mailoutbox, django_capture_on_commit_callbacks
):
    pesel, nip = valid_pesel(77), valid_nip(77)
    with django_capture_on_commit_callbacks(execute=True):
        response = login(admin_member).post(
            reverse("staff:create"),
            _new_person(pesel=pesel, nip=f"PL {nip[:3]}-{nip[3:]}"),
            follow=True,
        )

    body = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("staff:list")
    assert "Dodano: Natalia Nowicka" in body
    assert "zaproszenie wysłane" in body
    member = Membership.objects.get(user__username="nowa.osoba")
    assert (member.office, member.role, member.pesel, member.nip) == (
        admin_member.office,
        "accountant",
        pesel,
        nip,
    )
    assert not member.user.has_usable_password()
    assert [m.to for m in mailoutbox] == [["natalia@biuro.example"]]
    assert "Twój login: nowa.osoba" in mailoutbox[0].body


def test_the_invitation_link_lets_the_new_person_set_a_password_and_log_in(
    client, login, admin_member, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        login(admin_member).post(reverse("staff:create"), _new_person())
    client.logout()
    link = re.search(r"http://127\.0\.0\.1:8000(/accounts/reset/\S+)", mailoutbox[0].body)
    assert link is not None

    form_page = client.get(link.group(1), follow=True)
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "Moje-pierwsze-haslo-9", "new_password2": "Moje-pierwsze-haslo-9"},
    )

    assert client.login(username="nowa.osoba", password="Moje-pierwsze-haslo-9")
    reused = client.get(link.group(1), follow=True).content.decode()
    assert "Ten link jest nieważny" in reused


def test_an_invalid_pesel_and_a_taken_login_are_explained_in_polish(
    login, admin_member, accountant
):
    response = login(admin_member).post(
        reverse("staff:create"), _new_person(username="KSIEGOWA", pesel="12345678901")
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "Ten login jest niedostępny — wybierz inny" in body
    assert "PESEL ma błędną cyfrę kontrolną lub datę urodzenia." in body
    assert not Membership.objects.filter(user__email="natalia@biuro.example").exists()


def test_an_htmx_submission_with_errors_returns_just_the_form_with_errors(login, admin_member):
    response = login(admin_member).post(
        reverse("staff:create"), _new_person(nip="123"), HTTP_HX_REQUEST="true"
    )

    body = response.content.decode()
    assert "<html" not in body
    assert 'id="staff-form"' in body
    assert "NIP musi mieć dokładnie 10 cyfr." in body


def test_an_htmx_submission_that_succeeds_redirects_the_browser_to_the_list(login, admin_member):
    response = login(admin_member).post(
        reverse("staff:create"), _new_person(), HTTP_HX_REQUEST="true"
    )

    assert response["HX-Redirect"] == reverse("staff:list")
    assert User.objects.filter(username="nowa.osoba").exists()


def test_the_new_staff_form_refuses_a_put(login, admin_member):
    assert login(admin_member).put(reverse("staff:create")).status_code == 405


# --- change role, deactivate, reactivate -----------------------------------------------------


def test_an_admin_changes_a_persons_role(login, admin_member, accountant):
    response = login(admin_member).post(
        reverse("staff:change_role", args=[accountant.pk]), {"role": "manager"}, follow=True
    )

    assert "Katarzyna Księgowa ma teraz rolę: Kierownik." in response.content.decode()
    accountant.refresh_from_db()
    assert accountant.role == "manager"


def test_an_htmx_role_change_returns_only_the_changed_row(login, admin_member, accountant):
    response = login(admin_member).post(
        reverse("staff:change_role", args=[accountant.pk]),
        {"role": "manager"},
        HTTP_HX_REQUEST="true",
    )

    body = response.content.decode()
    assert "<html" not in body
    assert body.strip().startswith(f'<tr id="staff-{accountant.pk}"')
    assert '<option value="manager" selected>' in body
    assert "ma teraz rolę: Kierownik" in body


def test_an_admin_cannot_change_their_own_role(login, admin_member):
    response = login(admin_member).post(
        reverse("staff:change_role", args=[admin_member.pk]),
        {"role": "accountant"},
        HTTP_HX_REQUEST="true",
    )

    assert "Nie możesz zmienić własnej roli" in response.content.decode()
    admin_member.refresh_from_db()
    assert admin_member.role == "admin"


def test_an_unknown_role_is_refused_without_a_change(login, admin_member, accountant):
    response = login(admin_member).post(
        reverse("staff:change_role", args=[accountant.pk]),
        {"role": "superuser"},
        HTTP_HX_REQUEST="true",
    )

    assert "Wybierz jedną z dostępnych ról." in response.content.decode()
    accountant.refresh_from_db()
    assert accountant.role == "accountant"


def test_an_admin_deactivates_a_person_who_then_cannot_use_the_portal(
    client, login, admin_member, accountant
):
    response = login(admin_member).post(
        reverse("staff:deactivate", args=[accountant.pk]), follow=True
    )

    assert "jest nieaktywne — ta osoba nie zaloguje się do portalu" in response.content.decode()
    client.logout()
    assert not client.login(username="ksiegowa", password=PASSWORD)


def test_deactivation_ends_the_persons_open_session(client, admin_member, accountant):
    from django.test import Client

    accountant_browser = Client()
    accountant_browser.force_login(accountant.user)
    client.force_login(admin_member.user)

    client.post(reverse("staff:deactivate", args=[accountant.pk]))

    assert accountant_browser.get(reverse("dashboard")).status_code == 302


def test_an_admin_cannot_deactivate_themselves(login, admin_member):
    response = login(admin_member).post(
        reverse("staff:deactivate", args=[admin_member.pk]), follow=True
    )

    assert "Nie możesz dezaktywować własnego konta." in response.content.decode()
    admin_member.user.refresh_from_db()
    assert admin_member.user.is_active


def test_an_htmx_deactivation_and_reactivation_swap_the_row(login, admin_member, accountant):
    client = login(admin_member)

    off = client.post(reverse("staff:deactivate", args=[accountant.pk]), HTTP_HX_REQUEST="true")
    on = client.post(reverse("staff:reactivate", args=[accountant.pk]), HTTP_HX_REQUEST="true")

    off_body, on_body = off.content.decode(), on.content.decode()
    assert "<html" not in off_body and 'class="inactive"' in off_body and "Przywróć" in off_body
    assert "<html" not in on_body and "jest znowu aktywne" in on_body and "Dezaktywuj" in on_body
    accountant.user.refresh_from_db()
    assert accountant.user.is_active


def test_a_reactivated_person_logs_in_again(client, login, admin_member, accountant):
    admin = login(admin_member)
    admin.post(reverse("staff:deactivate", args=[accountant.pk]))
    response = admin.post(reverse("staff:reactivate", args=[accountant.pk]), follow=True)

    assert "Konto Katarzyna Księgowa jest znowu aktywne." in response.content.decode()
    client.logout()
    assert client.login(username="ksiegowa", password=PASSWORD)


ROW_ACTIONS = [
    "staff:change_role",
    "staff:deactivate",
    "staff:reactivate",
    "staff:resend_invitation",
]


@pytest.mark.parametrize("action", ROW_ACTIONS)
def test_a_person_of_another_office_is_not_found(login, admin_member, outsider, action):
    response = login(admin_member).post(reverse(action, args=[outsider.pk]), {"role": "manager"})

    assert response.status_code == 404
    outsider.refresh_from_db()
    assert (outsider.role, outsider.user.is_active) == ("admin", True)


@pytest.mark.parametrize("action", ROW_ACTIONS)
def test_row_actions_are_refused_to_a_manager(login, manager, accountant, action):
    response = login(manager).post(reverse(action, args=[accountant.pk]), {"role": "admin"})

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action__startswith="staff.").exists()


@pytest.mark.parametrize("action", ROW_ACTIONS)
def test_row_actions_refuse_a_get(login, admin_member, accountant, action):
    assert login(admin_member).get(reverse(action, args=[accountant.pk])).status_code == 405


# --- invitation --------------------------------------------------------------------------


def test_an_admin_resends_the_invitation_to_someone_without_a_password(
    login, admin_member, mailoutbox, django_capture_on_commit_callbacks
):
    client = login(admin_member)
    client.post(reverse("staff:create"), _new_person())
    invited = Membership.objects.get(user__username="nowa.osoba")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("staff:resend_invitation", args=[invited.pk]), HTTP_HX_REQUEST="true"
        )

    assert "Wysłano nowe zaproszenie na natalia@biuro.example." in response.content.decode()
    assert [m.to for m in mailoutbox] == [["natalia@biuro.example"]]


def test_no_invitation_is_resent_to_someone_who_already_has_a_password(
    login, admin_member, accountant, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = login(admin_member).post(
            reverse("staff:resend_invitation", args=[accountant.pk]), follow=True
        )

    assert "Ta osoba ma już hasło." in response.content.decode()
    assert mailoutbox == []
