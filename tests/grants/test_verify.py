"""Live verification of grants, the one-time e-mail, and a staff member who leaves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from clients.models import AccessModel
from grants import departure, office_snapshot, verification
from grants import services as grants
from grants.models import GrantsCheck, OfficeGrantsSnapshot, PermissionGrant, StaffDepartureJob
from portal.models import AuditEvent
from tests.factories import make_client
from tests.grants.grants_support import (  # noqa: F401 - fixtures
    client_grants_office,
    run_fixture,
    sim_fixture,
    store_seal,
)
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
    run(verification.grants_verify_request, actor=None, client=client_company)
    grant.refresh_from_db()
    assert grant.verification == PermissionGrant.Verification.VERIFIED
    assert mail.outbox == []

    _revoke_in_the_ministrys_app(sim, client_company.nip, grant)
    run(verification.grants_verify_request, actor=None, client=client_company)
    run(verification.grants_verify_request, actor=None, client=client_company)

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

    queued = run(verification.grants_verify_all)

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

    job = run(departure.staff_departure_revoke, actor=admin_member.user, membership=accountant)

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

    job = run(departure.staff_departure_revoke, actor=admin_member.user, membership=accountant)

    job.refresh_from_db()
    assert job.results[0]["outcome"] == "failed"
    assert "Brak aktywnego poświadczenia klienta" in job.results[0]["message"]
    grant.refresh_from_db()
    assert grant.state == State.GRANTED
    assert "Nie udało się odebrać" in grant.failure_message


class WorkerLost(Exception):
    """Stands for a worker process killed mid-job (OOM, deploy, power cut)."""


def _crash_on_second_client(monkeypatch):  # type: ignore[no-untyped-def]
    real = departure._revoke_at_client
    calls: list[str] = []

    def revoke_then_die(client, client_grants):  # type: ignore[no-untyped-def]
        calls.append(client.name)
        if len(calls) == 2:
            raise WorkerLost
        return real(client, client_grants)

    monkeypatch.setattr(departure, "_revoke_at_client", revoke_then_die)
    return real


def _age_heartbeat(job: StaffDepartureJob, minutes: int) -> None:
    StaffDepartureJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_a_departure_cut_off_by_a_crash_is_taken_over_and_revokes_nothing_twice(
    sim, run, office, manager, admin_member, accountant, client_company, monkeypatch
):
    second = make_client(office, assigned=[accountant], name="Zzz Drugi sp. z o.o.")
    _granted(run, manager, client_company, [accountant])
    _granted(run, manager, second, [accountant])
    real = _crash_on_second_client(monkeypatch)

    with pytest.raises(WorkerLost):
        run(departure.staff_departure_revoke, actor=admin_member.user, membership=accountant)

    job = StaffDepartureJob.objects.get(membership=accountant)
    assert job.state == StaffDepartureJob.State.RUNNING
    assert [(r["client_name"], r["outcome"]) for r in job.results] == [
        (client_company.name, "revoked")
    ]
    started_at = job.started_at
    revocations = sim.transport.count("DELETE", "/permissions/common/grants/")
    assert revocations == 2  # both rights at the first client
    monkeypatch.setattr(departure, "_revoke_at_client", real)

    # The task is delivered again while the first worker might still be alive: hands off.
    assert departure.staff_departure_perform(job_id=job.pk) is None
    assert run(departure.staff_departures_resume) == 0

    _age_heartbeat(job, minutes=16)
    assert run(departure.staff_departures_resume) == 1

    job.refresh_from_db()
    assert job.state == StaffDepartureJob.State.DONE
    assert [(r["client_name"], r["outcome"]) for r in job.results] == [
        (client_company.name, "revoked"),
        (second.name, "revoked"),
    ]
    assert job.started_at == started_at
    assert sim.transport.count("DELETE", "/permissions/common/grants/") == revocations + 2
    assert sim.active_grants("person", accountant.pesel) == []
    finished = AuditEvent.objects.filter(action="staff.grants_revoke_finished")
    assert finished.count() == 1


def test_a_grant_left_mid_revocation_is_followed_to_its_end_without_a_second_request(
    sim, run, office, manager, admin_member, accountant, client_company, monkeypatch
):
    grant = _granted(run, manager, client_company, [accountant])
    real_wait = grants.wait_for_operation

    def die_after_sending(ctx, reference):  # type: ignore[no-untyped-def]
        raise WorkerLost  # the DELETEs went out; the worker dies waiting for the outcome

    monkeypatch.setattr(grants, "wait_for_operation", die_after_sending)
    with pytest.raises(WorkerLost):
        run(departure.staff_departure_revoke, actor=admin_member.user, membership=accountant)
    grant.refresh_from_db()
    assert grant.state == State.REVOKING
    sent = sim.transport.count("DELETE", "/permissions/common/grants/")
    assert sent == 2

    monkeypatch.setattr(grants, "wait_for_operation", real_wait)
    job = StaffDepartureJob.objects.get(membership=accountant)
    _age_heartbeat(job, minutes=16)
    run(departure.staff_departures_resume)

    job.refresh_from_db()
    grant.refresh_from_db()
    assert job.state == StaffDepartureJob.State.DONE
    assert [r["outcome"] for r in job.results] == ["revoked"]
    assert grant.state == State.REVOKED
    assert sim.transport.count("DELETE", "/permissions/common/grants/") == sent
    assert sim.active_grants("person", accountant.pesel) == []


def test_a_departure_whose_task_message_was_lost_is_queued_again(
    sim, run, office, manager, admin_member, accountant, client_company, monkeypatch
):
    _granted(run, manager, client_company, [accountant])
    from grants import tasks

    monkeypatch.setattr(tasks.staff_departure_run, "delay", lambda job_id: None)  # lost
    job = run(departure.staff_departure_revoke, actor=admin_member.user, membership=accountant)
    monkeypatch.undo()
    assert run(departure.staff_departures_resume) == 0  # queued moments ago: leave it
    StaffDepartureJob.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - timedelta(minutes=16)
    )

    assert run(departure.staff_departures_resume) == 1

    job.refresh_from_db()
    assert job.state == StaffDepartureJob.State.DONE
    assert [r["outcome"] for r in job.results] == ["revoked"]


def test_the_departure_resume_schedule_is_registered_once(db):  # type: ignore[no-untyped-def]
    from django_celery_beat.models import PeriodicTask

    (entry,) = PeriodicTask.objects.filter(task="clients.staff_departures_resume", enabled=True)
    assert (entry.interval.every, entry.interval.period) == (10, "minutes")


# --- The daily run reads the office's side once ----------------------------------------------

ENTITY_QUERY = "/permissions/query/entities/grants"
PERSONS_QUERY = "/permissions/query/persons/grants"


def _office_model_clients(sim, office, count: int) -> list:  # type: ignore[no-untyped-def]
    """`count` clients in the office model, each of which granted the office in KSeF."""
    store_seal(office, None, office.nip)
    clients = []
    for n in range(count):
        client = make_client(office, name=f"Klient biura {n:02d} sp. z o.o.")
        client.access_model = AccessModel.OFFICE
        client.save()
        client_grants_office(sim, client.nip, office.nip)
        clients.append(client)
    return clients


def _office_queries(sim) -> int:  # type: ignore[no-untyped-def]
    return sim.transport.count("POST", ENTITY_QUERY) + sim.transport.count("POST", PERSONS_QUERY)


def test_the_daily_run_reads_the_offices_grants_once_for_all_its_clients(
    sim, run, office, manager, accountant
):
    clients = _office_model_clients(sim, office, 4)
    run(verification.grants_verify_all)  # discovers each client's grant to the office
    indirect = run(
        grants.grant_request_indirect,
        actor=manager.user,
        client=clients[0],
        staff=[accountant],
        permissions=BOTH,
    )[0]
    indirect.refresh_from_db()
    assert indirect.state == State.GRANTED
    before = _office_queries(sim)

    assert run(verification.grants_verify_all) == 4

    # Two queries for the whole office (both lists fit a page), not two per client.
    assert _office_queries(sim) - before == 2
    assert OfficeGrantsSnapshot.objects.get(office=office).entity_grants
    assert set(GrantsCheck.objects.filter(scheduled=True).values_list("state", flat=True)) == {
        "done"
    }
    for client in clients:
        entity = grants.office_entity_grant(client)
        assert entity is not None and entity.verification == "verified"
    indirect.refresh_from_db()
    assert indirect.verification == PermissionGrant.Verification.VERIFIED


def test_what_a_client_revoked_shows_through_the_snapshot_as_it_would_live(
    sim, run, office, manager, accountant
):
    (client,) = _office_model_clients(sim, office, 1)
    run(verification.grants_verify_all)
    indirect = run(
        grants.grant_request_indirect,
        actor=manager.user,
        client=client,
        staff=[accountant],
        permissions=BOTH,
    )[0]
    entity = grants.office_entity_grant(client)
    assert entity is not None
    _revoke_in_the_ministrys_app(sim, client.nip, entity)

    run(verification.grants_verify_all)

    entity.refresh_from_db()
    indirect.refresh_from_db()
    assert entity.verification == PermissionGrant.Verification.REVOKED_OUTSIDE
    # The staff member's indirect grant is still listed, but works no more (Gotcha 10).
    assert indirect.verification == PermissionGrant.Verification.REVOKED_OUTSIDE
    assert "Klient odebrał biuru" in indirect.failure_message


def test_a_snapshot_that_cannot_be_read_leaves_each_check_to_read_live(sim, run, office):
    clients = _office_model_clients(sim, office, 2)
    sim.faults(error_rate=1.0, path_prefix=ENTITY_QUERY)
    sim.transport.heal_faults_after_first_hit = True  # only the snapshot's first query fails

    run(verification.grants_verify_all)

    assert not OfficeGrantsSnapshot.objects.exists()
    assert sim.transport.count("POST", ENTITY_QUERY) == 1 + len(clients)  # failed + live
    for client in clients:
        entity = grants.office_entity_grant(client)
        assert entity is not None and entity.verification == "verified"


def test_a_list_longer_than_the_cap_stores_no_snapshot(sim, run, office, monkeypatch):
    _office_model_clients(sim, office, 1)
    monkeypatch.setattr(office_snapshot, "MAX_PAGES", 0)

    assert office_snapshot.snapshot_take(office) is None
    assert not OfficeGrantsSnapshot.objects.exists()


def test_check_now_and_a_stale_snapshot_read_ksef_live(sim, run, office, manager):
    (client,) = _office_model_clients(sim, office, 1)
    run(verification.grants_verify_all)
    entity = grants.office_entity_grant(client)
    assert entity is not None
    _revoke_in_the_ministrys_app(sim, client.nip, entity)  # the snapshot does not know yet

    run(verification.grants_verify_request, actor=manager.user, client=client)
    entity.refresh_from_db()
    assert entity.verification == PermissionGrant.Verification.REVOKED_OUTSIDE

    OfficeGrantsSnapshot.objects.update(taken_at=timezone.now() - office_snapshot.MAX_AGE)
    assert office_snapshot.snapshot_fresh(office) is None


def test_under_the_production_limits_a_daily_run_over_many_clients_gets_no_429(
    sim, run, office, manager
):
    clients = _office_model_clients(sim, office, 12)
    # The office's context gets KSeF's production limits: 10/s, 30/min, 120/h per query.
    owner = owner_login(sim.http, office.nip)
    response = sim.http.post("/testdata/rate-limits/production", headers=bearer(owner.access))
    assert response.status_code == 200, response.text

    run(verification.grants_verify_all)

    assert not [e for e in sim.transport.exchanges if e[2] == 429]
    for client in clients:
        entity = grants.office_entity_grant(client)
        assert entity is not None and entity.verification == "verified"
    # The same clients checked one by one, live, as "Sprawdź teraz" does: two office
    # queries each exhaust the per-second budget well before the twelfth. The simulator's
    # clock stands still meanwhile, so a slow machine cannot spread them over seconds.
    sim.state.clock.freeze()
    for client in clients:
        run(verification.grants_verify_request, actor=manager.user, client=client)
    assert [e for e in sim.transport.exchanges if e[2] == 429]
    assert GrantsCheck.objects.filter(scheduled=False, state="failed").exists()


def test_a_permission_list_longer_than_the_page_cap_is_an_error_not_a_short_list() -> None:
    from ksef.models import PermissionPage

    endless = PermissionPage(items=("grant",), has_more=True)

    with pytest.raises(grants.GrantError) as error:
        grants.all_pages(lambda offset: endless, max_pages=3)

    assert error.value.code == "list_too_long"
    assert "nie została sprawdzona w całości" in error.value.message
    assert grants.all_pages(lambda offset: PermissionPage(("a", "b"), False)) == ["a", "b"]


def test_a_scheduled_check_waits_out_a_429_while_check_now_reports_busy(
    sim, run, office, manager, accountant, client_company
):
    grant = _granted(run, manager, client_company, [accountant])
    sim.faults(rate_limit_storm=1.0, storm_retry_after=1, path_prefix=PERSONS_QUERY)
    before = sim.transport.count("POST", PERSONS_QUERY)

    check = run(verification.grants_verify_request, actor=manager.user, client=client_company)
    check.refresh_from_db()
    assert check.state == GrantsCheck.State.FAILED
    # No retry while someone waits for the answer.
    assert sim.transport.count("POST", PERSONS_QUERY) == before + 1

    sim.transport.heal_faults_after_first_hit = True  # the next 429 is the last one
    run(verification.grants_verify_all)

    scheduled = GrantsCheck.objects.get(scheduled=True)
    assert scheduled.state == GrantsCheck.State.DONE, scheduled.message
    grant.refresh_from_db()
    assert grant.verification == PermissionGrant.Verification.VERIFIED


def test_a_grants_check_and_a_missing_grant_are_read_in_the_readers_language(
    sim, run, office, manager, accountant, client_company
):
    from django.utils import translation

    grant = _granted(run, manager, client_company, [accountant])
    _revoke_in_the_ministrys_app(sim, client_company.nip, grant)
    run(verification.grants_verify_request, actor=None, client=client_company)  # in Polish

    check = GrantsCheck.objects.filter(client=client_company).first()
    grant.refresh_from_db()
    assert check is not None
    with translation.override("en"):
        assert check.message_text.startswith("Checked in KSeF — confirmed: 0, missing: 1")
        assert "Uprawnienia nie ma" not in grant.failure_text
    with translation.override("pl"):
        assert check.message_text.startswith("Sprawdzono w KSeF — potwierdzone: 0, brakujące: 1")


def test_a_departures_per_client_report_is_read_in_the_readers_language(
    sim, run, office, manager, admin_member, accountant, client_company
):
    from django.utils import translation

    from portal.templatetags.portal_tags import stored_text

    _granted(run, manager, client_company, [accountant])
    job = run(departure.staff_departure_revoke, actor=admin_member.user, membership=accountant)
    job.refresh_from_db()

    with translation.override("en"):
        assert stored_text(job.results[0]) == "Permissions revoked: 1."
    with translation.override("pl"):
        assert stored_text(job.results[0]) == "Odebrano uprawnień: 1."
