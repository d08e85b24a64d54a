"""Issue #12, "limits": on KSeF's production limits the sync meets no 429 of its own.

The simulator runs the contract's production profile (metadata and exports 8/s, 16/min,
20/h per context, ...); two workers — each an engine with a limiter of its own on the one
shared store, in threads of their own — take the tasks of a full backfill and of the
incremental cycles after it. Every 429 is counted where KSeF answers it: there is none.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

import pytest

from invoices.models import SyncCursor
from invoices.sync.limiter import RateLimiter
from ksef_simulator.bulk import bulk_seed
from tests.factories import valid_nip
from tests.invoices.sync.deliveries import Deliveries
from tests.invoices.sync.support import (
    START,
    SyncSim,
    assert_matches_ground_truth,
    cursor_ids,
    make_syncsim,
    sync_client,
)


@pytest.fixture(name="prodsim")
def prodsim_fixture(settings, tmp_path) -> Iterator[SyncSim]:  # type: ignore[no-untyped-def]
    """Production limits, and packages of 100 invoices, so the backfill needs many exports."""
    yield from make_syncsim(
        settings, tmp_path, profile="production", export_package_invoice_limit=100
    )


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_production_limits_backfill_and_keep_up_without_a_single_429(
    prodsim, office
):
    sim = prodsim
    seller, buyer, third = sync_client(office), sync_client(office), sync_client(office)
    bulk_seed(
        sim.state,
        seller_nip=seller.nip,
        buyer_nip=buyer.nip,
        count=2_400,
        stored_from=START - timedelta(days=250),
        stored_to=START - timedelta(minutes=1),
    )
    bulk_seed(
        sim.state,
        seller_nip=third.nip,
        buyer_nip=valid_nip(),
        count=500,
        stored_from=START - timedelta(days=100),
        stored_to=START - timedelta(minutes=1),
        seed=2,
        number_prefix="THIRD",
    )
    ids = cursor_ids(seller, buyer, third, clock=sim.clock)
    engines = [
        sim.engine(jitter=random.Random(1).random),
        sim.engine(limiter=RateLimiter(sim.limiter.store, sim.clock), jitter=random.random),
    ]
    deliveries = Deliveries(sim.clock, ids, max_steps=9000)
    started = sim.clock.now()

    # Two dozen packages per context at the backfill's share of 20 exports an hour (the
    # incremental cycles keep 8 of them): the history takes a little over two hours.
    deliveries.run(engines, until=started + timedelta(hours=4))
    for cycle in range(4):
        bulk_seed(
            sim.state,
            seller_nip=seller.nip,
            buyer_nip=buyer.nip,
            count=150,
            stored_from=sim.clock.now() + timedelta(seconds=1),
            stored_to=sim.clock.now() + timedelta(minutes=14),
            seed=10 + cycle,
            number_prefix=f"C{cycle}",
        )
        deliveries.run(engines, until=sim.clock.now() + timedelta(minutes=15))
    deliveries.run(engines, until=sim.clock.now() + timedelta(minutes=30))

    statuses = sim.transport.statuses()
    assert statuses[429] == 0, statuses
    assert_matches_ground_truth(sim, [seller, buyer, third])
    # The limits did bind: 24+ packages of one context took more than KSeF's hourly budget
    # of 20 exports, so the workers waited for slots instead of asking.
    assert sim.transport.count("POST", "/invoices/exports") > 2 * 20
    assert deliveries.states["waiting"] > 0
    assert deliveries.errors == {}
    assert set(SyncCursor.objects.values_list("state", flat=True)) == {"idle"}
