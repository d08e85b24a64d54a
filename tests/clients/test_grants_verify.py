"""Live verification of grants, the one-time e-mail, and a staff member who leaves."""

from __future__ import annotations

from django.core import mail

from clients import grant_checks, grants
from clients.models import GrantsCheck, PermissionGrant, StaffDepartureJob
from tests.clients.grants_support import (  # noqa: F401 - fixtures
    run_fixture,
    sim_fixture,
    store_seal,
)
from tests.factories import make_client
from tests.ksef_simulator.helpers import bearer, owner_login

State = PermissionGrant.State
BOTH = ["InvoiceWrite", "InvoiceRead"]


def _granted(run, manager, client, staff):  # type: ignore[no-untyped-def]
    store_seal(client.office, client, client.nip)
    grant = run(
        grants.grant_request,
        actor=manager.user,
        client=client,
        staff=staff,
        include_office=False,
        permissions=BOTH,
    )[0]
    grant.refresh_from_db()
    assert grant.state == State.GRANTED
    return grant


def _revoke_in_the_ministrys_app(sim, client_nip: str, grant: PermissionGrant) -> None:  # type: ignore[no-untyped-def]
    owner = owner_login(sim.http, client_nip)
    for permission_id in grant.ksef_permission_ids.values():
        response = sim.http.delete(
            f"/permissions/common/grants/{permission_id}", headers=bearer(owner.access)
        )
        assert response.status_code == 202, response.text


def test_verification_detects_a_grant_revoked_outside_the_portal_and_notifies_once(
    sim, run, office, manager, accountant, client_company
):
    grant = _granted(run, manager, client_company, [accountant])
    run(grant_checks.grants_verify_request, actor=None, client=client_company)
    grant.refresh_from_db()
    assert grant.verification == PermissionGrant.Verification.VERIFIED
    assert mail.outbox == []

    _revoke_in_the_ministrys_app(sim, client_company.nip, grant)
    run(grant_checks.grants_verify_request, actor=None, client=client_company)
    run(grant_checks.grants_verify_request, actor=None, client=client_company)

    grant.refresh_from_db()
    assert grant.state == State.GRANTED  # the portal's record; KSeF says otherwise
    assert grant.verification == PermissionGrant.Verification.REVOKED_OUTSIDE
    assert grant.verified_at is not None
    assert grant.missing_notified_at is not None
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert set(message.to) == {accountant.user.email, manager.user.email}
    assert client_company.name in message.subject
    assert accountant.pesel in message.body
    check = GrantsCheck.objects.filter(client=client_company).first()
    assert check is not None and check.state == GrantsCheck.State.DONE
    assert "brakujące: 1" in check.message


def test_the_scheduled_run_checks_every_client_with_grants(
    sim, run, office, manager, accountant, client_company
):
    _granted(run, manager, client_company, [accountant])
    untouched = make_client(office, name="Bez uprawnień sp. z o.o.")

    queued = run(grant_checks.grants_verify_all)

    assert queued == 1
    assert GrantsCheck.objects.filter(client=client_company, state="done").count() == 1
    assert not GrantsCheck.objects.filter(client=untouched).exists()


def test_the_beat_schedule_is_registered_once(db):  # type: ignore[no-untyped-def]
    from django_celery_beat.models import PeriodicTask

    assert PeriodicTask.objects.filter(task="clients.grants_verify_all", enabled=True).count() == 1


def test_a_staff_member_who_leaves_loses_their_grants_at_every_client_with_a_report(
    sim, run, office, manager, admin_member, accountant, client_company
):
    second = make_client(office, assigned=[accountant], name="Drugi Klient sp. z o.o.")
    _granted(run, manager, client_company, [accountant])
    _granted(run, manager, second, [accountant])
    assert len(sim.active_grants("person", accountant.pesel)) == 4

    job = run(grant_checks.staff_departure_revoke, actor=admin_member.user, membership=accountant)

    job.refresh_from_db()
    assert job.state == StaffDepartureJob.State.DONE
    assert sorted(r["client_name"] for r in job.results) == sorted(
        [client_company.name, second.name]
    )
    assert {r["outcome"] for r in job.results} == {"revoked"}
    assert sim.active_grants("person", accountant.pesel) == []
    assert set(
        PermissionGrant.objects.filter(grantee_membership=accountant).values_list(
            "state", flat=True
        )
    ) == {State.REVOKED}


def test_a_departure_reports_a_client_where_revoking_failed(
    sim, run, office, manager, admin_member, accountant, client_company
):
    grant = _granted(run, manager, client_company, [accountant])
    # The client's credential was deleted meanwhile: the portal cannot log in any more.
    client_company.credentials.update(status="deleted")

    job = run(grant_checks.staff_departure_revoke, actor=admin_member.user, membership=accountant)

    job.refresh_from_db()
    assert job.results[0]["outcome"] == "failed"
    assert "Brak aktywnego poświadczenia klienta" in job.results[0]["message"]
    grant.refresh_from_db()
    assert grant.state == State.GRANTED
    assert "Nie udało się odebrać" in grant.failure_message
