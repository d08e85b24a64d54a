"""The sync engine against the KSeF simulator: what KSeF holds arrives, each invoice once.

Every test compares the portal's stored set, per client and subject type, with the
simulator's ground truth (KSeF number -> SHA-256 of the XML), computed from the bytes the
portal stored.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from invoices.models import ClientInvoice, Invoice, InvoiceSyncState, SyncCursor
from invoices.sync import services
from invoices.sync.runner import run_until_done
from ksef_simulator.bulk import bulk_seed
from tests.invoices.sync.support import (  # noqa: F401 - fixtures
    START,
    stored_set,
    sync_client,
    syncsim_fixture,
)

pytestmark = pytest.mark.django_db


def _cursor_ids(*clients):  # type: ignore[no-untyped-def]
    return [c.pk for client in clients for c in services.cursors_ensure(client, clock=None)]


def test_history_and_new_invoices_of_two_trading_clients_arrive_exactly_once(syncsim, office):
    seller, buyer = sync_client(office), sync_client(office)
    history = bulk_seed(
        syncsim.state,
        seller_nip=seller.nip,
        buyer_nip=buyer.nip,
        count=300,
        stored_from=START - timedelta(days=110),
        stored_to=START - timedelta(days=1),
        fa2_share=0.1,
        fa_rr_share=0.1,
    )
    engine = syncsim.engine()
    cursors = [c.pk for c in services.cursors_ensure(seller, clock=syncsim.clock)]
    cursors += [c.pk for c in services.cursors_ensure(buyer, clock=syncsim.clock)]
    fresh = bulk_seed(
        syncsim.state,
        seller_nip=seller.nip,
        buyer_nip=buyer.nip,
        count=40,
        stored_from=START + timedelta(seconds=1),
        stored_to=START + timedelta(minutes=5),
        seed=1,
        number_prefix="NEW",
    )
    syncsim.clock.advance(600)

    report = run_until_done(engine, cursors)

    assert report.failed == []
    for client, subject_type in ((seller, "Subject1"), (buyer, "Subject2")):
        assert stored_set(client, subject_type) == syncsim.truth(client.nip, subject_type)
    assert len(stored_set(seller, "Subject1")) == 340
    assert stored_set(seller, "Subject2") == {} == stored_set(buyer, "Subject1")
    # Stored once, linked twice: the buyer's purchases are the seller's sales.
    assert Invoice.objects.count() == 340
    assert ClientInvoice.objects.count() == 680
    assert {"FA (2)", "FA_RR (1)", "FA (3)"} <= set(history.forms) | set(fresh.forms)
    assert set(Invoice.objects.values_list("form_code", flat=True)) == set(history.forms) | set(
        fresh.forms
    )
    state = InvoiceSyncState.objects.get(client=seller)
    assert state.last_success_at is not None and state.last_error_code == ""
    cursor = SyncCursor.objects.get(client=seller, subject_type="Subject1")
    assert cursor.backfill_done and cursor.backfill_windows_done == cursor.backfill_windows_total
    assert cursor.state == "idle" and cursor.invoices_stored == 340
