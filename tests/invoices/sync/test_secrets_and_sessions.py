"""Secrets of the sync: the cached KSeF tokens and an export's AES key are stored only
encrypted, never logged and never passed to a task; a client is not logged in anew with
XAdES every cycle, but is once the cached login can no longer be refreshed."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta

import pytest

from certificates.models import KsefSessionTokens
from invoices.models import SyncCursor
from invoices.sync import services
from invoices.sync.runner import run_until_done
from ksef_simulator.bulk import bulk_seed
from portal import queue
from tests.certificates.test_custody import _all_rows_as_bytes
from tests.invoices.sync.support import (  # noqa: F401 - fixtures
    START,
    stored_set,
    sync_client,
    syncsim_fixture,
)

pytestmark = pytest.mark.django_db


def _seeded_client(syncsim, office, count=30):  # type: ignore[no-untyped-def]
    seller, buyer = sync_client(office), sync_client(office)
    bulk_seed(
        syncsim.state,
        seller_nip=seller.nip,
        buyer_nip=buyer.nip,
        count=count,
        stored_from=START - timedelta(days=20),
        stored_to=START - timedelta(days=1),
    )
    return seller


def _logins(syncsim) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for m, p, _ in syncsim.transport.exchanges if p == "/auth/xades-signature")


def test_tokens_and_export_keys_are_in_no_table_and_no_log_in_clear(syncsim, office, caplog):
    caplog.set_level(logging.DEBUG)
    client = _seeded_client(syncsim, office)
    engine = syncsim.engine()
    cursor = services.cursors_ensure(client, clock=syncsim.clock)[0]  # Subject1: the sales
    SyncCursor.objects.filter(pk=cursor.pk).update(next_cycle_at=START + timedelta(hours=1))

    engine.step(cursor.pk, force=True)  # the backfill window has invoices: an export starts
    cursor.refresh_from_db()
    key = bytes(cursor.export_key)
    assert cursor.export_reference and len(key) == 48
    tokens = KsefSessionTokens.objects.get(credential__client=client)
    secrets = [
        key,
        base64.b64encode(key[:32]),
        str(tokens.access_token).encode(),
        str(tokens.refresh_token).encode(),
    ]
    dump = _all_rows_as_bytes()
    for secret in secrets:
        assert secret not in dump
        assert secret not in caplog.text.encode()

    run_until_done(engine, [cursor.pk])

    assert len(stored_set(client, "Subject1")) == 30
    cursor.refresh_from_db()
    assert bytes(cursor.export_key) == b""  # the package is in: its key is gone
    for secret in secrets[2:]:
        assert secret not in caplog.text.encode()


def test_sync_tasks_are_queued_with_the_cursor_id_only(
    syncsim, office, monkeypatch, django_capture_on_commit_callbacks
):
    client = _seeded_client(syncsim, office, count=3)
    sent: list[tuple[str, tuple[object, ...]]] = []

    def record(name: str, *args: object) -> None:
        sent.append((name, args))

    monkeypatch.setattr(queue, "enqueue", record)
    monkeypatch.setattr(services, "enqueue", record)

    services.sync_schedule(clock=syncsim.clock)
    with django_capture_on_commit_callbacks(execute=True):
        services.sync_request(actor=None, client=client, clock=syncsim.clock)

    assert sent and all(name == services.STEP_TASK for name, _ in sent)
    ids = set(SyncCursor.objects.values_list("pk", flat=True))
    assert all(len(args) == 1 and args[0] in ids for _, args in sent)


def test_a_client_logs_in_once_and_later_cycles_reuse_the_session(syncsim, office):
    client = _seeded_client(syncsim, office, count=5)
    engine = syncsim.engine()
    cursors = [c.pk for c in services.cursors_ensure(client, clock=syncsim.clock)]
    run_until_done(engine, cursors)
    assert _logins(syncsim) == 1

    for _ in range(4):  # an hour of 15-minute cycles: the access token expires and refreshes
        syncsim.clock.advance(15 * 60)
        SyncCursor.objects.filter(pk__in=cursors).update(next_cycle_at=None)
        run_until_done(engine, cursors)

    assert _logins(syncsim) == 1
    refreshes = [p for m, p, s in syncsim.transport.exchanges if p == "/auth/token/refresh"]
    assert refreshes and all(s == 200 for m, p, s in syncsim.transport.exchanges if p in refreshes)


def test_a_login_whose_refresh_token_expired_is_done_again_with_the_credential(syncsim, office):
    client = _seeded_client(syncsim, office, count=5)
    engine = syncsim.engine()
    cursors = [c.pk for c in services.cursors_ensure(client, clock=syncsim.clock)]
    run_until_done(engine, cursors)

    syncsim.clock.advance(8 * 24 * 3600)  # refresh tokens live 7 days
    SyncCursor.objects.filter(pk__in=cursors).update(next_cycle_at=None)
    report = run_until_done(engine, cursors)

    assert report.failed == []
    assert _logins(syncsim) == 2
    assert stored_set(client, "Subject1") == syncsim.truth(client.nip, "Subject1")
