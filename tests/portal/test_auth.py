"""Logging in and out, changing and resetting a password — Django's auth views in Polish."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_login_page_is_a_full_polish_page(client):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body
    assert "Logowanie do portalu KSeF" in body
    assert "Nie pamiętasz hasła?" in body


def test_an_anonymous_visitor_of_the_dashboard_is_sent_to_the_login_page(client):
    response = client.get(reverse("dashboard"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_member_logs_in_with_the_form_and_lands_on_the_dashboard(client, accountant):
    response = client.post(
        reverse("login"), {"username": "ksiegowa", "password": PASSWORD}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert "Dzień dobry, Katarzyna!" in response.content.decode()


def test_a_wrong_password_is_refused_with_a_polish_message(client, accountant):
    response = client.post(reverse("login"), {"username": "ksiegowa", "password": "zle-haslo"})

    assert response.status_code == 200
    body = response.content.decode()
    assert "Wprowadź poprawne wartości pól nazwa użytkownika oraz hasło" in body
    assert "_auth_user_id" not in client.session


def test_a_deactivated_member_cannot_log_in(client, accountant):
    accountant.user.is_active = False
    accountant.user.save()

    client.post(reverse("login"), {"username": "ksiegowa", "password": PASSWORD})

    assert "_auth_user_id" not in client.session


def test_logout_is_a_post_and_a_get_is_refused(login, accountant):
    client = login(accountant)

    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert client.get(reverse("dashboard")).status_code == 302


def test_a_member_changes_their_password_and_logs_in_with_the_new_one(client, login, accountant):
    login(accountant)
    page = client.get(reverse("password_change"))
    assert "Zmiana hasła" in page.content.decode()

    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "Nowe-haslo-do-KSeF-1",
            "new_password2": "Nowe-haslo-do-KSeF-1",
        },
        follow=True,
    )

    assert "Hasło zmienione" in response.content.decode()
    client.logout()
    assert client.login(username="ksiegowa", password="Nowe-haslo-do-KSeF-1")


def test_a_forgotten_password_is_reset_through_the_emailed_link(client, accountant, mailoutbox):
    client.post(reverse("password_reset"), {"email": accountant.user.email})

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.subject == "Ustawienie nowego hasła w portalu KSeF"
    link = re.search(r"http://testserver(/accounts/reset/\S+)", message.body)
    assert link is not None
    form_page = client.get(link.group(1), follow=True)
    assert "Ustaw hasło" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "Odzyskane-haslo-77", "new_password2": "Odzyskane-haslo-77"},
        follow=True,
    )

    assert "Hasło ustawione" in done.content.decode()
    assert client.login(username="ksiegowa", password="Odzyskane-haslo-77")
