"""The ZAW-FA step's words follow the prerequisite's state: once filed or confirmed it no
longer says "ZAW-FA trzeba złożyć … nikt nie może jeszcze działać"."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clients.models import LegalForm, Prerequisite
from tests.factories import make_client

pytestmark = pytest.mark.django_db

State = Prerequisite.State


def _headline(login, member, client) -> str:
    html = login(member).get(reverse("clients:prerequisite", args=[client.pk])).content.decode()
    return html.split('id="zaw-fa-headline"')[1].split("</p>")[0]


@pytest.mark.parametrize(
    ("state", "says", "never"),
    [
        (State.TO_FILE, "ZAW-FA trzeba złożyć.", "potwierdzony"),
        (State.FILED, "ZAW-FA złożony", "trzeba złożyć"),
        (State.CONFIRMED, "ZAW-FA potwierdzony.", "trzeba złożyć"),
    ],
)
def test_a_company_without_a_seal_reads_the_text_of_its_state(
    login, accountant, office, state, says, never
):
    client = make_client(office, assigned=[accountant], prerequisite=state)

    headline = _headline(login, accountant, client)

    assert says in headline
    assert never not in headline
    if state != State.TO_FILE:
        assert "nikt nie może jeszcze działać" not in headline


def test_a_sole_proprietor_reads_that_zaw_fa_is_not_needed(login, accountant, office):
    client = make_client(
        office,
        assigned=[accountant],
        legal_form=LegalForm.SOLE_PROPRIETORSHIP,
        prerequisite=State.NOT_REQUIRED,
    )

    headline = _headline(login, accountant, client)

    assert "ZAW-FA nie jest potrzebny." in headline
    assert "trzeba złożyć" not in headline


def test_the_client_page_wizard_follows_the_confirmed_state_too(login, accountant, office):
    client = make_client(office, assigned=[accountant], prerequisite=State.CONFIRMED)

    html = login(accountant).get(reverse("clients:detail", args=[client.pk])).content.decode()

    assert "ZAW-FA potwierdzony." in html
    assert "nikt nie może jeszcze działać" not in html
