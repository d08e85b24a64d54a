"""Net and VAT per rate, VAT in PLN and the corrected invoices, read from the documents of
every schema KSeF stores: the official samples, and the simulator's FA(2) and FA_RR."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from invoices.exports.amounts import CorrectedRef, register_facts
from ksef.identifiers import is_valid_ksef_number
from ksef_simulator.bulk import FA2_NAMESPACE, FA3_NAMESPACE, _templates
from tests.invoices.exports.support import ksef_number, sample_xml


def _rates(xml: bytes, currency: str = "PLN") -> dict[str, tuple[Decimal | None, Decimal | None]]:
    facts = register_facts(xml, currency=currency)
    return {key: (amounts.net, amounts.vat) for key, amounts in facts.rates.items()}


def test_the_ministrys_example_01_splits_into_the_23_and_5_percent_groups():
    xml = sample_xml("mf-fa3-example-01.xml")
    assert _rates(xml) == {
        "1": (Decimal("1666.66"), Decimal("383.33")),
        "3": (Decimal("0.95"), Decimal("0.05")),
    }
    assert register_facts(xml).vat_pln == Decimal("383.38")


def test_a_correction_has_negative_amounts_and_names_the_invoice_it_corrects():
    facts = register_facts(sample_xml("mf-fa3-example-02.xml"))
    assert facts.rates["1"].net == Decimal("-162.60")
    assert facts.rates["1"].vat == Decimal("-37.40")
    assert facts.corrected == [CorrectedRef("FV2026/02/150", "9999999999-20230908-8BEF280C8D35-4D")]


def test_a_correction_of_six_invoices_lists_all_six():
    facts = register_facts(sample_xml("mf-fa3-example-07.xml"))
    assert [ref.number for ref in facts.corrected] == [
        "FV2026/01/134",
        "FV2026/02/150",
        "FV2026/03/143",
        "FV2026/04/23",
        "FV2026/05/54",
        "FV2026/06/15",
    ]
    assert all(ref.ksef_number.startswith("9999999999-") for ref in facts.corrected)


def test_fa_rr_gives_the_produce_value_and_the_flat_rate_vat_refund():
    xml = sample_xml("invoice-template-fa-rr-1.xml", nip="5265877635", buyer_nip="6808208874")
    assert _rates(xml) == {"rr": (Decimal("2000.00"), Decimal("140.00"))}
    assert register_facts(xml).vat_pln == Decimal("140.00")


def test_the_simulators_fa2_and_fa_rr_documents_are_read_like_the_official_ones():
    templates = _templates("5265877635", "6808208874", seed=1)
    fa3 = templates["FA3"][0].content
    fa2 = templates["FA2"][0].content
    assert FA2_NAMESPACE.encode() in fa2 and FA3_NAMESPACE.encode() not in fa2
    assert _rates(fa2) == _rates(fa3) != {}
    # The simulator's FA_RR root is FakturaRR itself, with the totals in an inner FakturaRR.
    rr = register_facts(templates["FA_RR"][0].content)
    assert set(rr.rates) == {"rr"} and rr.rates["rr"].net and rr.rates["rr"].vat


def test_pef_tax_subtotals_map_onto_the_rate_groups_by_category():
    xml = sample_xml("invoice-template-fa-3-pef.xml")
    rates = _rates(xml, currency="EUR")
    # S 25% is no Polish rate ("other"); E is exempt (no VAT column).
    assert rates["other"] == (Decimal("4900.00"), Decimal("1225.00"))
    assert rates["7"] == (Decimal("1000.00"), None)
    # A EUR invoice whose tax currency is SEK states no VAT in PLN.
    assert register_facts(xml, currency="EUR").vat_pln is None


def test_a_pef_correction_names_the_corrected_invoice_by_its_ksef_number():
    number = ksef_number("5265877635", date(2026, 3, 10))
    assert is_valid_ksef_number(number)
    facts = register_facts(
        sample_xml("invoice-template-fa-3-pef-correction.xml", ksef_number=number)
    )
    assert facts.corrected == [CorrectedRef("", number)]
    assert facts.rates["1"].net == Decimal("12740.00")


@pytest.mark.parametrize(
    "xml",
    [b"not xml at all", b"<Faktura/>", b'<!DOCTYPE x [<!ENTITY a "b">]><Faktura>&a;</Faktura>'],
)
def test_a_document_that_cannot_be_read_gives_empty_facts_instead_of_stopping_the_export(xml):
    facts = register_facts(xml)
    assert facts.rates == {} and facts.corrected == []
