"""Issue #12, "faults": KSeF failing in every way it can still leaves each invoice once.

Server errors, 429 storms, dropped connections, answers later than the client waits,
packages that expire or arrive damaged, task deliveries doubled, two workers on one
client and a worker killed mid-package: after each, the portal's stored set equals the
simulator's ground truth per client and subject type. Faults are seeded, and so is the
engine's jitter, so every run meets the same faults.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from certificates import connection as connection_module
from invoices.models import SyncCursor
from invoices.sync import services
from invoices.sync.clock import ManualClock
from invoices.sync.engine import Engine
from invoices.sync.limiter import RateLimiter
from invoices.sync.runner import run_until_done
from ksef_simulator.bulk import bulk_seed
from tests.factories import valid_nip
from tests.invoices.sync.deliveries import Deliveries
from tests.invoices.sync.live import database_read_back, database_url_for_subprocess, live_simulator
from tests.invoices.sync.support import (
    START,
    SyncSim,
    assert_matches_ground_truth,
    cursor_ids,
    limiter_for_test,
    make_syncsim,
    step_budget,
    stored_set,
    sync_client,
)

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[3]


def _big_history_and_a_pair(sim: SyncSim, office: Any, *, pair: int) -> tuple[Any, Any, Any]:
    """One client with a history over KSeF's 10,000-invoice package limit, and two clients
    of the office trading with each other (`pair` invoices, stored once, linked twice)."""
    big, seller, buyer = sync_client(office), sync_client(office), sync_client(office)
    bulk_seed(
        sim.state,
        seller_nip=big.nip,
        buyer_nip=valid_nip(),
        count=10_200,
        stored_from=START - timedelta(days=120),
        stored_to=START - timedelta(hours=1),
    )
    bulk_seed(
        sim.state,
        seller_nip=seller.nip,
        buyer_nip=buyer.nip,
        count=pair,
        stored_from=START - timedelta(days=60),
        stored_to=START - timedelta(hours=1),
        seed=2,
        number_prefix="PAIR",
    )
    return big, seller, buyer


@pytest.fixture(name="faultsim")
def faultsim_fixture(settings, tmp_path) -> Iterator[SyncSim]:  # type: ignore[no-untyped-def]
    """Packages of 250 invoices: a large history takes many packages, each a chance to fail."""
    yield from make_syncsim(settings, tmp_path, export_package_invoice_limit=250)


def test_every_fault_at_once_over_ten_thousand_invoices_loses_and_doubles_nothing(faultsim, office):
    sim = faultsim
    big, seller, buyer = _big_history_and_a_pair(sim, office, pair=400)
    ids = cursor_ids(big, seller, buyer, clock=sim.clock)
    sim.faults(
        seed=12,
        error_rate=0.05,
        rate_limit_storm=0.05,
        storm_retry_after=5,
        drop_rate=0.02,
        corrupt_part_rate=0.2,
        export_expire_on_status_call=2,
    )
    engine = sim.engine(jitter=random.Random(12).random)
    budget = step_budget(3000)

    report = run_until_done(engine, ids, max_failures=50, progress=budget)
    sim.state.faults.reset()
    sim.clock.advance(15 * 60)
    assert run_until_done(engine, ids, progress=step_budget(100)).failed == []

    assert report.failed == []
    sizes = assert_matches_ground_truth(sim, [big, seller, buyer])
    assert sizes["invoices"] == 10_600
    statuses = sim.transport.statuses()
    assert statuses[500] >= 10 and statuses[429] >= 10 and statuses[0] >= 3, statuses
    assert budget.errors["package_corrupt"] >= 5 and budget.errors["timeout"] >= 3
    expired = [e for e in sim.state.exports.values() if e.expired]
    assert len(expired) >= 3, "packages expired before the engine had them"
    assert set(SyncCursor.objects.values_list("state", flat=True)) == {"idle"}


@pytest.fixture(name="tinysim")
def tinysim_fixture(settings, tmp_path) -> Iterator[SyncSim]:  # type: ignore[no-untyped-def]
    yield from make_syncsim(settings, tmp_path, export_package_invoice_limit=100)


def test_a_hiccup_between_incremental_packages_is_not_counted_against_the_next_one(tinysim, office):
    """Consecutive failures are what turn a cursor red: a package stored in between
    means KSeF works, so one lost answer per package never shows the client failing."""
    sim = tinysim
    client = sync_client(office)
    ids = cursor_ids(client, clock=sim.clock)
    sales = SyncCursor.objects.get(client=client, subject_type="Subject1")
    bulk_seed(
        sim.state,
        seller_nip=client.nip,
        buyer_nip=valid_nip(),
        count=800,
        stored_from=START + timedelta(seconds=1),
        stored_to=START + timedelta(minutes=10),
    )
    sim.clock.advance(15 * 60)
    engine = sim.engine(jitter=lambda: 0.0)
    states, waits = [], []
    hiccuped: set[str] = set()
    for _ in range(200):
        sales.refresh_from_db()
        if sales.export_reference and sales.export_reference not in hiccuped:
            # The answer to the status call of every package is lost on the way back.
            hiccuped.add(sales.export_reference)
            sim.transport.lose_next_response_to = "/invoices/exports/"
        result = engine.step(sales.pk, force=True)
        states.append(result.state)
        if result.error_code:
            waits.append((result.next_at - sim.clock.now()).total_seconds())
        if result.next_at is None:
            break
        sim.clock.advance(max(0.0, (result.next_at - sim.clock.now()).total_seconds()))

    assert len(hiccuped) >= 8
    assert "failing" not in states
    assert max(waits) <= 30.0, waits
    assert run_until_done(engine, ids).failed == []
    assert_matches_ground_truth(sim, [client])


@pytest.fixture(name="thousandsim")
def thousandsim_fixture(settings, tmp_path) -> Iterator[SyncSim]:  # type: ignore[no-untyped-def]
    yield from make_syncsim(settings, tmp_path, export_package_invoice_limit=1000)


@pytest.mark.django_db(transaction=True)
def test_doubled_task_deliveries_taken_by_two_workers_at_once_store_each_invoice_once(
    thousandsim, office
):
    """The production path: tasks that re-queue themselves and a beat every 5 minutes,
    a third of the messages delivered twice, two workers (threads, each an engine of its
    own on the shared limiter store) taking them at once — really at once on PostgreSQL."""
    sim = thousandsim
    big, seller, buyer = _big_history_and_a_pair(sim, office, pair=300)
    ids = cursor_ids(big, seller, buyer, clock=sim.clock)
    second_worker = RateLimiter(sim.limiter.store, sim.clock)
    engines = [
        sim.engine(jitter=random.Random(1).random),
        sim.engine(limiter=second_worker, jitter=random.Random(2).random),
    ]
    deliveries = Deliveries(sim.clock, ids, duplicate_share=0.35, seed=5, max_steps=4000)

    deliveries.run(engines, until=sim.clock.now() + timedelta(hours=1))
    # New sales land while the doubled deliveries go on, and the beat picks them up.
    bulk_seed(
        sim.state,
        seller_nip=seller.nip,
        buyer_nip=buyer.nip,
        count=120,
        stored_from=sim.clock.now() + timedelta(seconds=1),
        stored_to=sim.clock.now() + timedelta(minutes=20),
        seed=3,
        number_prefix="NEW",
    )
    deliveries.run(engines, until=sim.clock.now() + timedelta(hours=1))

    sizes = assert_matches_ground_truth(sim, [big, seller, buyer])
    assert sizes["invoices"] == 10_620
    assert deliveries.duplicates >= 20 and deliveries.errors == {}
    if connection.vendor == "postgresql":
        assert deliveries.unclaimed >= 1, "the two workers never met on one cursor"
    assert set(SyncCursor.objects.values_list("state", flat=True)) == {"idle"}


def _worker_env(database_url: str, base_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings_test",
        DATABASE_URL=database_url,
        KSEF_BASE_URL=base_url,
        LOG_LEVEL="WARNING",
    )
    return env


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_package_costs_a_download_and_the_next_run_stores_it_once(
    settings, office, tmp_path
):
    with live_simulator(settings) as sim:
        client = sync_client(office)
        bulk_seed(
            sim.state,
            seller_nip=client.nip,
            buyer_nip=valid_nip(),
            count=10_300,
            stored_from=START - timedelta(days=20),
            stored_to=START - timedelta(hours=1),
        )
        ids = [c.pk for c in services.cursors_ensure(client)]
        url = database_url_for_subprocess(tmp_path)
        env = _worker_env(url, sim.base_url)
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.invoices.sync.killable_sync", *map(str, ids)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert worker.stdout is not None
        lines = []
        for line in worker.stdout:
            lines.append(line)
            if line.startswith("STORING batch 4"):
                break
        else:
            pytest.fail("the worker ended before storing a package:\n" + "".join(lines))
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(timeout=30) == -signal.SIGKILL

        database_read_back(url)
        sales = SyncCursor.objects.get(pk=ids[0])
        # The package's transaction died with the worker; the export it was storing is
        # remembered, so the next run downloads it again instead of asking KSeF anew.
        assert stored_set(client, "Subject1") == {}
        assert sales.export_reference and sales.lease_token
        exports_before = len(sim.state.exports)

        rerun = subprocess.run(
            [sys.executable, "manage.py", "sync_invoices", "--client", client.nip],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        database_read_back(url)

        sizes = assert_matches_ground_truth(sim, [client])
        assert sizes[f"{client.nip}/Subject1"] == 10_300
        assert exports_before == 1 and len(sim.state.exports) == 2


def test_a_package_that_expires_before_the_download_is_fetched_again_from_the_same_date(
    tinysim, office
):
    sim = tinysim
    client = sync_client(office)
    bulk_seed(
        sim.state,
        seller_nip=client.nip,
        buyer_nip=valid_nip(),
        count=450,
        stored_from=START - timedelta(days=10),
        stored_to=START - timedelta(hours=1),
    )
    ids = cursor_ids(client, clock=sim.clock)
    engine = sim.engine()
    expired: list[tuple[str, object]] = []
    for _ in range(40):  # expire the first and the third package KSeF prepares
        sales = SyncCursor.objects.get(pk=ids[0])
        due = sales.export_reference and len(sim.state.exports) in (1, 3) and len(expired) < 2
        if due and sales.export_reference not in {ref for ref, _ in expired}:
            assert sim.state.exports[sales.export_reference].package is not None
            response = sim.http.post(
                f"http://ksef-sim/_sim/exports/{sales.export_reference}/expire"
            )
            assert response.status_code == 200, response.text
            expired.append((sales.export_reference, sales.export_from))
        if engine.step(ids[0], force=True).next_at is None:
            break
        sim.clock.advance(1)
    assert run_until_done(engine, ids).failed == []

    assert len(expired) == 2
    assert_matches_ground_truth(sim, [client])
    parts = [p for m, p, _ in sim.transport.exchanges if p.startswith("/storage/exports/")]
    for reference, _ in expired:
        assert not any(reference in p for p in parts), "an expired package was downloaded"
    # Each expired package was asked for again from the same `from`: no gap, no skip.
    followers = list(sim.state.exports.values())
    for reference, _ in expired:
        position = [e.reference_number for e in followers].index(reference)
        assert followers[position + 1].package is not None


@pytest.mark.django_db(transaction=True)
def test_answers_later_than_the_client_waits_leave_orphan_exports_and_no_gap(
    settings, office, tmp_path, monkeypatch
):
    """Over real sockets: KSeF takes longer than the portal waits, so the portal gives up
    on requests KSeF then carries out (an export is made that nobody follows)."""
    clock = ManualClock(START)
    # The sync's KSeF client waits 0.4 s for an answer instead of 20.
    monkeypatch.setattr(connection_module, "TIMEOUT_SECONDS", 0.4)
    with live_simulator(settings, export_package_invoice_limit=100) as sim:
        sim.state.clock.follow(clock.now)
        client = sync_client(office)
        bulk_seed(
            sim.state,
            seller_nip=client.nip,
            buyer_nip=valid_nip(),
            count=350,
            stored_from=START - timedelta(days=10),
            stored_to=START - timedelta(hours=1),
        )
        ids = cursor_ids(client, clock=clock)
        engine = Engine(clock=clock, limiter=limiter_for_test(clock, tmp_path), sleep=clock.advance)
        sim.state.faults.update({"latency_ms": 1000, "path_prefix": "/invoices/exports"})
        timeouts = 0
        for _ in range(30):
            result = engine.step(ids[0], force=True)
            timeouts += result.error_code == "timeout"
            if timeouts >= 3:
                break
            clock.advance(max(1.0, ((result.next_at or clock.now()) - clock.now()).total_seconds()))
        orphans = len(sim.state.exports)
        sim.state.faults.reset()
        clock.advance(15 * 60)
        assert run_until_done(engine, ids).failed == []

        assert timeouts == 3 and orphans >= 1
        assert_matches_ground_truth(sim, [client])
