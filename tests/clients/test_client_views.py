"""Registering, editing and archiving clients, and the ZAW-FA wizard, through the views."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from clients import selectors
from clients.models import Client, LegalForm, OnboardingStage, Prerequisite
from tests.factories import make_client, valid_nip, valid_pesel

State = Prerequisite.State


def _form(**overrides):
    data = {
        "nip": "",
        "name": "Kwiaciarnia Storczyk sp. z o.o.",
        "legal_form": LegalForm.LIMITED_LIABILITY_COMPANY,
        "contact_emails": "szef@storczyk.example, ksiegowosc@storczyk.example",
    }
    return {**data, **overrides}


def test_a_manager_registers_a_client_typed_with_the_pl_prefix_and_dashes(
    login, manager, accountant
):
    nip = valid_nip()
    typed = f"PL {nip[:3]}-{nip[3:6]}-{nip[6:8]}-{nip[8:]}"
    response = login(manager).post(
        reverse("clients:create"), _form(nip=typed, assigned_accountants=[accountant.pk])
    )

    client = Client.objects.get(nip=nip)
    assert response.status_code == 302
    assert response["Location"] == reverse("clients:detail", args=[client.pk])
    assert client.contact_emails == ["szef@storczyk.example", "ksiegowosc@storczyk.example"]
    assert client.prerequisite.state == State.TO_FILE
    assert list(client.assigned_accountants.all()) == [accountant]


def test_without_javascript_a_bad_nip_re_renders_the_form_with_the_polish_error(login, manager):
    response = login(manager).post(reverse("clients:create"), _form(nip="526-587-76-34"))
    body = response.content.decode()
    assert response.status_code == 200 and "<html" in body
    assert "NIP ma błędną cyfrę kontrolną" in body
    assert not Client.objects.exists()


def test_leaving_the_nip_field_shows_the_checksum_error_next_to_it(login, manager):
    response = login(manager).post(
        reverse("clients:create"),
        {"nip": "1234567890", "_validate": "nip"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert 'id="field-nip"' in body and "NIP ma błędną cyfrę kontrolną" in body
    assert "<form" not in body  # only the field's row, not the whole form
    assert "Podaj co najmniej jeden adres" not in body  # other fields are not judged yet


def test_leaving_the_nip_field_with_a_registered_nip_names_the_existing_client(
    login, manager, client_company
):
    response = login(manager).post(
        reverse("clients:create"),
        {"nip": f"PL{client_company.nip}", "_validate": "nip"},
        HTTP_HX_REQUEST="true",
    )
    assert "Klient z tym NIP jest już w rejestrze biura: Piekarnia Pod Lipą" in (
        response.content.decode()
    )


def test_a_correct_nip_clears_the_error_when_the_field_is_left(login, manager):
    response = login(manager).post(
        reverse("clients:create"), {"nip": valid_nip(), "_validate": "nip"}, HTTP_HX_REQUEST="true"
    )
    assert "errorlist" not in response.content.decode()


def test_a_bad_contact_address_is_named_when_the_field_is_left(login, manager):
    response = login(manager).post(
        reverse("clients:create"),
        {"contact_emails": "ok@firma.example, zly@adres", "_validate": "contact_emails"},
        HTTP_HX_REQUEST="true",
    )
    assert "Niepoprawny adres e-mail: zly@adres." in response.content.decode()


def test_an_htmx_submit_that_succeeds_sends_the_browser_to_the_client_page(login, manager):
    response = login(manager).post(
        reverse("clients:create"), _form(nip=valid_nip()), HTTP_HX_REQUEST="true"
    )
    client = Client.objects.get()
    assert response["HX-Redirect"] == reverse("clients:detail", args=[client.pk])


def test_an_accountant_of_another_office_cannot_be_assigned(login, manager, other_office):
    from tests.factories import make_member

    stranger = make_member(other_office, "accountant")
    response = login(manager).post(
        reverse("clients:create"), _form(nip=valid_nip(), assigned_accountants=[stranger.pk])
    )
    assert response.status_code == 200 and not Client.objects.exists()


def test_an_accountant_edits_only_the_contact_addresses_of_an_assigned_client(
    login, accountant, client_company
):
    http = login(accountant)
    page = http.get(reverse("clients:edit", args=[client_company.pk])).content.decode()
    assert 'name="contact_emails"' in page and 'name="nip"' not in page

    http.post(
        reverse("clients:edit", args=[client_company.pk]),
        {"contact_emails": "nowy@piekarnia.example", "name": "Przejęta nazwa", "is_archived": "on"},
    )
    client_company.refresh_from_db()
    assert client_company.contact_emails == ["nowy@piekarnia.example"]
    assert client_company.name == "Piekarnia Pod Lipą sp. z o.o." and not client_company.is_archived


def test_a_manager_giving_a_company_a_seal_makes_zaw_fa_unnecessary(
    login, manager, accountant, office
):
    client = make_client(office, assigned=[accountant], prerequisite=State.TO_FILE)
    login(manager).post(
        reverse("clients:edit", args=[client.pk]),
        _form(
            nip=client.nip,
            name=client.name,
            has_qualified_seal="on",
            assigned_accountants=[accountant.pk],
        ),
    )
    client.prerequisite.refresh_from_db()
    assert client.prerequisite.state == State.NOT_REQUIRED


def test_editing_keeps_the_own_nip_but_refuses_another_clients(login, manager, office):
    first, second = make_client(office), make_client(office)
    http = login(manager)
    url = reverse("clients:edit", args=[first.pk])
    assert http.post(url, _form(nip=first.nip, name="Nowa nazwa")).status_code == 302
    response = http.post(url, _form(nip=second.nip, name="Nowa nazwa"))
    assert "już w rejestrze biura" in response.content.decode()


def test_a_manager_archives_a_client_which_leaves_the_default_list(login, manager, client_company):
    http = login(manager)
    response = http.post(reverse("clients:archive", args=[client_company.pk]))
    assert response.status_code == 302
    row = f'id="client-{client_company.pk}"'
    assert row not in http.get(reverse("clients:list")).content.decode()
    archived = http.get(reverse("clients:list"), {"archived": "archived"}).content.decode()
    assert row in archived


# --- The ZAW-FA wizard and the checklist ------------------------------------------------------


def test_the_wizard_takes_a_company_without_a_seal_to_confirmed_without_javascript(
    login, accountant, office
):
    client = make_client(office, assigned=[accountant], prerequisite=State.TO_FILE)
    http = login(accountant)
    wizard = reverse("clients:prerequisite", args=[client.pk])

    page = http.get(wizard).content.decode()
    assert "ZAW-FA trzeba złożyć" in page and "urzędzie skarbowym" in page
    assert 'id="zaw-fa-person"' in page

    bad = http.post(
        reverse("clients:prerequisite_person", args=[client.pk]),
        {
            "first_name": "Ewa",
            "last_name": "Prezes",
            "identifier_type": "pesel",
            "identifier": "12345678901",
        },
    )
    assert "PESEL ma błędną cyfrę kontrolną" in bad.content.decode()

    steps = [
        (
            "clients:prerequisite_person",
            {
                "first_name": "Ewa",
                "last_name": "Prezes",
                "identifier_type": "pesel",
                "identifier": valid_pesel(5),
            },
        ),
        (
            "clients:prerequisite_filing",
            {"filed_on": "2026-01-12", "tax_office": "Drugi Urząd Skarbowy w Gdańsku"},
        ),
        ("clients:prerequisite_confirm", {"confirmed_on": "2026-01-30"}),
    ]
    for name, data in steps:
        response = http.post(reverse(name, args=[client.pk]), data)
        assert response.status_code == 302 and response["Location"] == wizard

    prerequisite = Prerequisite.objects.get(client=client)
    assert prerequisite.state == State.CONFIRMED
    assert prerequisite.filed_on == datetime.date(2026, 1, 12)
    assert prerequisite.tax_office == "Drugi Urząd Skarbowy w Gdańsku"


def test_a_confirmation_dated_before_the_filing_is_refused(login, accountant, office):
    client = make_client(office, assigned=[accountant], prerequisite=State.FILED)
    Prerequisite.objects.filter(client=client).update(filed_on=datetime.date(2026, 2, 1))
    response = login(accountant).post(
        reverse("clients:prerequisite_confirm", args=[client.pk]), {"confirmed_on": "2026-01-01"}
    )
    assert "nie może być wcześniejsze niż złożenie" in response.content.decode()
    assert Prerequisite.objects.get(client=client).state == State.FILED


def test_a_sole_proprietor_is_never_asked_about_a_seal(login, accountant, office):
    client = make_client(office, assigned=[accountant], legal_form=LegalForm.SOLE_PROPRIETORSHIP)
    http = login(accountant)
    page = http.get(reverse("clients:prerequisite", args=[client.pk]) + "?step=seal")
    body = page.content.decode()
    assert "has_qualified_seal" not in body and "ZAW-FA nie jest potrzebny" in body


def test_a_sole_proprietors_owner_is_recorded_in_the_wizard(login, accountant, office):
    client = make_client(office, assigned=[accountant], legal_form=LegalForm.SOLE_PROPRIETORSHIP)
    http = login(accountant)
    wizard = reverse("clients:prerequisite", args=[client.pk])
    assert "Wpisz dane właściciela" in http.get(wizard).content.decode()
    form = http.get(wizard + "?step=person").content.decode()
    assert "Dane właściciela firmy" in form and 'id="zaw-fa-person"' in form
    pesel = valid_pesel(8)

    response = http.post(
        reverse("clients:prerequisite_person", args=[client.pk]),
        {
            "first_name": "Jan",
            "last_name": "Kowal",
            "identifier_type": "pesel",
            "identifier": pesel,
        },
        follow=True,
    )

    body = response.content.decode()
    assert "Zapisano dane właściciela firmy." in body
    assert f"PESEL {pesel}" in body and "Właściciel firmy" in body
    prerequisite = Prerequisite.objects.get(client=client)
    assert (prerequisite.state, prerequisite.person_identifier) == (State.NOT_REQUIRED, pesel)
    assert client.office.audit_events.filter(action="prerequisite.owner_set").count() == 1


def test_a_company_that_needs_no_zaw_fa_has_no_person_step(login, accountant, office):
    client = make_client(office, assigned=[accountant], has_qualified_seal=True)
    http = login(accountant)
    page = http.get(reverse("clients:prerequisite", args=[client.pk]) + "?step=person")
    assert 'id="zaw-fa-person"' not in page.content.decode()

    response = http.post(
        reverse("clients:prerequisite_person", args=[client.pk]),
        {
            "first_name": "Jan",
            "last_name": "Kowal",
            "identifier_type": "pesel",
            "identifier": valid_pesel(9),
        },
    )

    assert "Tego kroku nie można wykonać" in response.content.decode()
    assert Prerequisite.objects.get(client=client).person_identifier == ""


def test_answering_yes_to_the_seal_question_with_htmx_unlocks_the_credentials(
    login, accountant, office
):
    client = make_client(office, assigned=[accountant], prerequisite=State.TO_FILE)
    response = login(accountant).post(
        reverse("clients:prerequisite_seal", args=[client.pk]),
        {"has_qualified_seal": "tak"},
        HTTP_HX_REQUEST="true",
    )
    assert "prerequisite-changed" in response["HX-Trigger"]
    assert 'data-state="not_required"' in response.content.decode()
    client.refresh_from_db()
    assert client.has_qualified_seal


def _checklist(member, pk):
    client = selectors.client_detail_get(member, pk)
    return {step.stage: step for step in selectors.onboarding_checklist(client)}


def test_the_credential_step_is_locked_until_zaw_fa_is_met(office, accountant):
    for state, locked in [
        (State.TO_FILE, True),
        (State.FILED, True),
        (State.CONFIRMED, False),
        (State.NOT_REQUIRED, False),
    ]:
        client = make_client(office, assigned=[accountant], prerequisite=state)
        step = _checklist(accountant, client.pk)[OnboardingStage.CREDENTIALS]
        assert bool(step.locked_reason) is locked, state


def test_a_step_links_to_its_screen_only_once_that_screen_exists(
    login, accountant, client_company, monkeypatch
):
    monkeypatch.setitem(
        selectors.ONBOARDING_STEP_URLS, OnboardingStage.GRANTS, "clients:no_such_view"
    )
    monkeypatch.setitem(selectors.ONBOARDING_STEP_URLS, OnboardingStage.FIRST_SYNC, "clients:edit")
    page = login(accountant).get(reverse("clients:detail", args=[client_company.pk]))
    body = page.content.decode()

    grants = body.split('id="step-grants"')[1].split("</li>")[0]
    sync = body.split('id="step-first_sync"')[1].split("</li>")[0]
    assert "niedostępne — jeszcze nie wdrożone" in grants
    assert reverse("clients:edit", args=[client_company.pk]) in sync
    assert "niedostępne" not in sync


@pytest.mark.parametrize("persona", ["manager", "accountant"])
def test_the_client_page_shows_real_states_for_a_fresh_client(
    request, login, client_company, persona
):
    body = (
        login(request.getfixturevalue(persona))
        .get(reverse("clients:detail", args=[client_company.pk]))
        .content.decode()
    )
    assert "Niewymagany" in body  # the prerequisite of the fixture
    assert "jeszcze nie" in body  # never synced
    assert body.count(">brak<") >= 2  # no credential, no grants
