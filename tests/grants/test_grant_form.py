"""The grant form: styled like the portal's other forms, the client's accountant ticked,
the office model named, and a proper plural sentence after requesting."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from certificates.models import Credential
from clients.models import AccessModel
from tests.factories import make_member, valid_pesel
from tests.grants.grants_support import (  # noqa: F401 - fixtures
    run_fixture,
    sim_fixture,
    store_seal,
)

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _staff_box(html: str, member) -> str:
    return re.search(rf'<input[^>]*name="staff"[^>]*value="{member.pk}"[^>]*>', html).group(0)  # type: ignore[union-attr]


def test_the_grant_form_ticks_the_clients_own_accountant_and_no_one_else(
    login, manager, accountant, client_company, office
):
    other = make_member(office, "accountant", pesel=valid_pesel())
    store_seal(client_company.office, client_company, client_company.nip)

    html = login(manager).get(reverse("grants:client", args=[client_company.pk])).content.decode()

    direct = html.split('id="direct-grants"')[1].split("</section>")[0]
    assert "checked" in _staff_box(direct, accountant)
    assert "checked" not in _staff_box(direct, other)


def test_the_grant_form_lists_are_fieldsets_with_legends(login, accountant, client_company):
    store_seal(client_company.office, client_company, client_company.nip)

    html = (
        login(accountant).get(reverse("grants:client", args=[client_company.pk])).content.decode()
    )

    direct = html.split('id="direct-grants"')[1].split("</section>")[0]
    assert '<fieldset class="field grant-choices' in direct
    assert "<legend>Pracownicy</legend>" in direct and "<legend>Uprawnienia</legend>" in direct
    assert 'class="grant-choice"' in direct


def test_an_office_model_client_reads_that_the_office_certificate_is_used(
    login, accountant, client_company, office
):
    client_company.access_model = AccessModel.OFFICE
    client_company.save()
    Credential.objects.create(office=office, client=None, kind=Credential.Kind.AUTHENTICATION)

    html = (
        login(accountant).get(reverse("grants:client", args=[client_company.pk])).content.decode()
    )

    note = html.split('id="no-client-credential"')[1].split("</p>")[0]
    assert "certyfikatem biura" in note
    assert "Brak poświadczenia klienta" not in note


def test_requesting_two_grants_says_so_in_a_plural_sentence(
    sim, login, django_capture_on_commit_callbacks, accountant, client_company, office
):
    colleague = make_member(office, "accountant", pesel=valid_pesel())
    store_seal(client_company.office, client_company, client_company.nip)
    with django_capture_on_commit_callbacks(execute=True):
        response = login(accountant).post(
            reverse("grants:request", args=[client_company.pk]),
            {"staff": [accountant.pk, colleague.pk], "permissions": ["InvoiceRead"]},
            **HTMX,
        )

    notice = response.content.decode().split('id="grants-notice"')[1].split("</p>")[0]
    assert "Zlecono w KSeF 2 uprawnienia" in notice or "Zlecono w KSeF 2 uprawnień" in notice
    assert "Zlecono w KSeF:" not in notice
