"""The checks a client's FA(3) files pass before anything is sent to KSeF: every official
sample passes; each broken file gets its own specific Polish message (with the line and the
element for the XSD); ZIPs open with bounds; repeats within an upload and invoices KSeF
already holds are refused, in a constant number of queries."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from lxml import etree

from invoices.sending import checks
from invoices.sending.checks import InvoiceFile, check_files, unpack
from ksef import fa3
from tests.factories import make_client
from tests.invoices.documents.support import sample_bytes, sample_names, store

pytestmark = pytest.mark.django_db

FA3_SAMPLES = [
    name
    for name in sample_names()
    if etree.QName(etree.fromstring(sample_bytes(name))).namespace == fa3.FA3_NAMESPACE
]


def _as_sold_by(xml: bytes, nip: str) -> bytes:
    root = etree.fromstring(xml)
    root.find("{*}Podmiot1/{*}DaneIdentyfikacyjne/{*}NIP").text = nip
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _example(client, **replace: str) -> bytes:  # type: ignore[no-untyped-def]
    xml = _as_sold_by(sample_bytes("mf-fa3-example-01.xml"), client.nip)
    for old, new in replace.items():
        xml = xml.replace(old.encode(), new.encode(), 1)
    return xml


def _problems(client, content: bytes, name: str = "FV.xml") -> list[str]:  # type: ignore[no-untyped-def]
    with translation.override("pl"):
        return [str(p) for p in check_files(client, [InvoiceFile(name, content)])[0].problems]


@pytest.fixture
def seller(office):  # type: ignore[no-untyped-def]
    return make_client(office, name="Piekarnia Pod Lipą sp. z o.o.")


def test_the_official_samples_include_fa3_invoices():
    assert len(FA3_SAMPLES) >= 8


@pytest.mark.parametrize("name", FA3_SAMPLES)
def test_every_official_fa3_sample_sold_by_the_client_passes(seller, name):
    (checked,) = check_files(
        seller, [InvoiceFile(name, _as_sold_by(sample_bytes(name), seller.nip))]
    )

    assert checked.problems == []
    assert checked.ok and checked.number and checked.seller_nip == seller.nip


def test_the_checked_file_carries_what_the_list_of_files_shows(seller):
    (checked,) = check_files(seller, [InvoiceFile("FV.xml", _example(seller))])

    assert checked.number == "FV2026/02/150"
    assert checked.issue_date == date(2026, 2, 15)
    assert checked.currency == "PLN" and checked.gross_total is not None
    assert len(checked.invoice_hash) == 44


def test_another_seller_is_refused_naming_both_nips(seller):
    xml = _as_sold_by(sample_bytes("mf-fa3-example-01.xml"), "9999999999")

    (problem,) = _problems(seller, xml)

    assert "9999999999" in problem and seller.nip in problem
    assert "tylko faktury wystawione przez tego klienta" in problem


@pytest.mark.parametrize(
    ("replace", "expected"),
    [
        ({"<P_1>": "<P_1>x"}, "Fa/P_1: wartość „x2026-02-15” jest niedozwolona"),
        ({"<KodWaluty>PLN": "<KodWaluty>XYZ"}, "Fa/KodWaluty: wartości „XYZ” nie ma na liście"),
        (
            {"<KodWaluty>PLN</KodWaluty>": ""},
            "Fa/P_1: ten element jest tu niedozwolony; schemat FA (3) oczekuje w tym miejscu: "
            "KodWaluty.",
        ),
        ({"<P_15>": "<P_15>abc"}, "Fa/P_15: wartość „abc"),
    ],
)
def test_an_xsd_violation_is_worded_in_polish_with_its_line_and_element(seller, replace, expected):
    (problem,) = _problems(seller, _example(seller, **replace))

    assert expected in problem


def test_the_line_is_the_line_of_the_element_in_the_file(seller):
    xml = _example(seller, **{"<P_1>": "<P_1>x"})
    line = next(n for n, text in enumerate(xml.splitlines(), 1) if b"<P_1>x" in text)

    (problem,) = _problems(seller, xml)

    assert problem.startswith(f"Wiersz {line}, Fa/P_1:")


def test_a_pattern_violation_names_the_value(seller):
    root = etree.fromstring(_example(seller))
    root.find("{*}Podmiot2/{*}DaneIdentyfikacyjne/{*}NIP").text = "12"
    problems = _problems(seller, etree.tostring(root))

    assert any(
        "Podmiot2/DaneIdentyfikacyjne/NIP: wartość „12” ma niedozwolony format" in p
        for p in problems
    )


def test_a_missing_last_child_is_named(seller):
    root = etree.fromstring(_example(seller))
    adres = root.find("{*}Podmiot1/{*}Adres")
    for child in list(adres):
        adres.remove(child)

    problems = _problems(seller, etree.tostring(root))

    assert any("Podmiot1/Adres: brakuje wymaganego elementu KodKraju" in p for p in problems)


def test_a_file_breaking_many_rules_lists_the_first_ones_and_the_total(seller, monkeypatch):
    monkeypatch.setattr(checks, "MAX_PROBLEMS_PER_FILE", 1)
    root = etree.fromstring(_example(seller))
    root.find("{*}Fa/{*}KodWaluty").text = "XYZ"
    root.find("{*}Podmiot2/{*}DaneIdentyfikacyjne/{*}NIP").text = "12"

    problems = _problems(seller, etree.tostring(root))

    assert len(problems) == 2
    assert "razem: 2" in problems[1]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "Plik jest pusty."),
        (b"<Faktura><P_1>", "To nie jest poprawny dokument XML (wiersz 1)"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
            "deklarację DOCTYPE",
        ),
        (b"<Invoice xmlns='urn:x'/>", "To nie jest faktura FA (3): element główny to Invoice."),
        (
            b"<Faktura xmlns='http://crd.gov.pl/wzor/2023/06/29/12648/'/>",
            "od 1 lutego 2026 KSeF przyjmuje tylko FA (3)",
        ),
        (
            b"<a>" + b"x" * 1_000_001 + b"</a>",
            "Plik ma 1001 kB, a KSeF przyjmuje fakturę do 1000 kB",
        ),
    ],
)
def test_a_file_that_is_not_an_fa3_invoice_gets_one_specific_message(seller, content, expected):
    (problem,) = _problems(seller, content)

    assert expected in problem


def test_the_same_file_twice_and_the_same_number_twice_are_repeats(seller):
    first = _example(seller)
    renumbered_copy = first.replace(b"<P_1>2026-02-15", b"<P_1>2026-02-16", 1)

    checked = check_files(
        seller,
        [
            InvoiceFile("a.xml", first),
            InvoiceFile("b.xml", first),
            InvoiceFile("c.xml", renumbered_copy),
        ],
    )

    assert checked[0].ok
    assert [str(p) for p in checked[1].problems] == ["To ten sam plik co a.xml."]
    assert [str(p) for p in checked[2].problems] == [
        "Numer faktury FV2026/02/150 ma już plik a.xml."
    ]


def test_an_invoice_ksef_already_holds_is_refused_with_a_link(seller):
    xml = _example(seller)
    same_bytes = store(
        seller, xml, seller_nip=seller.nip, issue_date=date(2026, 2, 15), number="X/1"
    )
    other = _example(seller, **{"FV2026/02/150": "FV2026/02/151"})
    same_number = store(
        seller,
        b"<other/>",
        seller_nip=seller.nip,
        issue_date=date(2026, 2, 15),
        number="FV2026/02/151",
    )

    by_bytes, by_number = check_files(
        seller, [InvoiceFile("a.xml", xml), InvoiceFile("b.xml", other)]
    )

    assert by_bytes.duplicate_of == same_bytes.pk
    assert [str(p) for p in by_bytes.problems] == [
        f"Ta faktura jest już w KSeF pod numerem {same_bytes.ksef_number}."
    ]
    assert by_number.duplicate_of == same_number.pk
    assert "Faktura o numerze FV2026/02/151 jest już w KSeF" in str(by_number.problems[0])


def test_another_sellers_invoice_with_the_same_number_is_no_duplicate(seller, office):
    other_seller = make_client(office)
    store(
        other_seller,
        b"<x/>",
        seller_nip=other_seller.nip,
        issue_date=date(2026, 2, 15),
        number="FV2026/02/150",
    )

    (checked,) = check_files(seller, [InvoiceFile("a.xml", _example(seller))])

    assert checked.ok


def test_checking_many_files_costs_the_same_queries_as_one(seller):
    one = [InvoiceFile("a.xml", _example(seller))]
    many = [
        InvoiceFile(f"{n}.xml", _example(seller, **{"FV2026/02/150": f"FV2026/02/{n}"}))
        for n in range(30)
    ]

    with CaptureQueriesContext(connection) as few:
        check_files(seller, one)
    with CaptureQueriesContext(connection) as lots:
        check_files(seller, many)

    assert len(lots) == len(few) == 2  # KSeF's invoices, then the portal's own sends


def test_the_problems_are_rendered_in_the_readers_language(seller):
    (checked,) = check_files(seller, [InvoiceFile("a.xml", b"")])

    with translation.override("en"):
        from portal.messages import render, to_data

        assert render(to_data(checked.problems[0])) == "The file is empty."


# --------------------------------------------------------------------------- unpacking


def _zip(members: dict[str, bytes], **options) -> bytes:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, **options) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_opens_into_its_xml_files_and_names_what_it_skips():
    archive = _zip(
        {
            "styczen/FV-1.xml": b"<a/>",
            "FV-2.XML": b"<b/>",
            "opis.pdf": b"%PDF",
            "__MACOSX/._FV-1.xml": b"junk",
            ".DS_Store": b"junk",
        }
    )

    result = unpack([InvoiceFile("faktury.zip", archive), InvoiceFile("FV-3.xml", b"<c/>")])

    assert [f.name for f in result.files] == [
        "faktury.zip/styczen/FV-1.xml",
        "faktury.zip/FV-2.XML",
        "FV-3.xml",
    ]
    assert [(name, str(p)) for name, p in result.problems] == [
        ("faktury.zip/opis.pdf", "Pominięto: w archiwum liczą się tylko pliki XML.")
    ]


def test_a_broken_zip_and_a_file_of_another_kind_are_named():
    result = unpack([InvoiceFile("a.zip", b"PK\x03\x04broken"), InvoiceFile("a.pdf", b"%PDF-1.7")])

    assert result.files == []
    assert [str(p) for _, p in result.problems] == [
        "Archiwum ZIP jest uszkodzone albo niepełne.",
        "To nie plik XML ani archiwum ZIP.",
    ]


def test_a_member_larger_than_ksef_accepts_is_refused_without_being_read(monkeypatch):
    archive = _zip({"big.xml": b"<a>" + b"x" * 3_100_000 + b"</a>", "small.xml": b"<b/>"})
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spying_open(self, member, *args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(member.filename)
        return real_open(self, member, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spying_open)

    result = unpack([InvoiceFile("a.zip", archive)])

    assert opened == ["small.xml"]
    assert [f.name for f in result.files] == ["a.zip/small.xml"]
    assert "Plik ma 3101 kB, a KSeF przyjmuje fakturę do 1000 kB" in str(result.problems[0][1])


def test_an_upload_stops_at_the_file_limit_and_says_so_once(monkeypatch):
    monkeypatch.setattr(checks, "MAX_FILES", 2)
    archive = _zip({f"{n}.xml": b"<a/>" for n in range(5)})

    result = unpack([InvoiceFile("a.zip", archive), InvoiceFile("b.xml", b"<b/>")])

    assert len(result.files) == 2
    assert len(result.problems) == 1
    assert "przyjęto pierwsze 2" in str(result.problems[0][1])


def test_an_encrypted_member_is_refused_with_advice():
    archive = bytearray(_zip({"a.xml": b"<a/>"}))
    # Set the "encrypted" flag bit in the local header and the central directory entry.
    archive[6] |= 0x1
    central = archive.rfind(b"PK\x01\x02")
    archive[central + 8] |= 0x1

    result = unpack([InvoiceFile("a.zip", bytes(archive))])

    assert result.files == []
    assert "zaszyfrowany hasłem" in str(result.problems[0][1])


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_a_member_with_corrupt_compressed_data_is_named_not_a_crash(method):
    archive = bytearray(_zip_with({"a.xml": b"<a>" + b"x" * 5000 + b"</a>"}, method))
    for offset in range(40, 60):  # inside the member's compressed bytes
        archive[offset] ^= 0xFF

    result = unpack([InvoiceFile("a.zip", bytes(archive)), InvoiceFile("b.xml", b"<b/>")])

    assert [f.name for f in result.files] == ["b.xml"]
    assert [str(p) for _, p in result.problems] == [
        "Nie udało się rozpakować tego pliku z archiwum."
    ]


def _zip_with(members: dict[str, bytes], method: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()
