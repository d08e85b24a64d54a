"""Failures of the sync, as the office sees them: a code rendered in plain Polish, the
client's cursor red only for a lasting trouble, no retry storm, and nothing lost."""

from __future__ import annotations

from datetime import timedelta

import pytest

from certificates.models import Credential, KsefSessionTokens
from clients.models import AccessModel
from invoices.models import InvoiceSyncState, SyncCursor
from invoices.sync import services
from invoices.sync.engine import FAILING_AFTER
from invoices.sync.messages import error_message
from invoices.sync.runner import run_until_done
from ksef_simulator.bulk import bulk_seed
from tests.grants.grants_support import store_seal
from tests.invoices.sync.support import (  # noqa: F401 - fixtures
    START,
    stored_set,
    sync_client,
    syncsim_fixture,
)
from tests.ksef_simulator.helpers import bearer, owner_login

pytestmark = pytest.mark.django_db


def _seed(syncsim, seller, buyer, count=20):  # type: ignore[no-untyped-def]
    bulk_seed(
        syncsim.state,
        seller_nip=seller.nip,
        buyer_nip=buyer.nip,
        count=count,
        stored_from=START - timedelta(days=10),
        stored_to=START - timedelta(days=1),
    )


def _sales_cursor(syncsim, client):  # type: ignore[no-untyped-def]
    return next(
        c
        for c in services.cursors_ensure(client, clock=syncsim.clock)
        if c.subject_type == "Subject1"
    )


def test_a_client_without_a_credential_is_red_with_the_reason_and_left_alone_for_hours(
    syncsim, office
):
    client = sync_client(office)
    Credential.objects.filter(client=client).update(status=Credential.Status.DELETED)
    cursor = _sales_cursor(syncsim, client)

    result = syncsim.engine().step(cursor.pk, force=True)

    cursor.refresh_from_db()
    assert (cursor.state, cursor.last_error_code, result.permanent) == (
        "failing",
        "no_credential",
        True,
    )
    assert result.next_at is not None and result.next_at - syncsim.clock.now() >= timedelta(hours=6)
    assert "Brak aktywnego poświadczenia" in error_message(cursor.last_error_code, {})
    assert InvoiceSyncState.objects.get(client=client).last_error_code == "no_credential"
    assert not syncsim.transport.exchanges  # KSeF was not even asked


def test_an_office_model_client_without_invoice_read_names_the_missing_grant(syncsim, office):
    client, other = sync_client(office), sync_client(office)
    client.access_model = AccessModel.OFFICE
    client.save(update_fields=["access_model"])
    Credential.objects.filter(client=client).delete()
    store_seal(office, None, office.nip)
    owner = owner_login(syncsim.http, client.nip)
    granted = syncsim.http.post(
        "/permissions/entities/grants",
        headers=bearer(owner.access),
        json={
            "subjectIdentifier": {"type": "Nip", "value": office.nip},
            "permissions": [{"type": "InvoiceWrite", "canDelegate": False}],
            "description": "Tylko wystawianie",
            "subjectDetails": {"fullName": "Biuro"},
        },
    )
    assert granted.status_code == 202, granted.text
    _seed(syncsim, client, other)
    cursor = _sales_cursor(syncsim, client)

    report = run_until_done(syncsim.engine(), [cursor.pk])

    cursor.refresh_from_db()
    assert report.failed and cursor.last_error_code == "no_invoice_read"
    message = error_message(cursor.last_error_code, cursor.last_error_params)
    assert "InvoiceRead" in message and client.nip in message
    assert stored_set(client, "Subject1") == {}


def test_a_failing_ksef_turns_the_cursor_red_only_after_repeated_failures_and_backs_off(
    syncsim, office
):
    seller, buyer = sync_client(office), sync_client(office)
    _seed(syncsim, seller, buyer)
    cursor = _sales_cursor(syncsim, seller)
    engine = syncsim.engine(jitter=lambda: 1.0)
    syncsim.faults(error_rate=1.0, error_status=503, path_prefix="/auth")

    delays = []
    for attempt in range(1, FAILING_AFTER + 2):
        result = engine.step(cursor.pk, force=True)
        cursor.refresh_from_db()
        assert result.error_code == "ksef_unavailable" and not result.permanent
        assert cursor.state == ("failing" if attempt >= FAILING_AFTER else "idle")
        assert result.next_at is not None
        delays.append((result.next_at - syncsim.clock.now()).total_seconds())
    assert delays == sorted(delays) and delays[-1] >= 4 * delays[0]  # exponential, no storm
    assert "HTTP 503" in error_message(cursor.last_error_code, cursor.last_error_params)

    syncsim.faults(error_rate=0.0)
    report = run_until_done(engine, [cursor.pk])

    cursor.refresh_from_db()
    assert report.failed == [] and (cursor.state, cursor.failures, cursor.last_error_code) == (
        "idle",
        0,
        "",
    )
    assert stored_set(seller, "Subject1") == syncsim.truth(seller.nip, "Subject1")
    assert InvoiceSyncState.objects.get(client=seller).last_error_code == ""


def test_a_rejected_access_token_is_renewed_once_and_the_cycle_succeeds(syncsim, office):
    seller, buyer = sync_client(office), sync_client(office)
    _seed(syncsim, seller, buyer)
    cursor = _sales_cursor(syncsim, seller)
    engine = syncsim.engine()
    run_until_done(engine, [cursor.pk])
    KsefSessionTokens.objects.filter(credential__client=seller).update(access_token="not-a-jwt")
    syncsim.clock.advance(60)  # the cached access token has not expired yet
    SyncCursor.objects.filter(pk=cursor.pk).update(next_cycle_at=None)

    report = run_until_done(engine, [cursor.pk])

    assert report.failed == []
    statuses = [s for m, p, s in syncsim.transport.exchanges if p == "/invoices/query/metadata"]
    assert statuses[-2:] == [401, 200]
    logins = [p for m, p, s in syncsim.transport.exchanges if p == "/auth/xades-signature"]
    assert len(logins) == 1  # renewed with the refresh token, not a new XAdES login
    assert stored_set(seller, "Subject1") == syncsim.truth(seller.nip, "Subject1")


def test_a_paused_client_is_not_synced_and_catches_up_once_resumed(syncsim, office, manager):
    seller, buyer = sync_client(office), sync_client(office)
    _seed(syncsim, seller, buyer)
    services.sync_pause_set(actor=manager, client=seller, paused=True)
    cursor = _sales_cursor(syncsim, seller)

    assert seller not in services.syncable_clients()
    run_until_done(syncsim.engine(), [cursor.pk])
    assert stored_set(seller, "Subject1") == {}

    services.sync_pause_set(actor=manager, client=seller, paused=False)
    run_until_done(syncsim.engine(), [cursor.pk])
    assert stored_set(seller, "Subject1") == syncsim.truth(seller.nip, "Subject1")
