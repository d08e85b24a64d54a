"""The grant models moved from `clients` to `grants`: a database from before the move keeps
every row. The database is taken back to the last migration before the move, filled through
the historical models of that moment, and migrated forward again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from grants.models import GrantsCheck, OfficeGrantsSnapshot, PermissionGrant, StaffDepartureJob
from tests.factories import valid_nip, valid_pesel

BEFORE_THE_MOVE = [("clients", "0005_office_grants_snapshot")]
MOMENT = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)


def _migrate(targets):  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _fill_old_database(apps) -> dict[str, int]:  # type: ignore[no-untyped-def]
    User = apps.get_model("auth", "User")
    office = apps.get_model("portal", "Office").objects.create(name="Biuro", nip=valid_nip())
    user = User.objects.create(username="ania")
    member = apps.get_model("portal", "Membership").objects.create(
        user=user, office=office, role="accountant", pesel=valid_pesel()
    )
    client = apps.get_model("clients", "Client").objects.create(
        office=office, nip=valid_nip(), name="Klient sp. z o.o.", legal_form="spzoo"
    )
    grant = apps.get_model("clients", "PermissionGrant").objects.create(
        client=client,
        grantee_kind="person",
        grantee_membership=member,
        grantee_identifier_type="Pesel",
        grantee_identifier=member.pesel,
        permissions=["InvoiceWrite", "InvoiceRead"],
        state="granted",
        ksef_permission_ids={"InvoiceRead": "p-1"},
        verification="verified",
        verified_at=MOMENT,
    )
    check = apps.get_model("clients", "GrantsCheck").objects.create(
        client=client, state="done", message="ok", scheduled=True
    )
    job = apps.get_model("clients", "StaffDepartureJob").objects.create(
        office=office,
        membership=member,
        requested_by=user,
        state="running",
        results=[{"client_id": client.pk, "outcome": "revoked"}],
        heartbeat_at=MOMENT,
    )
    snapshot = apps.get_model("clients", "OfficeGrantsSnapshot").objects.create(
        office=office, taken_at=MOMENT, entity_grants=[{"nip": client.nip}]
    )
    return {"grant": grant.pk, "check": check.pk, "job": job.pk, "snapshot": snapshot.pk}


@pytest.mark.django_db(transaction=True)
def test_grants_and_departure_jobs_of_a_database_from_before_the_move_survive_it() -> None:
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    ids = _fill_old_database(_migrate(BEFORE_THE_MOVE))

    _migrate(leaves)

    grant = PermissionGrant.objects.get(pk=ids["grant"])
    assert (grant.state, grant.verification, grant.verified_at) == ("granted", "verified", MOMENT)
    assert grant.permissions == ["InvoiceWrite", "InvoiceRead"]
    assert grant.ksef_permission_ids == {"InvoiceRead": "p-1"}
    assert grant.grantee_membership is not None and grant.client.name == "Klient sp. z o.o."
    assert GrantsCheck.objects.get(pk=ids["check"]).scheduled is True
    job = StaffDepartureJob.objects.get(pk=ids["job"])
    assert (job.state, job.heartbeat_at) == ("running", MOMENT)
    assert job.results[0]["outcome"] == "revoked"
    snapshot = OfficeGrantsSnapshot.objects.get(pk=ids["snapshot"])
    assert snapshot.entity_grants == [{"nip": grant.client.nip}]
    assert grant.client.grants.get() == grant  # the relation names on Client are the same


@pytest.mark.django_db(transaction=True)
def test_the_moved_models_keep_their_content_types_so_admin_permissions_stay_attached() -> None:
    from django.contrib.contenttypes.models import ContentType

    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    _migrate(BEFORE_THE_MOVE)
    old = ContentType.objects.get_or_create(app_label="clients", model="permissiongrant")[0]

    _migrate(leaves)

    moved = ContentType.objects.get(pk=old.pk)
    assert (moved.app_label, moved.model) == ("grants", "permissiongrant")
    assert not ContentType.objects.filter(app_label="clients", model="permissiongrant").exists()
