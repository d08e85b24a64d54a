"""The metadata query and invoice download, over HTTP against seeded and sent invoices."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from lxml import etree

from ksef_simulator import invoices as invoices_module
from ksef_simulator import seeding
from ksef_simulator.fa3xml import fa3_schema
from ksef_simulator.invoices import StoredInvoice
from ksef_simulator.state import State
from tests.ksef_simulator.helpers import (
    add_person,
    bearer,
    error_codes,
    grant_testdata,
    login_xades,
    make_credential,
    owner_login,
)
from tests.ksef_simulator.invoice_support import (
    SAMPLE_SELLER,
    date_filters,
    open_session,
    query,
    sample,
    send_ok,
    sha256_b64,
)

START, END = date(2026, 6, 1), date(2026, 8, 31)


@pytest.fixture
def seeded(sim_state: State) -> seeding.SeedResult:
    spec = seeding.SeedSpec(subjects=3, invoices=60, start=START, end=END, seed=5)
    return seeding.seed(sim_state, spec)


def _stored(state: State, **where: Any) -> list[StoredInvoice]:
    rows = list(invoices_module.invoices_of(state).values())
    for attribute, value in where.items():
        rows = [r for r in rows if getattr(r.facts, attribute) == value]
    return rows


def _all_pages(sim: httpx.Client, access: str, filters: dict[str, Any], **params: Any) -> list:
    found, offset = [], 0
    while True:
        page = query(sim, access, filters, pageOffset=offset, pageSize=10, **params).json()
        found += page["invoices"]
        if not page["hasMore"]:
            return found
        offset += 1


def test_sales_are_listed_page_by_page_in_issue_order(
    sim: httpx.Client, sim_state: State, seeded: seeding.SeedResult
) -> None:
    seller = seeded.subjects[1].nip
    access = owner_login(sim, seller).access

    rows = _all_pages(sim, access, date_filters("Subject1", START, END))

    expected = _stored(sim_state, seller_nip=seller)
    assert len(rows) == len(expected) == 60
    assert {r["ksefNumber"] for r in rows} == {e.ksef_number for e in expected}
    issue_dates = [r["issueDate"] for r in rows]
    assert issue_dates == sorted(issue_dates)
    assert all(r["seller"]["nip"] == seller for r in rows)


def test_descending_order_reverses_the_rows(sim: httpx.Client, seeded: seeding.SeedResult) -> None:
    access = owner_login(sim, seeded.subjects[1].nip).access
    filters = date_filters("Subject1", START, END, date_type="Invoicing")

    ascending = _all_pages(sim, access, filters, sortOrder="Asc")
    descending = _all_pages(sim, access, filters, sortOrder="Desc")

    assert [r["ksefNumber"] for r in descending] == [r["ksefNumber"] for r in ascending][::-1]


def test_purchases_are_the_invoices_naming_the_context_as_buyer(
    sim: httpx.Client, sim_state: State, seeded: seeding.SeedResult
) -> None:
    buyer = seeded.subjects[2].nip
    access = owner_login(sim, buyer).access

    rows = _all_pages(sim, access, date_filters("Subject2", START, END))

    expected = [r for r in _stored(sim_state) if r.facts.buyer.value == buyer]
    assert expected
    assert {r["ksefNumber"] for r in rows} == {e.ksef_number for e in expected}
    assert all(r["buyer"]["identifier"] == {"type": "Nip", "value": buyer} for r in rows)


def test_the_filters_the_portal_uses_narrow_the_result(
    sim: httpx.Client, sim_state: State, seeded: seeding.SeedResult
) -> None:
    seller = seeded.subjects[1].nip
    access = owner_login(sim, seller).access
    base = date_filters("Subject1", START, END)
    mine = _stored(sim_state, seller_nip=seller)
    one = mine[7]

    def ksef_numbers(**extra: Any) -> set[str]:
        return {r["ksefNumber"] for r in _all_pages(sim, access, {**base, **extra})}

    assert ksef_numbers(ksefNumber=one.ksef_number) == {one.ksef_number}
    assert ksef_numbers(invoiceNumber=one.facts.invoice_number) == {one.ksef_number}
    assert ksef_numbers(sellerNip=seller) == {r.ksef_number for r in mine}
    assert ksef_numbers(sellerNip=seeded.subjects[2].nip) == set()
    corrections = {r.ksef_number for r in mine if r.facts.kind == "KOR"}
    assert corrections and ksef_numbers(invoiceTypes=["Kor"]) == corrections
    euro = {r.ksef_number for r in mine if r.facts.currency == "EUR"}
    assert euro and ksef_numbers(currencyCodes=["EUR"]) == euro
    big = {r.ksef_number for r in mine if r.facts.gross_amount >= 5000}
    assert ksef_numbers(amount={"type": "Brutto", "from": 5000}) == big
    negative = {r.ksef_number for r in mine if r.facts.vat_amount_pln < 0}
    assert ksef_numbers(amount={"type": "Vat", "to": -0.01}) == negative
    eu_buyers = {r.ksef_number for r in mine if r.facts.buyer.type == "VatUe"}
    assert eu_buyers and ksef_numbers(buyerIdentifier={"type": "VatUe"}) == eu_buyers
    other = seeded.subjects[2].nip
    to_other = {r.ksef_number for r in mine if r.facts.buyer.value == other}
    assert ksef_numbers(buyerIdentifier={"type": "Nip", "value": other}) == to_other


def test_a_range_longer_than_three_months_is_a_validation_error(
    sim: httpx.Client, seeded: seeding.SeedResult
) -> None:
    access = owner_login(sim, seeded.subjects[1].nip).access

    too_long = query(sim, access, date_filters("Subject1", date(2026, 1, 1), date(2026, 4, 2)))
    exactly_three = query(
        sim, access, date_filters("Subject1", "2026-01-01T00:00:00", "2026-04-01T00:00:00")
    )

    assert too_long.status_code == 400 and error_codes(too_long) == [21405]
    assert exactly_three.status_code == 200


def test_the_high_water_mark_is_reported_for_permanent_storage_only(
    sim: httpx.Client, seeded: seeding.SeedResult
) -> None:
    access = owner_login(sim, seeded.subjects[1].nip).access

    storage = query(sim, access, date_filters("Subject1", START, END, "PermanentStorage")).json()
    issue = query(sim, access, date_filters("Subject1", START, END)).json()

    # For a closed period the mark is the query's own upper bound (23:59:59+01:00).
    assert storage["permanentStorageHwmDate"] == "2026-08-31T22:59:59.0000000+00:00"
    assert issue["permanentStorageHwmDate"] is None


def test_restricting_to_the_hwm_refuses_a_start_after_it(
    sim: httpx.Client, sim_state: State, seeded: seeding.SeedResult
) -> None:
    access = owner_login(sim, seeded.subjects[1].nip).access
    future = (sim_state.now() + timedelta(minutes=1)).replace(microsecond=0).isoformat()
    filters = date_filters("Subject1", future, None, "PermanentStorage")
    filters["dateRange"]["restrictToPermanentStorageHwmDate"] = True

    response = query(sim, access, filters)

    assert response.status_code == 400
    assert error_codes(response) == [21183]


def test_results_past_the_cap_are_truncated_and_resumed_from_the_last_date(
    sim: httpx.Client, sim_state: State, seeded: seeding.SeedResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real cap is 10,000 rows per filter set; 25 keeps the test fast, same algorithm.
    monkeypatch.setattr(invoices_module, "METADATA_CAP", 25)
    access = owner_login(sim, seeded.subjects[1].nip).access
    filters = date_filters("Subject1", START, END, "PermanentStorage")
    seen: dict[str, dict[str, Any]] = {}
    truncations = 0
    offset = 0
    while True:
        page = query(sim, access, filters, pageOffset=offset, pageSize=10).json()
        for row in page["invoices"]:
            seen[row["ksefNumber"]] = row
        if not page["hasMore"]:
            break
        if page["isTruncated"]:
            truncations += 1
            filters["dateRange"]["from"] = page["invoices"][-1]["permanentStorageDate"]
            offset = 0
        else:
            offset += 1

    assert truncations == 2
    assert len(seen) == 60


def test_a_truncated_page_says_so_exactly_where_the_cap_is_reached(
    sim: httpx.Client, seeded: seeding.SeedResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(invoices_module, "METADATA_CAP", 25)
    access = owner_login(sim, seeded.subjects[1].nip).access
    filters = date_filters("Subject1", START, END)

    pages = [query(sim, access, filters, pageOffset=n, pageSize=10).json() for n in range(4)]

    assert [(p["hasMore"], p["isTruncated"], len(p["invoices"])) for p in pages] == [
        (True, False, 10),
        (True, False, 10),
        (True, True, 5),
        (True, True, 0),
    ]


def test_an_invoice_downloads_as_the_exact_stored_bytes_for_seller_and_buyer(
    sim: httpx.Client, sim_state: State, seeded: seeding.SeedResult
) -> None:
    invoice = next(
        r
        for r in _stored(sim_state, seller_nip=seeded.subjects[1].nip)
        if r.facts.buyer.value == seeded.subjects[2].nip
    )
    schema = fa3_schema()

    for party in (seeded.subjects[1].nip, seeded.subjects[2].nip):
        access = owner_login(sim, party).access
        response = sim.get(f"/invoices/ksef/{invoice.ksef_number}", headers=bearer(access))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/xml")
        assert response.content == invoice.content
        assert response.headers["x-ms-meta-hash"] == sha256_b64(response.content)
        assert schema.validate(etree.fromstring(response.content))


def test_an_invoice_of_other_parties_is_not_found_and_a_bad_number_is_invalid(
    sim: httpx.Client, sim_state: State, seeded: seeding.SeedResult
) -> None:
    invoice = next(
        r
        for r in _stored(sim_state, seller_nip=seeded.subjects[1].nip)
        if r.facts.buyer.value != seeded.subjects[0].nip and not r.facts.third_subjects
    )
    stranger = owner_login(sim, seeded.subjects[0].nip).access

    hidden = sim.get(f"/invoices/ksef/{invoice.ksef_number}", headers=bearer(stranger))
    malformed = sim.get("/invoices/ksef/123-20260101-XYZ", headers=bearer(stranger))

    assert hidden.status_code == 400 and error_codes(hidden) == [21164]
    assert malformed.status_code == 400 and error_codes(malformed) == [21405]


def test_a_sent_invoice_is_listed_and_downloadable_only_once_permanently_stored(
    sim: httpx.Client, sim_state: State
) -> None:
    sim_state.config.permanent_storage_seconds = 30
    access = owner_login(sim, SAMPLE_SELLER).access
    reference, key = open_session(sim, access)
    status = send_ok(sim, access, reference, key, sample())
    today = sim_state.now().date()
    filters = date_filters("Subject1", today, today, "Invoicing")

    early_download = sim.get(f"/invoices/ksef/{status['ksefNumber']}", headers=bearer(access))
    early_rows = query(sim, access, filters).json()["invoices"]
    sim_state.clock.advance(31)
    late_status = sim.get(
        f"/sessions/{reference}/invoices/{status['referenceNumber']}", headers=bearer(access)
    ).json()
    late_download = sim.get(f"/invoices/ksef/{status['ksefNumber']}", headers=bearer(access))
    late_rows = query(sim, access, filters).json()["invoices"]

    assert status["permanentStorageDate"] is None
    assert early_download.status_code == 400 and error_codes(early_download) == [21165]
    assert early_rows == []
    assert late_status["permanentStorageDate"] > late_status["acquisitionDate"]
    assert late_download.content == sample()
    assert [row["ksefNumber"] for row in late_rows] == [status["ksefNumber"]]
    row = late_rows[0]
    assert (row["invoiceNumber"], row["grossAmount"], row["currency"]) == (
        "FV2026/02/150",
        2051,
        "PLN",
    )
    assert (row["netAmount"], row["vatAmount"]) == (1667.61, 383.38)
    assert row["invoicingMode"] == "Offline"
    assert row["invoiceType"] == "Vat" and row["formCode"]["systemCode"] == "FA (3)"


def test_reading_invoices_needs_invoice_read(sim: httpx.Client, seeded: seeding.SeedResult) -> None:
    nip = seeded.subjects[1].nip
    add_person(sim, nip, "88102341294")
    grant_testdata(sim, nip, ("Pesel", "38092277125"), ["InvoiceWrite"])
    writer = login_xades(sim, make_credential(pesel="38092277125"), nip).access

    refused = query(sim, writer, date_filters("Subject1", START, END))

    assert refused.status_code == 403
    assert refused.json()["security"]["requiredAnyOfPermissions"] == ["InvoiceRead"]
