"""Bulk seeding, ground truth and the HWM rules the sync engine's tests rely on."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from flask import Flask
from lxml import etree

from ksef_simulator import SimulatorConfig
from ksef_simulator.bulk import bulk_seed, ground_truth
from ksef_simulator.errors import utc_timestamp
from ksef_simulator.fa3xml import fa3_schema
from ksef_simulator.invoices import invoices_of, reported_high_water_mark
from ksef_simulator.state import State
from tests.ksef_simulator.helpers import bearer, owner_login
from tests.ksef_simulator.invoice_support import SessionKey, encryption_info, query

SELLER, BUYER = "5265877635", "6808208874"


def _control(app: Flask) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app), base_url="http://ksef-sim")


def _filters(subject_type: str, start: datetime, **date_range: Any) -> dict[str, Any]:
    return {
        "subjectType": subject_type,
        "dateRange": {"dateType": "PermanentStorage", "from": utc_timestamp(start), **date_range},
    }


def _all_rows(sim: httpx.Client, access: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for offset in range(100):
        page = query(sim, access, filters, pageSize=250, pageOffset=offset).json()
        rows += page["invoices"]
        if not page["hasMore"]:
            return rows
    raise AssertionError("more pages than expected")


def test_bulk_seeding_stores_distinct_real_documents_whose_hash_is_the_reported_one(
    sim_state: State,
) -> None:
    now = sim_state.now()
    result = bulk_seed(
        sim_state,
        seller_nip=SELLER,
        buyer_nip=BUYER,
        count=3_000,
        stored_from=now - timedelta(days=30),
        stored_to=now - timedelta(minutes=1),
        fa2_share=0.1,
        fa_rr_share=0.1,
        seed=4,
    )

    stored = [invoices_of(sim_state)[n] for n in result.ksef_numbers]
    assert len({i.content for i in stored}) == len(set(result.ksef_numbers)) == 3_000
    for invoice in stored:
        digest = base64.b64encode(hashlib.sha256(invoice.content).digest()).decode()
        assert invoice.invoice_hash == digest
        assert invoice.facts.invoice_number.encode() in invoice.content
        assert now - timedelta(days=30) <= invoice.permanent_storage_date <= now
        assert invoice.acquisition_date < invoice.permanent_storage_date
    assert set(result.forms) == {"FA (3)", "FA (2)", "FA_RR (1)"}
    assert 200 < result.forms["FA (2)"] < 400 and 200 < result.forms["FA_RR (1)"] < 400
    schema = fa3_schema()
    fa3 = [i for i in stored if i.form_code[0] == "FA (3)"][:25]
    assert all(schema.validate(etree.fromstring(i.content)) for i in fa3)


def test_an_invoice_between_two_nips_is_a_sale_for_one_and_a_purchase_for_the_other(
    sim: httpx.Client, sim_state: State
) -> None:
    now = sim_state.now()
    start = now - timedelta(days=5)
    bulk_seed(
        sim_state,
        seller_nip=SELLER,
        buyer_nip=BUYER,
        count=300,
        stored_from=start,
        stored_to=now - timedelta(minutes=1),
        fa2_share=0.2,
        fa_rr_share=0.2,
    )

    sales = _all_rows(sim, owner_login(sim, SELLER).access, _filters("Subject1", start))
    purchases = _all_rows(sim, owner_login(sim, BUYER).access, _filters("Subject2", start))
    rr_only = _all_rows(
        sim,
        owner_login(sim, BUYER).access,
        {**_filters("Subject2", start), "formType": "FA_RR"},
    )

    truth = ground_truth(sim_state, BUYER, "Subject2")
    assert {r["ksefNumber"]: r["invoiceHash"] for r in purchases} == truth
    assert (
        {r["ksefNumber"] for r in sales}
        == set(truth)
        == set(ground_truth(sim_state, SELLER, "Subject1"))
    )
    assert ground_truth(sim_state, SELLER, "Subject2") == {}
    assert {r["formCode"]["systemCode"] for r in purchases} == {"FA (3)", "FA (2)", "FA_RR (1)"}
    assert rr_only and {r["formCode"]["systemCode"] for r in rr_only} == {"FA_RR (1)"}
    assert {r["invoiceType"] for r in rr_only} == {"VatRr"}


def test_the_control_endpoints_seed_in_bulk_and_list_the_ground_truth(
    simulator_app: Flask, sim_state: State
) -> None:
    control = _control(simulator_app)
    now = sim_state.now()

    seeded = control.post(
        "/_sim/invoices/bulk",
        json={
            "sellerNip": SELLER,
            "buyerNip": BUYER,
            "count": 50,
            "storedFrom": (now - timedelta(hours=2)).isoformat(),
            "storedTo": (now - timedelta(hours=1)).isoformat(),
            "seed": 2,
        },
    )
    listed = control.get("/_sim/invoices", params={"nip": BUYER, "subjectType": "Subject2"})
    earlier = control.get(
        "/_sim/invoices",
        params={
            "nip": BUYER,
            "subjectType": "Subject2",
            "until": (now - timedelta(hours=3)).isoformat(),
        },
    )
    bad = control.post("/_sim/invoices/bulk", json={"sellerNip": SELLER})
    wrong_type = control.get("/_sim/invoices", params={"nip": BUYER, "subjectType": "Buyer"})

    assert seeded.status_code == 200 and seeded.json()["count"] == 50
    body = listed.json()
    assert body["count"] == 50
    assert {i["ksefNumber"]: i["invoiceHash"] for i in body["invoices"]} == ground_truth(
        sim_state, BUYER, "Subject2"
    )
    assert earlier.json()["count"] == 0
    assert bad.status_code == 400 and "missing" in bad.json()["error"]
    assert wrong_type.status_code == 400


def test_nothing_can_be_stored_at_or_before_a_reported_hwm_and_late_arrivals_land_after_it(
    sim: httpx.Client, simulator_app: Flask, sim_state: State
) -> None:
    sim_state.clock.freeze()
    now = sim_state.now()
    start = now - timedelta(days=2)
    bulk_seed(
        sim_state,
        seller_nip=SELLER,
        buyer_nip=BUYER,
        count=40,
        stored_from=start,
        stored_to=now - timedelta(hours=1),
    )
    access = owner_login(sim, BUYER).access
    restricted = _filters("Subject2", start, restrictToPermanentStorageHwmDate=True)
    first = query(sim, access, restricted, pageSize=250).json()
    hwm = datetime.fromisoformat(first["permanentStorageHwmDate"])
    assert reported_high_water_mark(sim_state) == hwm

    with pytest.raises(ValueError, match="HWM"):
        bulk_seed(
            sim_state,
            seller_nip=SELLER,
            buyer_nip=BUYER,
            count=1,
            stored_from=hwm,
            stored_to=hwm + timedelta(minutes=1),
            seed=9,
        )
    refused = _control(simulator_app).post(
        "/_sim/invoices/bulk",
        json={
            "sellerNip": SELLER,
            "buyerNip": BUYER,
            "count": 1,
            "storedFrom": (hwm - timedelta(hours=1)).isoformat(),
            "storedTo": hwm.isoformat(),
            "seed": 9,
        },
    )
    late = bulk_seed(
        sim_state,
        seller_nip=SELLER,
        buyer_nip=BUYER,
        count=10,
        stored_from=hwm + timedelta(milliseconds=1),
        stored_to=hwm + timedelta(minutes=10),
        issued_days_before=20,
        seed=7,
    )
    sim_state.clock.advance(11 * 60)
    again = _all_rows(sim, access, restricted)
    next_window = _all_rows(
        sim, access, _filters("Subject2", hwm, restrictToPermanentStorageHwmDate=True)
    )

    assert refused.status_code == 400
    assert len(first["invoices"]) == 40
    assert {r["ksefNumber"] for r in again} - {r["ksefNumber"] for r in first["invoices"]} == set(
        late.ksef_numbers
    )
    assert {r["ksefNumber"] for r in next_window} == set(late.ksef_numbers)
    for row in next_window:
        assert datetime.fromisoformat(row["permanentStorageDate"]) > hwm
        assert row["invoicingMode"] == "Offline"
        assert row["issueDate"] < (now - timedelta(days=15)).date().isoformat()


class TestPackagesAndTheHwm:
    @pytest.fixture
    def simulator_config(self) -> SimulatorConfig:
        return SimulatorConfig(
            profile="fast",
            jwt_secret=b"test-secret-test-secret-test-sec",
            export_package_invoice_limit=5,
        )

    def _export(
        self, sim: httpx.Client, access: str, filters: dict[str, Any]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        key = SessionKey.random()
        started = sim.post(
            "/invoices/exports",
            json={
                "encryption": encryption_info(sim, key),
                "filters": filters,
                "onlyMetadata": True,
            },
            headers=bearer(access),
        )
        reference = started.json()["referenceNumber"]
        status = sim.get(f"/invoices/exports/{reference}", headers=bearer(access)).json()
        package = status["package"]
        archive = b"".join(
            key.decrypt(sim.get(part["url"]).content)
            for part in sorted(package["parts"], key=lambda p: p["ordinalNumber"])
        )
        rows = json.loads(zipfile.ZipFile(io.BytesIO(archive)).read("_metadata.json"))
        return package, rows["invoices"]

    def test_an_export_without_to_stops_at_the_hwm_and_the_next_one_starts_there(
        self, sim: httpx.Client, sim_state: State
    ) -> None:
        sim_state.clock.freeze()
        now = sim_state.now()
        start = now - timedelta(hours=1)
        early = bulk_seed(
            sim_state, seller_nip=SELLER, buyer_nip=BUYER, count=4,
            stored_from=start, stored_to=now - timedelta(minutes=5),
        )  # fmt: skip
        pending = bulk_seed(
            sim_state, seller_nip=SELLER, buyer_nip=BUYER, count=3, seed=1,
            stored_from=now + timedelta(minutes=1), stored_to=now + timedelta(minutes=2),
        )  # fmt: skip
        access = owner_login(sim, BUYER).access
        filters = _filters("Subject2", start, restrictToPermanentStorageHwmDate=True)

        package, rows = self._export(sim, access, filters)
        hwm = package["permanentStorageHwmDate"]
        sim_state.clock.advance(5 * 60)
        access = owner_login(sim, BUYER).access
        later, later_rows = self._export(
            sim,
            access,
            _filters(
                "Subject2", datetime.fromisoformat(hwm), restrictToPermanentStorageHwmDate=True
            ),
        )

        assert package["isTruncated"] is False
        assert datetime.fromisoformat(hwm) <= now
        assert {r["ksefNumber"] for r in rows} == set(early.ksef_numbers)
        assert {r["ksefNumber"] for r in later_rows} == set(pending.ksef_numbers)
        assert later["permanentStorageHwmDate"] > hwm

    def test_a_package_cut_inside_a_timestamp_resumes_from_it_and_repeats_the_boundary(
        self, sim: httpx.Client, sim_state: State
    ) -> None:
        now = sim_state.now()
        moments = [now - timedelta(minutes=10, milliseconds=-ms) for ms in (0, 1, 2)]
        for seed, moment in enumerate(moments):
            # Four invoices share each of three timestamps; packages hold five.
            bulk_seed(
                sim_state, seller_nip=SELLER, buyer_nip=BUYER, count=4, seed=seed,
                stored_from=moment, stored_to=moment,
            )  # fmt: skip
        access = owner_login(sim, BUYER).access
        start = now - timedelta(hours=1)
        filters = _filters("Subject2", start, restrictToPermanentStorageHwmDate=True)

        seen: list[str] = []
        packages = []
        for _ in range(10):
            package, rows = self._export(sim, access, filters)
            packages.append(package)
            seen += [r["ksefNumber"] for r in rows]
            if not package["isTruncated"]:
                break
            assert package["lastPermanentStorageDate"] == rows[-1]["permanentStorageDate"]
            assert package["invoiceCount"] == len(rows) == 5
            filters["dateRange"]["from"] = package["lastPermanentStorageDate"]

        assert [p["isTruncated"] for p in packages] == [True, True, False]
        assert set(seen) == set(ground_truth(sim_state, BUYER, "Subject2"))
        assert len(set(seen)) == 12 and len(seen) == 5 + 5 + 4  # the boundary repeats
