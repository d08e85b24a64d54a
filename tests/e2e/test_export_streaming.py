"""The streaming export reader against the simulator: the incremental algorithm of §5.7 over
bulk-seeded invoices, and each export fault answered by its typed error."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from flask import Flask

from ksef.client import KsefClient
from ksef.crypto import sha256_b64
from ksef.errors import ExportExpired, ExportLinkExpired, ExportPartCorrupted
from ksef.models import DateType, InvoiceQueryFilters, SubjectType
from ksef.session import KsefSession
from ksef_simulator import SimulatorConfig
from ksef_simulator.bulk import bulk_seed, ground_truth
from ksef_simulator.state import State
from tests.e2e.conftest import SimulatedSleep
from tests.e2e.test_ksef_client_against_simulator import fast, log_in, seal, session_key

SELLER, BUYER = "5265877635", "6808208874"


@pytest.fixture
def simulator_config() -> SimulatorConfig:
    # Packages of 40 invoices in parts of 8 kB: truncation and many parts with little data.
    return fast(export_package_invoice_limit=40, export_part_bytes=8192)


@pytest.fixture
def buyer(ksef_client: KsefClient, sim_state: State, sim_sleep: SimulatedSleep) -> KsefSession:
    sim_state.clock.freeze()
    now = sim_state.now()
    bulk_seed(
        sim_state,
        seller_nip=SELLER,
        buyer_nip=BUYER,
        count=150,
        stored_from=now - timedelta(days=10),
        stored_to=now - timedelta(minutes=1),
        fa2_share=0.1,
        fa_rr_share=0.1,
    )
    return log_in(ksef_client, sim_state, sim_sleep, seal(BUYER))


def _filters(start: datetime) -> InvoiceQueryFilters:
    return InvoiceQueryFilters(
        subject_type=SubjectType.BUYER,
        date_from=start,
        date_type=DateType.PERMANENT_STORAGE,
        restrict_to_hwm=True,
    )


@pytest.mark.parametrize("compression", ["Zip", "TarGz"])
def test_adjacent_exports_from_the_last_date_or_the_hwm_fetch_every_invoice_once(
    compression: str, ksef_client: KsefClient, sim_state: State, buyer: KsefSession
) -> None:
    key = session_key(ksef_client, sim_state)
    start = sim_state.now() - timedelta(days=11)
    stored: dict[str, bytes] = {}
    packages = 0
    while True:
        export = buyer.call(
            ksef_client.start_invoice_export,
            _filters(start),
            public_key=key,
            compression=compression,
        )
        package = buyer.call(ksef_client.wait_for_invoice_export, export.reference_number)
        with ksef_client.open_export_package(package, export.encryption) as reader:
            rows = {row.ksef_number: row for row in reader.metadata}
            for number, xml in reader.iter_invoices():
                assert rows[number].invoice_hash
                stored.setdefault(number, xml)
        packages += 1
        if not package.is_truncated:
            break
        assert package.last_permanent_storage_date is not None
        start = package.last_permanent_storage_date

    truth = ground_truth(sim_state, BUYER, "Subject2")
    assert packages == 4
    assert set(stored) == set(truth)
    assert {n: sha256_b64(x) for n, x in stored.items()} == truth


def test_a_corrupted_part_is_reported_and_a_second_download_succeeds(
    ksef_client: KsefClient, sim_state: State, buyer: KsefSession, simulator_app: Flask
) -> None:
    control = httpx.Client(transport=httpx.WSGITransport(simulator_app), base_url="http://ksef-sim")
    export = buyer.call(
        ksef_client.start_invoice_export,
        _filters(sim_state.now() - timedelta(days=11)),
        public_key=session_key(ksef_client, sim_state),
    )
    package = buyer.call(ksef_client.wait_for_invoice_export, export.reference_number)

    control.post("/_sim/faults", json={"corrupt_part_rate": 1, "seed": 1})
    with pytest.raises(ExportPartCorrupted) as caught:
        ksef_client.open_export_package(package, export.encryption)
    control.delete("/_sim/faults")
    with ksef_client.open_export_package(package, export.encryption) as reader:
        count = sum(1 for _ in reader.iter_invoices())

    assert caught.value.ordinal_number == 1
    assert count == package.invoice_count == 40


def test_an_expired_package_and_its_dead_links_raise_their_own_errors(
    ksef_client: KsefClient, sim_state: State, buyer: KsefSession, simulator_app: Flask
) -> None:
    control = httpx.Client(transport=httpx.WSGITransport(simulator_app), base_url="http://ksef-sim")
    export = buyer.call(
        ksef_client.start_invoice_export,
        _filters(sim_state.now() - timedelta(days=11)),
        public_key=session_key(ksef_client, sim_state),
    )
    package = buyer.call(ksef_client.wait_for_invoice_export, export.reference_number)

    control.post(f"/_sim/exports/{export.reference_number}/expire")
    with pytest.raises(ExportLinkExpired) as dead_link:
        ksef_client.open_export_package(package, export.encryption)
    with pytest.raises(ExportExpired):
        buyer.call(ksef_client.wait_for_invoice_export, export.reference_number)

    assert dead_link.value.status_code == 403
