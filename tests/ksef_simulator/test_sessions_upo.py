"""UPO documents against the official v4-3 schema."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from ksef_simulator import upo
from ksef_simulator.upo import UpoDocument, UpoHeader

NS = {"u": upo.UPO_NAMESPACE}


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return upo.upo_schema()


def _document(number: int) -> UpoDocument:
    return UpoDocument(
        seller_nip="5265877635",
        ksef_number=f"5265877635-20260916-0100A0D6{number:04X}-00",
        invoice_number=f"FA/{number}/2026",
        issue_date="2026-09-16",
        sent=datetime(2026, 9, 16, 9, 5, 40, 841000, tzinfo=UTC),
        numbered=datetime(2026, 9, 16, 9, 5, 41, 45000, tzinfo=UTC),
        invoice_hash="GZMGNVzs3krF6URKgvaw77OOeG3nJ+WGziT5xguliQ8=",
        mode="Online",
    )


TOKEN_HEADER = UpoHeader(
    session_reference="20260916-SO-9D5A28BFDA-47C899773E-5C",
    context_type="Nip",
    context_value="5265877635",
    token_reference="20260916-AU-1234567890-ABCDEF0123-45",
    auth_document_hash=None,
)


def test_an_invoice_upo_is_valid_against_the_official_schema(schema: etree.XMLSchema) -> None:
    document = etree.fromstring(upo.invoice_upo(TOKEN_HEADER, _document(1)))

    assert schema.validate(document), schema.error_log
    assert document.find("u:OpisPotwierdzenia", NS) is None
    assert document.findtext("u:Uwierzytelnienie/u:NumerReferencyjnyTokenaKSeF", namespaces=NS)
    # Warsaw local time with milliseconds, like the official samples.
    assert document.findtext("u:Dokument/u:DataPrzeslaniaDokumentu", namespaces=NS) == (
        "2026-09-16T11:05:40.841+02:00"
    )


@pytest.mark.parametrize(
    ("context_type", "value", "element"),
    [
        ("InternalId", "6824515772-12343", "IdWewnetrzny"),
        ("NipVatUe", "5265877635-ATU12345678", "IdZlozonyVatUE"),
    ],
)
def test_other_context_types_use_their_own_upo_elements(
    schema: etree.XMLSchema, context_type: str, value: str, element: str
) -> None:
    header = UpoHeader(
        session_reference=TOKEN_HEADER.session_reference,
        context_type=context_type,
        context_value=value,
        token_reference=None,
        auth_document_hash="kyqH+QUgP8ATWd/95IY632mP4uqibwG66Oqclq9+qno=",
    )

    document = etree.fromstring(upo.invoice_upo(header, _document(2)))

    assert schema.validate(document), schema.error_log
    assert (
        document.findtext(f"u:Uwierzytelnienie/u:IdKontekstu/u:{element}", namespaces=NS) == value
    )


def test_a_session_upo_is_paged_by_ten_thousand_documents(
    schema: etree.XMLSchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upo, "PAGE_SIZE", 2)
    documents = [_document(n) for n in range(1, 6)]

    pages = [etree.fromstring(page) for page in upo.session_upo_pages(TOKEN_HEADER, documents)]

    assert len(pages) == 3
    for page in pages:
        assert schema.validate(page), schema.error_log
    last = pages[-1].find("u:OpisPotwierdzenia", NS)
    assert last is not None
    assert [child.text for child in last] == ["3", "3", "5", "5", "5"]


def test_the_official_samples_differ_from_the_schema_only_in_the_receiver_name(
    schema: etree.XMLSchema, ksef_data: Path
) -> None:
    # Gotcha 25: TEST writes an environment suffix the XSD's fixed value does not allow;
    # the simulator writes the fixed value itself.
    for sample in sorted((ksef_data / "samples" / "upo").glob("*.xml")):
        document = etree.parse(str(sample))
        assert not schema.validate(document)
        name = document.find("u:NazwaPodmiotuPrzyjmujacego", NS)
        assert name is not None
        name.text = upo.RECEIVER_NAME
        assert schema.validate(document), (sample.name, schema.error_log)
