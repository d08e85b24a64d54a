"""fa3gen: every template yields FA(3) documents the official XSD accepts, deterministically."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from ksef_simulator.fa3gen import (
    TEMPLATES,
    Fa3Generator,
    GeneratedInvoice,
    nip_checksum_ok,
    random_nip,
)
from ksef_simulator.fa3xml import (
    FA3_NAMESPACE,
    InvoiceRejected,
    extract_facts,
    fa3_schema,
    load_schema,
    parse_and_validate,
)

NS = {"f": FA3_NAMESPACE}


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return fa3_schema()


def _invoices(seed: int, count: int) -> list[GeneratedInvoice]:
    generator = Fa3Generator(seed)
    seller = generator.party()
    made: list[GeneratedInvoice] = []
    for index in range(count):
        template = TEMPLATES[index % len(TEMPLATES)]
        corrects = made[-5] if template == "kor" and len(made) >= 5 else None
        made.append(
            generator.invoice(
                template,
                seller=seller,
                issue_date=date(2026, 1 + index % 10, 1 + index % 28),
                corrects=corrects,
                corrects_ksef_number=f"{seller.nip}-20260105-010000000ABC-00" if corrects else None,
                third_party=generator.party() if index % 9 == 0 else None,
            )
        )
    return made


def test_every_template_is_valid_against_the_official_fa3_schema(schema: etree.XMLSchema) -> None:
    for seed in (1, 2, 3):
        for invoice in _invoices(seed, 60):
            document = etree.fromstring(invoice.xml)
            assert schema.validate(document), (invoice.template, schema.error_log)


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_ones() -> None:
    first = [i.xml for i in _invoices(7, 25)]
    again = [i.xml for i in _invoices(7, 25)]
    other = [i.xml for i in _invoices(8, 25)]

    assert first == again
    assert first != other


def test_totals_add_up_and_match_what_the_parser_reads(schema: etree.XMLSchema) -> None:
    for invoice in _invoices(11, 50):
        root = parse_and_validate(invoice.xml, schema)
        facts = extract_facts(root)
        assert facts == invoice.facts()
        assert facts.gross_amount == invoice.net + invoice.vat
        assert facts.kind == invoice.kind


def test_the_foreign_template_carries_vat_converted_to_pln() -> None:
    generator = Fa3Generator(5)
    invoice = generator.invoice(
        "foreign", seller=generator.party(), issue_date=date(2026, 5, 4), currency="EUR"
    )
    fa = etree.fromstring(invoice.xml).find("f:Fa", NS)
    assert fa is not None

    assert fa.findtext("f:KodWaluty", namespaces=NS) == "EUR"
    vat = Decimal(fa.findtext("f:P_14_1", namespaces=NS) or fa.findtext("f:P_14_2", namespaces=NS))
    vat_pln = Decimal(
        fa.findtext("f:P_14_1W", namespaces=NS) or fa.findtext("f:P_14_2W", namespaces=NS)
    )
    assert vat_pln == (vat * Decimal("4.2815")).quantize(Decimal("0.01"))
    assert fa.findtext("f:FaWiersz/f:KursWaluty", namespaces=NS) == "4.2815"


def test_a_correction_names_the_corrected_invoice_and_books_the_difference() -> None:
    generator = Fa3Generator(9)
    seller = generator.party()
    original = generator.invoice("vat", seller=seller, issue_date=date(2026, 3, 2))
    ksef_number = f"{seller.nip}-20260302-0100000ABCDE-00"

    correction = generator.invoice(
        "kor",
        seller=seller,
        issue_date=date(2026, 3, 20),
        corrects=original,
        corrects_ksef_number=ksef_number,
    )
    fa = etree.fromstring(correction.xml).find("f:Fa", NS)
    assert fa is not None

    assert fa.findtext("f:RodzajFaktury", namespaces=NS) == "KOR"
    assert fa.findtext("f:DaneFaKorygowanej/f:NrFaKorygowanej", namespaces=NS) == original.number
    assert fa.findtext("f:DaneFaKorygowanej/f:NrKSeFFaKorygowanej", namespaces=NS) == ksef_number
    assert len(fa.findall("f:FaWiersz/f:StanPrzed", NS)) == len(original.lines)
    assert correction.gross < 0
    assert correction.buyer == original.buyer


def test_an_advance_invoice_lists_the_order_and_a_share_of_its_value() -> None:
    generator = Fa3Generator(4)
    invoice = generator.invoice("zal", seller=generator.party(), issue_date=date(2026, 6, 1))
    fa = etree.fromstring(invoice.xml).find("f:Fa", NS)
    assert fa is not None

    order_value = Decimal(fa.findtext("f:Zamowienie/f:WartoscZamowienia", namespaces=NS) or "0")
    assert fa.findtext("f:RodzajFaktury", namespaces=NS) == "ZAL"
    assert 0 < invoice.gross < order_value
    assert fa.findall("f:FaWiersz", NS) == []


def test_generated_nips_have_valid_checksums_and_fit_the_schema_pattern() -> None:
    import random

    rng = random.Random(3)
    for _ in range(500):
        nip = random_nip(rng)
        assert nip_checksum_ok(nip)
        assert nip[0] != "0" and nip[1:3] != "00"


@pytest.mark.parametrize(
    "name",
    [
        "mf-fa3-example-01.xml",
        "mf-fa3-example-02.xml",
        "mf-fa3-example-04.xml",
        "mf-fa3-example-07.xml",
        "mf-fa3-example-10.xml",
        "fa3-complete-example.xml",
    ],
)
def test_the_offline_resolver_validates_the_official_samples(
    schema: etree.XMLSchema, ksef_data: Path, name: str
) -> None:
    content = (ksef_data / "samples" / "invoices" / name).read_bytes()

    root = parse_and_validate(content, schema)

    assert extract_facts(root).seller_nip


def test_the_resolver_refuses_a_crd_schema_it_has_no_local_copy_of(tmp_path: Path) -> None:
    xsd = tmp_path / "needs-network.xsd"
    xsd.write_text(
        '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:x">'
        '<xsd:import namespace="urn:y" '
        'schemaLocation="http://crd.gov.pl/xml/schematy/nieistniejacy.xsd"/></xsd:schema>'
    )

    with pytest.raises((etree.XMLSchemaParseError, OSError)):
        load_schema(xsd, tmp_path)


def test_the_content_rules_reject_processing_instructions_and_control_characters(
    schema: etree.XMLSchema, ksef_data: Path
) -> None:
    content = (ksef_data / "samples" / "invoices" / "mf-fa3-example-01.xml").read_bytes()
    with_pi = content.replace(b"?>", b'?><?xml-stylesheet href="a.xsl"?>', 1)
    with_control = content.replace(b"Warszawa</P_1M>", "Warszawa\u0086</P_1M>".encode())

    for bad in (with_pi, with_control):
        with pytest.raises(InvoiceRejected) as rejected:
            parse_and_validate(bad, schema)
        assert rejected.value.code == 450
