"""Seeding: subjects with owners and office grants, invoices that behave like sent ones."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from lxml import etree

from ksef_simulator import SimulatorConfig, create_app, ksefnum, seeding
from ksef_simulator.fa3xml import extract_facts, fa3_schema
from ksef_simulator.invoices import invoices_of
from ksef_simulator.state import State
from tests.ksef_simulator.helpers import bearer, login_xades, make_credential, owner_login
from tests.ksef_simulator.invoice_support import date_filters, query

SPEC = "subjects=4,invoices=30,from=2026-07-01,to=2026-09-30,seed=9"


def test_the_spec_is_parsed_and_mistakes_are_named() -> None:
    spec = seeding.parse_spec("subjects=20,invoices=200,from=2026-01-01,to=2026-11-01,seed=1")

    assert spec == seeding.SeedSpec(20, 200, date(2026, 1, 1), date(2026, 11, 1), 1)
    for bad in (
        "subjects=x",
        "colour=red",
        "from=2026-13-01",
        "subjects=0",
        "from=2026-02-01,to=2026-01-01",
    ):
        with pytest.raises(ValueError, match="--seed"):
            seeding.parse_spec(bad)


def test_seeded_invoices_are_valid_numbered_and_consistent(sim_state: State) -> None:
    result = seeding.seed_from_spec(sim_state, SPEC)
    schema = fa3_schema()

    stored = list(invoices_of(sim_state).values())

    assert result.invoice_count == len(stored) == 120
    for invoice in stored:
        root = etree.fromstring(invoice.content)
        assert schema.validate(root), schema.error_log
        assert extract_facts(root) == invoice.facts
        assert ksefnum.is_valid(invoice.ksef_number)
        assert invoice.invoicing_date < invoice.acquisition_date < invoice.permanent_storage_date
        assert date(2026, 7, 1) <= invoice.facts.issue_date <= date(2026, 9, 30)
    kinds = {invoice.facts.kind for invoice in stored}
    assert {"VAT", "KOR", "ZAL"} <= kinds
    assert {"PLN", "EUR"} <= {invoice.facts.currency for invoice in stored}


def test_the_same_seed_gives_the_same_data() -> None:
    def numbers_and_hashes() -> list[tuple[str, str]]:
        app = create_app(SimulatorConfig(seed=SPEC))
        state: State = app.extensions["ksef_simulator"]
        return sorted((i.facts.invoice_number, i.invoice_hash) for i in invoices_of(state).values())

    assert numbers_and_hashes() == numbers_and_hashes()


def test_the_office_reads_a_client_through_its_entity_grant(
    sim: httpx.Client, sim_state: State
) -> None:
    result = seeding.seed_from_spec(sim_state, SPEC)
    client = result.subjects[1]

    office = owner_login(sim, result.office.nip).access  # logs in as the office...
    as_office = login_xades(sim, make_credential(nip=result.office.nip), client.nip).access
    rows = query(sim, as_office, date_filters("Subject1", date(2026, 7, 1), date(2026, 9, 30)))

    assert office
    assert rows.status_code == 200
    assert rows.json()["invoices"]
    assert all(r["seller"]["nip"] == client.nip for r in rows.json()["invoices"])


def test_the_owner_person_logs_in_and_sees_the_seeded_sessions(
    sim: httpx.Client, sim_state: State
) -> None:
    result = seeding.seed_from_spec(sim_state, SPEC)
    client = result.subjects[2]

    access = login_xades(sim, make_credential(pesel=client.pesel), client.nip).access
    sessions = sim.get(
        "/sessions", params={"sessionType": "Online", "pageSize": 1000}, headers=bearer(access)
    )

    assert sessions.status_code == 200
    listed = sessions.json()["sessions"]
    assert listed and all(s["status"]["code"] == 200 for s in listed)
    assert sum(s["successfulInvoiceCount"] for s in listed) == 30


def test_the_cli_seed_option_seeds_at_start_up() -> None:
    app = create_app(SimulatorConfig(seed="subjects=2,invoices=3,seed=4"))
    state: State = app.extensions["ksef_simulator"]

    assert len(invoices_of(state)) == 6
    assert len(state.subjects) == 2
