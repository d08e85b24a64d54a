"""Issue #12, "exactly once": whatever KSeF holds for an office's clients arrives, once.

Each test compares the portal's stored set with the simulator's ground truth per client
and subject type (KSeF number -> SHA-256 of the stored XML): nothing lost, nothing twice,
nothing extra, every byte as KSeF holds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from invoices.models import ClientInvoice, Invoice, SyncCursor
from invoices.sync.runner import run_until_done
from ksef_simulator.bulk import bulk_seed
from tests.factories import valid_nip
from tests.invoices.sync.support import (
    START,
    SyncSim,
    assert_matches_ground_truth,
    cursor_ids,
    make_syncsim,
    step_budget,
    sync_client,
)

pytestmark = pytest.mark.django_db

CADENCE = 15 * 60


@pytest.fixture(name="smallsim")
def smallsim_fixture(settings, tmp_path) -> Iterator[SyncSim]:  # type: ignore[no-untyped-def]
    """KSeF with packages of 100 invoices: truncation on nearly every package."""
    yield from make_syncsim(settings, tmp_path, export_package_invoice_limit=100)


def _seed_pairs(sim: SyncSim, pairs, *, count, start, end, seed, **extra):  # type: ignore[no-untyped-def]
    for n, (seller, buyer) in enumerate(pairs):
        bulk_seed(
            sim.state,
            seller_nip=seller,
            buyer_nip=buyer,
            count=count + 17 * n,
            stored_from=start,
            stored_to=end,
            fa2_share=0.1,
            fa_rr_share=0.1,
            seed=seed * 100 + n,
            number_prefix=f"S{seed}P{n}",
            **extra,
        )


def test_eight_clients_get_history_late_arrivals_and_every_cycle_exactly_once(smallsim, office):
    sim = smallsim
    clients = [sync_client(office, name=f"Klient {n}") for n in range(8)]
    c = [client.nip for client in clients]
    outside_buyer, outside_seller = valid_nip(), valid_nip()
    # Trade inside the office (stored once, linked twice) and with firms outside it.
    pairs = [
        (c[0], c[1]),
        (c[1], c[2]),
        (c[2], c[0]),
        (c[3], c[4]),
        (c[5], outside_buyer),
        (outside_seller, c[6]),
        (c[7], c[3]),
        (c[4], c[7]),
    ]
    _seed_pairs(
        sim,
        pairs,
        count=150,
        start=START - timedelta(days=200),
        end=START - timedelta(seconds=1),
        seed=1,
    )
    engine = sim.engine()
    ids = cursor_ids(*clients, clock=sim.clock)

    report = run_until_done(engine, ids, progress=step_budget(5000))
    assert report.failed == []
    assert_matches_ground_truth(sim, clients)

    for cycle in range(2, 6):
        before = sim.clock.now()
        sim.clock.advance(CADENCE)
        # Invoices that landed in the last 15 minutes, some still landing during the run.
        _seed_pairs(
            sim,
            pairs[cycle % 4 :: 2],
            count=60,
            start=before + timedelta(seconds=1),
            end=sim.clock.now() + timedelta(minutes=2),
            seed=cycle,
        )
        if cycle == 3:
            # Late arrivals: offline invoices issued 45 days ago, stored only now.
            _seed_pairs(
                sim,
                pairs[:4],
                count=40,
                start=sim.clock.now() - timedelta(minutes=5),
                end=sim.clock.now() - timedelta(seconds=1),
                seed=30,
                issued_days_before=45,
            )
        report = run_until_done(engine, ids, progress=step_budget(2000))
        assert report.failed == []
    # A quiet cycle: KSeF's high-water mark passes everything seeded.
    sim.clock.advance(CADENCE)
    assert run_until_done(engine, ids, progress=step_budget(200)).failed == []

    sizes = assert_matches_ground_truth(sim, clients)
    assert sizes["invoices"] > 2000
    links = ClientInvoice.objects.count()
    assert links == sum(v for k, v in sizes.items() if k != "invoices") > sizes["invoices"]
    forms = set(Invoice.objects.values_list("form_code", flat=True))
    assert {"FA (2)", "FA_RR (1)", "FA (3)"} <= forms
    late = [
        invoice
        for invoice in Invoice.objects.filter(invoicing_mode="Offline")
        if (invoice.permanent_storage_date.date() - invoice.issue_date).days >= 44
    ]
    assert len(late) >= 4 * 40
    # Packages of 100 were cut again and again, and every cut resumed without a gap.
    assert sim.transport.count("POST", "/invoices/exports") > sizes["invoices"] / 100
    assert set(SyncCursor.objects.values_list("state", flat=True)) == {"idle"}


@pytest.fixture(name="ksefsim")
def ksefsim_fixture(settings, tmp_path) -> Iterator[SyncSim]:  # type: ignore[no-untyped-def]
    """KSeF with its real package limit of 10,000 invoices."""
    yield from make_syncsim(settings, tmp_path)


def test_a_window_of_more_than_ten_thousand_invoices_arrives_whole_across_truncated_packages(
    ksefsim, office
):
    sim = ksefsim
    seller = sync_client(office)
    # Ten thousand and more sales inside one 90-day history window, many to one buyer
    # outside the office; the last of them share their millisecond with others.
    bulk_seed(
        sim.state,
        seller_nip=seller.nip,
        buyer_nip=valid_nip(),
        count=10_350,
        stored_from=START - timedelta(days=30),
        stored_to=START - timedelta(days=29),
        fa2_share=0.05,
        fa_rr_share=0.05,
    )
    ids = cursor_ids(seller, clock=sim.clock)
    report = run_until_done(sim.engine(), ids, progress=step_budget(200))

    assert report.failed == []
    sizes = assert_matches_ground_truth(sim, [seller])
    assert sizes[f"{seller.nip}/Subject1"] == 10_350
    assert sim.transport.count("POST", "/invoices/exports") == 2
    cursor = SyncCursor.objects.get(client=seller, subject_type="Subject1")
    assert cursor.backfill_invoices_stored == 10_350 and cursor.state == "idle"
