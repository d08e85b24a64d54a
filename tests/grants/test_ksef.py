"""Grants end to end against the KSeF simulator: direct (client credential), indirect
(office model), revocation, and the failure paths (no credential, no rights, 5xx, 429)."""

from __future__ import annotations

import pytest

from clients.models import AccessModel, Prerequisite
from grants import services as grants
from grants.models import PermissionGrant
from tests.factories import make_member, valid_pesel
from tests.grants.grants_support import (  # noqa: F401 - fixtures
    client_grants_office,
    run_fixture,
    sim_fixture,
    store_personal,
    store_seal,
)

State = PermissionGrant.State
BOTH = ["InvoiceWrite", "InvoiceRead"]


@pytest.fixture
def seal(office, client_company):  # type: ignore[no-untyped-def]
    return store_seal(office, client_company, client_company.nip)


def _grant_to_accountant(run, manager, client, accountant):  # type: ignore[no-untyped-def]
    """The manager asks KSeF for InvoiceWrite + InvoiceRead for the accountant (pattern B)."""
    return run(
        grants.grant_request,
        actor=manager.user,
        client=client,
        staff=[accountant],
        include_office=False,
        permissions=BOTH,
    )[0]


def test_a_staff_member_and_the_office_get_invoice_rights_in_the_client_context(
    sim, run, seal, office, manager, accountant, client_company
):
    # The office's credential lets the portal read, from the office's side, what the
    # client granted it (query/entities/grants).
    store_seal(office, None, office.nip)
    created = run(
        grants.grant_request,
        actor=manager.user,
        client=client_company,
        staff=[accountant],
        include_office=True,
        permissions=BOTH,
    )

    assert len(created) == 2
    for grant in created:
        grant.refresh_from_db()
        assert grant.state == State.GRANTED, grant.failure_message
        assert set(grant.ksef_permission_ids) == set(BOTH)
        assert grant.verification == PermissionGrant.Verification.VERIFIED
    # A NEW token of the accountant into the client's context carries the rights (Gotcha 9).
    tokens = sim.staff_token(accountant.pesel, client_company.nip)
    assert sim.permissions_of(tokens) >= set(BOTH)
    office_entity = sim.active_grants("entity", office.nip)
    assert {g.permission for g in office_entity} == set(BOTH)
    assert all(g.can_delegate for g in office_entity)


def test_the_office_grants_indirect_rights_only_after_the_clients_delegable_grant(
    sim, run, office, manager, accountant, client_company
):
    client_company.access_model = AccessModel.OFFICE
    client_company.save()
    store_seal(office, None, office.nip)

    with pytest.raises(grants.GrantError) as refused:
        grants.grant_request_indirect(
            actor=manager.user, client=client_company, staff=[accountant], permissions=BOTH
        )
    assert refused.value.code == "no_entity_grant"
    with pytest.raises(Exception):
        sim.staff_token(accountant.pesel, client_company.nip)

    # The client grants the office in the Ministry's app (here: its own API call).
    client_grants_office(sim, client_company.nip, office.nip)
    from grants.verification import grants_verify_request

    run(grants_verify_request, actor=manager.user, client=client_company)
    assert grants.office_entity_grant(client_company) is not None

    created = run(
        grants.grant_request_indirect,
        actor=manager.user,
        client=client_company,
        staff=[accountant],
        permissions=BOTH,
    )
    grant = created[0]
    grant.refresh_from_db()
    assert grant.state == State.GRANTED, grant.failure_message
    assert grant.mode == PermissionGrant.Mode.INDIRECT
    assert set(grant.ksef_permission_ids) == set(BOTH)
    tokens = sim.staff_token(accountant.pesel, client_company.nip)
    assert sim.permissions_of(tokens) >= set(BOTH)


def test_an_indirect_grant_the_simulator_refuses_ends_failed_with_the_reason(
    sim, run, office, manager, accountant, client_company
):
    # The portal believes the client granted the office, but KSeF knows better (440).
    client_company.access_model = AccessModel.OFFICE
    client_company.save()
    store_seal(office, None, office.nip)
    PermissionGrant.objects.create(
        client=client_company,
        grantee_kind=PermissionGrant.GranteeKind.ENTITY,
        grantee_identifier_type="Nip",
        grantee_identifier=office.nip,
        permissions=BOTH,
        can_delegate=True,
        state=State.GRANTED,
    )
    grant = run(
        grants.grant_request_indirect,
        actor=manager.user,
        client=client_company,
        staff=[accountant],
        permissions=BOTH,
    )[0]
    grant.refresh_from_db()
    assert grant.state == State.FAILED
    assert grant.failure_code == "440"
    assert "canDelegate" in grant.failure_message


def test_revoking_a_grant_removes_the_staff_members_access(
    sim, run, seal, manager, accountant, client_company
):
    grant = _grant_to_accountant(run, manager, client_company, accountant)
    grant.refresh_from_db()
    assert grant.state == State.GRANTED

    run(grants.grant_revoke, actor=manager.user, grant=grant)

    grant.refresh_from_db()
    assert grant.state == State.REVOKED, grant.failure_message
    assert len(grant.revoke_operation_references) == 2
    assert sim.active_grants("person", accountant.pesel) == []
    with pytest.raises(AssertionError):  # the login is refused: no rights left (415)
        sim.staff_token(accountant.pesel, client_company.nip)


def test_without_a_client_credential_nothing_is_requested(manager, accountant, client_company):
    with pytest.raises(grants.GrantError) as refused:
        grants.grant_request(
            actor=manager.user,
            client=client_company,
            staff=[accountant],
            include_office=False,
            permissions=BOTH,
        )
    assert "Prześlij je w kroku „Poświadczenia”" in refused.value.message
    assert not PermissionGrant.objects.exists()


def test_without_the_prerequisite_met_nothing_is_requested(
    sim, seal, manager, accountant, client_company
):
    Prerequisite.objects.filter(client=client_company).update(state=Prerequisite.State.TO_FILE)
    with pytest.raises(grants.GrantError) as refused:
        grants.grant_request(
            actor=manager.user,
            client=client_company,
            staff=[accountant],
            include_office=False,
            permissions=BOTH,
        )
    assert refused.value.code == "prerequisite"


def test_a_credential_without_rights_to_manage_permissions_ends_failed_in_polish(
    sim, run, office, manager, accountant, client_company
):
    # The client's authorised person has only InvoiceRead in the client's context.
    person = valid_pesel(777)
    Prerequisite.objects.filter(client=client_company).update(
        person_identifier_type="pesel", person_identifier=person
    )
    store_personal(office, client_company, person)
    from tests.ksef_simulator.helpers import grant_testdata

    grant_testdata(sim.http, client_company.nip, ("Pesel", person), ["InvoiceRead"])

    grant = _grant_to_accountant(run, manager, client_company, accountant)

    grant.refresh_from_db()
    assert grant.state == State.FAILED
    assert grant.failure_code == "420"
    assert "CredentialsManage" in grant.failure_message
    assert sim.active_grants("person", accountant.pesel) == []


def test_a_5xx_on_the_grant_post_is_looked_up_before_resending_and_grants_once(
    sim, run, seal, manager, accountant, client_company
):
    sim.faults(error_rate=1.0, path_prefix="/permissions/persons/grants")
    sim.transport.heal_faults_after_first_hit = True

    grant = _grant_to_accountant(run, manager, client_company, accountant)

    grant.refresh_from_db()
    assert grant.state == State.GRANTED, grant.failure_message
    assert sim.transport.count("POST", "/permissions/persons/grants") == 2
    # The second attempt looked the grant up first (the first answer was ambiguous).
    assert sim.transport.count("POST", "/permissions/query/persons/grants") >= 2
    assert len(sim.active_grants("person", accountant.pesel)) == 2  # one per permission


def test_a_grant_whose_answer_was_lost_is_found_and_never_sent_twice(
    sim, run, seal, manager, accountant, client_company
):
    sim.transport.lose_next_response_to = "/permissions/persons/grants"

    grant = _grant_to_accountant(run, manager, client_company, accountant)

    grant.refresh_from_db()
    assert grant.state == State.GRANTED, grant.failure_message
    assert sim.transport.count("POST", "/permissions/persons/grants") == 1
    assert grant.submission_uncertain is False
    assert set(grant.ksef_permission_ids) == set(BOTH)


def test_a_429_on_the_grant_post_is_retried_without_a_look_up(
    sim, run, seal, manager, accountant, client_company
):
    sim.faults(rate_limit_storm=1.0, storm_retry_after=1, path_prefix="/permissions/persons/grants")
    sim.transport.heal_faults_after_first_hit = True

    grant = _grant_to_accountant(run, manager, client_company, accountant)

    grant.refresh_from_db()
    assert grant.state == State.GRANTED
    assert sim.transport.count("POST", "/permissions/persons/grants") == 2
    # A 429 was not processed, so nothing needed looking up before the resend.
    lookups_before_success = sim.transport.count("POST", "/permissions/query/persons/grants")
    assert lookups_before_success == 1  # only the one after success, for the permission ids


def test_a_failing_operation_status_ends_in_a_clear_state_and_a_retry_does_not_duplicate(
    sim, run, seal, manager, accountant, client_company
):
    sim.faults(error_rate=1.0, error_status=503, path_prefix="/permissions/operations")

    grant = _grant_to_accountant(run, manager, client_company, accountant)

    grant.refresh_from_db()
    assert grant.state == State.FAILED
    assert grant.failure_code == "ksef_unavailable"
    assert "nie powstanie duplikat" in grant.failure_message
    assert sim.transport.count("POST", "/permissions/persons/grants") == 1

    sim.faults(error_rate=0.0)
    run(grants.grant_retry, actor=manager.user, grant=grant)

    grant.refresh_from_db()
    assert grant.state == State.GRANTED
    assert sim.transport.count("POST", "/permissions/persons/grants") == 1


def test_a_staff_member_without_pesel_or_nip_cannot_receive_a_grant(
    sim, seal, office, manager, client_company
):
    nobody = make_member(office, "accountant")
    with pytest.raises(grants.GrantError) as refused:
        grants.grant_request(
            actor=manager.user,
            client=client_company,
            staff=[nobody],
            include_office=False,
            permissions=BOTH,
        )
    assert refused.value.code == "no_identifier"
