"""Polish by default, English on request, Polish number and date formats."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_portal_speaks_polish_even_to_an_english_browser(login, manager):
    body = (
        login(manager).get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="en-US,en").content.decode()
    )

    assert '<html lang="pl">' in body
    assert "Dzień dobry, Marek!" in body


def test_choosing_english_with_the_language_switch_translates_the_portal(login, manager):
    client = login(manager)

    client.post(reverse("set_language"), {"language": "en", "next": reverse("dashboard")})
    body = client.get(reverse("dashboard")).content.decode()

    assert '<html lang="en">' in body
    assert "Hello, Marek!" in body
    assert "Audit log" in body and "Staff" not in body  # a manager's menu, in English
    assert "Log out" in body


def test_the_login_page_switches_back_to_polish(client):
    client.post(reverse("set_language"), {"language": "en", "next": reverse("login")})
    assert "Log in to the KSeF portal" in client.get(reverse("login")).content.decode()

    client.post(reverse("set_language"), {"language": "pl", "next": reverse("login")})
    assert "Logowanie do portalu KSeF" in client.get(reverse("login")).content.decode()
