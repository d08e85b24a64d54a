"""Issue #12: a real Celery worker runs the sync chain off the broker to the last invoice.

The rest of the sync tests drive `Engine.step` themselves; here `invoices.sync_step` is
queued on the configured broker (Redis when CELERY_BROKER_URL points at it, as in CI; the
filesystem transport by default), a worker takes it, and the task re-queues itself with
countdowns — export polls, the next package, the next window — until the cursors are up
to date, against the simulator over HTTP on loopback, in real time. PostgreSQL only: SQLite's
shared-memory test database locks whole tables between the worker's and the test's connections.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from celery.result import EagerResult
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from invoices.models import InvoiceSyncState, SyncCursor
from invoices.sync import services
from ksef_simulator.bulk import bulk_seed
from portal.celery import app
from tests.invoices.sync.live import live_simulator
from tests.invoices.sync.support import assert_matches_ground_truth, stored_set, sync_client


@pytest.fixture
def sync_worker(tmp_path: Path) -> Iterator[str]:
    """A worker thread consuming a queue of its own, which sync_step's re-queues go to."""
    queue = f"test-sync-{uuid.uuid4().hex}"
    overrides: dict[str, object] = {
        "task_always_eager": False,
        "task_routes": {services.STEP_TASK: {"queue": queue}},
    }
    if django_settings.CELERY_BROKER_URL.startswith("filesystem://"):
        for folder in ("in", "processed", "control"):
            (tmp_path / folder).mkdir()
        overrides["broker_transport_options"] = {
            "data_folder_in": str(tmp_path / "in"),
            "data_folder_out": str(tmp_path / "in"),
            "processed_folder": str(tmp_path / "processed"),
            "control_folder": str(tmp_path / "control"),
        }
    saved = {key: app.conf[key] for key in overrides}
    app.conf.update(overrides)
    _forget_routes_and_producers()
    app.loader.import_default_modules()
    try:
        with start_worker(app, queues=[queue], perform_ping_check=False, shutdown_timeout=20):
            yield queue
    finally:
        app.conf.update(saved)
        _forget_routes_and_producers()


def _forget_routes_and_producers() -> None:
    # The app caches its router and producer pool on first use: drop them so the
    # re-queue inside the task routes to this test's queue on this test's broker.
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)
    app.amqp._producer_pool = None  # type: ignore[attr-defined]


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: on SQLite's shared-memory test database the worker's and the "
    "test's connections lock whole tables, and a step that meets a lock ends its chain",
)
@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_the_self_requeuing_sync_chain_until_ksef_holds_nothing_new(
    sync_worker: str, settings, office
) -> None:
    with live_simulator(settings, export_package_invoice_limit=150) as sim:
        seller, buyer = sync_client(office), sync_client(office)
        now = timezone.now()
        bulk_seed(
            sim.state,
            seller_nip=seller.nip,
            buyer_nip=buyer.nip,
            count=420,
            stored_from=now - timedelta(days=20),
            stored_to=now - timedelta(minutes=5),
            fa2_share=0.1,
            fa_rr_share=0.1,
        )
        ids = []
        for client in (seller, buyer):
            # One history window of 90 days, not the whole year: real time is slow.
            InvoiceSyncState.objects.create(
                client=client, backfill_from=(now - timedelta(days=30)).date()
            )
            ids += [cursor.pk for cursor in services.cursors_ensure(client)]

        with app.connection_for_write() as broker:
            results = [
                app.tasks[services.STEP_TASK].apply_async(
                    args=(cursor_id,),
                    queue=sync_worker,
                    connection=broker,  # type: ignore[call-arg]  # stubs lag
                )
                for cursor_id in ids
            ]
        assert not any(isinstance(r, EagerResult) for r in results), "ran inline, not via a broker"

        # The chain is over when KSeF hears nothing more from the worker.
        deadline = time.monotonic() + 150
        while not (sim.state.exports and sim.quiet_for() > 8):
            assert time.monotonic() < deadline, "the worker did not finish in 150 s"
            time.sleep(0.5)

        cursors = list(SyncCursor.objects.filter(pk__in=ids))
        assert all(c.state == "idle" and c.backfill_done for c in cursors), [
            (c.state, c.last_error_code) for c in cursors
        ]
        sizes = assert_matches_ground_truth(sim, [seller, buyer])
        assert sizes["invoices"] == 420 == len(stored_set(buyer, "Subject2"))
        # Three packages of at most 150 each way: the chain went round many times.
        assert sum(1 for e in sim.state.exports.values() if e.package) >= 6
