"""Client register and ZAW-FA services: what they write and what they record."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from clients import services
from clients.models import Client, LegalForm, Prerequisite
from portal.models import AuditEvent
from tests.factories import make_client, make_member, valid_nip, valid_pesel

State = Prerequisite.State


def _create(office, actor, **fields):
    data = {
        "nip": valid_nip(),
        "name": "Stolarnia Dąb sp. z o.o.",
        "legal_form": LegalForm.LIMITED_LIABILITY_COMPANY,
        "has_qualified_seal": False,
        "contact_emails": ["biuro@stolarnia.example"],
    }
    return services.client_create(office=office, actor=actor, **{**data, **fields})


def test_creating_a_company_without_a_seal_records_that_zaw_fa_must_be_filed(
    office, manager, accountant
):
    client = _create(office, manager.user, assigned_accountants=[accountant])

    assert client.prerequisite.state == State.TO_FILE
    assert list(client.assigned_accountants.all()) == [accountant]
    event = AuditEvent.objects.get(action="client.created")
    assert event.actor == manager.user and event.details["prerequisite"] == "to_file"


def test_creating_a_sole_proprietor_needs_no_zaw_fa(office, manager):
    client = _create(office, manager.user, legal_form=LegalForm.SOLE_PROPRIETORSHIP)
    assert client.prerequisite.state == State.NOT_REQUIRED


def test_a_nip_already_in_the_office_is_refused(office, manager, client_company):
    with pytest.raises(ValidationError, match="już w rejestrze"):
        _create(office, manager.user, nip=client_company.nip)


def test_the_same_nip_may_be_a_client_of_another_office(office, other_office, outsider):
    nip = valid_nip()
    make_client(office, nip=nip)
    assert _create(other_office, outsider.user, nip=nip).office == other_office


def test_only_accountants_of_the_same_office_can_be_assigned(office, manager, outsider):
    other_accountant = make_member(outsider.office, "accountant")
    for wrong in (manager, other_accountant):
        with pytest.raises(ValidationError, match="tylko księgowy tego biura"):
            _create(office, manager.user, assigned_accountants=[wrong])
    assert not Client.objects.filter(office=office).exists()


def test_a_company_that_gets_a_seal_no_longer_has_to_file(office, manager):
    client = _create(office, manager.user)
    services.client_update(client=client, actor=manager.user, has_qualified_seal=True)

    client.prerequisite.refresh_from_db()
    assert client.prerequisite.state == State.NOT_REQUIRED
    event = AuditEvent.objects.get(action="prerequisite.reevaluated")
    assert event.details == {
        "from": "to_file",
        "to": "not_required",
        "cause": ["has_qualified_seal"],
    }


def test_a_sole_proprietor_that_becomes_a_company_without_a_seal_must_file(office, manager):
    client = _create(office, manager.user, legal_form=LegalForm.SOLE_PROPRIETORSHIP)
    services.client_update(
        client=client, actor=manager.user, legal_form=LegalForm.LIMITED_LIABILITY_COMPANY
    )
    client.prerequisite.refresh_from_db()
    assert client.prerequisite.state == State.TO_FILE


def test_an_update_records_only_what_changed(office, manager, accountant, client_company):
    services.client_update(
        client=client_company,
        actor=accountant.user,
        contact_emails=["nowy@piekarnia.example"],
        name=client_company.name,
    )
    event = AuditEvent.objects.get(action="client.updated")
    assert set(event.details["changes"]) == {"contact_emails"}
    assert not AuditEvent.objects.filter(action="prerequisite.reevaluated").exists()


def test_an_update_without_changes_records_nothing(office, manager, client_company):
    services.client_update(client=client_company, actor=manager.user, name=client_company.name)
    assert not AuditEvent.objects.exists()


def test_archiving_hides_the_client_and_is_audited_once(office, manager, client_company):
    services.client_archive(client=client_company, actor=manager.user)
    services.client_archive(client=client_company, actor=manager.user)

    client_company.refresh_from_db()
    assert client_company.is_archived
    assert AuditEvent.objects.filter(action="client.archived").count() == 1


def test_the_wizard_goes_from_to_file_through_filed_to_confirmed(office, accountant):
    client = make_client(office, assigned=[accountant], prerequisite=State.TO_FILE)
    pesel = valid_pesel(77)
    services.prerequisite_person_set(
        client=client,
        actor=accountant.user,
        first_name="Ewa",
        last_name="Prezes",
        identifier_type="pesel",
        identifier=pesel,
    )
    services.prerequisite_file(
        client=client,
        actor=accountant.user,
        filed_on=datetime.date(2026, 1, 10),
        tax_office="Urząd Skarbowy Kraków-Krowodrza",
    )
    prerequisite = services.prerequisite_confirm(
        client=client, actor=accountant.user, confirmed_on=datetime.date(2026, 1, 20)
    )

    assert prerequisite.state == State.CONFIRMED and prerequisite.unlocks_credentials
    assert prerequisite.person_identifier == pesel
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["prerequisite.person_set", "prerequisite.filed", "prerequisite.confirmed"]
    # A PESEL is personal data: it is stored on the prerequisite, never copied into the log.
    assert not AuditEvent.objects.filter(details__icontains=pesel).exists()


def test_filing_needs_the_named_person_first(office, accountant):
    client = make_client(office, assigned=[accountant], prerequisite=State.TO_FILE)
    with pytest.raises(ValidationError, match="osobę wskazaną"):
        services.prerequisite_file(
            client=client, actor=None, filed_on=datetime.date(2026, 1, 1), tax_office="US"
        )


def test_confirming_is_refused_before_filing(office, accountant):
    client = make_client(office, assigned=[accountant], prerequisite=State.TO_FILE)
    with pytest.raises(ValidationError, match="Do złożenia"):
        services.prerequisite_confirm(client=client, actor=None, confirmed_on=datetime.date.today())


def test_answering_the_seal_question_repairs_a_stale_state(office, accountant):
    client = make_client(office, prerequisite=State.NOT_REQUIRED, has_qualified_seal=False)
    services.prerequisite_answer_seal(
        client=client, actor=accountant.user, has_qualified_seal=False
    )
    client.prerequisite.refresh_from_db()
    assert client.prerequisite.state == State.TO_FILE
