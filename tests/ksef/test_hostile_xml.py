"""Hostile XML against `ksef.fa3.parse` and `ksef.fa3.validate`: every document is either
read or refused with an `InvoiceParseError` (its subclass `UnsafeXmlError` for DOCTYPEs and
entities) — never another exception, never an entity expanded, never a file read."""

from __future__ import annotations

import random
import re

import pytest

from ksef import fa3
from ksef.errors import InvoiceParseError
from ksef.schemas import schema_dir
from tests.ksef.test_fa3 import sample

NS = b"http://crd.gov.pl/wzor/2025/06/25/13775/"
INVOICE = sample("mf-fa3-example-01.xml")


def _nested(depth: int) -> bytes:
    return b'<Faktura xmlns="' + NS + b'">' + b"<a>" * depth + b"</a>" * depth + b"</Faktura>"


def _cut(fraction: float) -> bytes:
    return INVOICE[: int(len(INVOICE) * fraction)]


def _flip(seed: int) -> bytes:
    data = bytearray(INVOICE)
    rng = random.Random(seed)
    for _ in range(8):
        data[rng.randrange(len(data))] = rng.choice(b"<>&\"'\x00\xff/=")
    return bytes(data)


HOSTILE = {
    "empty": b"",
    "whitespace": b"  \n ",
    "not_xml": b"NIP;nazwa\n5265877635;Firma\n",
    "binary": bytes(range(256)) * 8,
    "bom_then_garbage": b"\xef\xbb\xbf\x00\x00",
    "billion_laughs": b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        b'<!ENTITY %c "%s">' % (98 + n, b"".join(b"&%c;" % (97 + n) for _ in range(10)))
        for n in range(8)
    )
    + b']><Faktura xmlns="'
    + NS
    + b'"><Fa><P_2>&i;</P_2></Fa></Faktura>',
    "external_entity": b'<?xml version="1.0"?><!DOCTYPE F [<!ENTITY s SYSTEM "file:///etc/passwd">]>'
    b'<Faktura xmlns="' + NS + b'"><Fa><P_2>&s;</P_2></Fa></Faktura>',
    "parameter_entity": b'<?xml version="1.0"?><!DOCTYPE F [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x">%p;]>'
    b'<Faktura xmlns="' + NS + b'"/>',
    "doctype_only": b'<!DOCTYPE Faktura><Faktura xmlns="' + NS + b'"/>',
    "xinclude": b'<Faktura xmlns="' + NS + b'" xmlns:xi="http://www.w3.org/2001/XInclude">'
    b'<xi:include href="file:///etc/passwd" parse="text"/></Faktura>',
    "nested_10_thousand": _nested(10_000),
    "nested_300_thousand": _nested(300_000),
    "wrong_namespace": INVOICE.replace(NS, b"http://example.com/fa/"),
    "no_namespace": re.sub(rb'\s+xmlns="[^"]*"', b"", INVOICE),
    "fa2_namespace_with_fa3_body": INVOICE.replace(NS, b"http://crd.gov.pl/wzor/2023/06/29/12648/"),
    "latin2_declared_utf8_bytes": INVOICE.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-2"')[
        :-20
    ],
    "two_roots": INVOICE + INVOICE,
    "nul_inside": INVOICE.replace(b"<P_2>", b"<P_2>\x00", 1),
    "huge_attribute": b'<Faktura xmlns="' + NS + b'" a="' + b"x" * 2_000_000 + b'"/>',
    "huge_text_node": INVOICE.replace(b"<P_2>", b"<P_2>" + b"9" * 3_000_000, 1),
    "too_deep_for_the_schema": INVOICE.replace(b"<P_2>", b"<P_2><x><y><z/></y></x>", 1),
    **{f"cut_at_{int(f * 100)}pct": _cut(f) for f in (0.01, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 0.99)},
    **{f"damaged_{seed}": _flip(seed) for seed in range(1, 9)},
}


# Odd but legal XML: read like any other document (UTF-16 is detected from its first bytes
# whatever the declaration says; comments and processing instructions are not content).
LEGAL = {
    "utf16_with_bom": INVOICE.decode("utf-8").encode("utf-16"),
    "utf16_without_bom": INVOICE.decode("utf-8").encode("utf-16-le"),  # XML 1.0 Appendix F
    "comment_flood": INVOICE.replace(b"<Fa>", b"<Fa>" + b"<!-- x -->" * 50_000, 1),
    "processing_instruction": INVOICE.replace(b"<Fa>", b"<Fa><?php system('id'); ?>", 1),
}


@pytest.mark.parametrize("xml", list(LEGAL.values()), ids=list(LEGAL))
def test_odd_but_legal_xml_is_read_like_any_other(xml: bytes) -> None:
    assert fa3.parse(xml).number == fa3.parse(INVOICE).number
    assert fa3.validate(xml, schema_dir("fa")) == []


@pytest.mark.parametrize("xml", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_xml_is_read_or_refused_with_a_parse_error(xml: bytes) -> None:
    try:
        fa3.parse(xml)
    except InvoiceParseError as exc:
        assert "root:" not in str(exc)  # /etc/passwd never appears in a message
    try:
        errors = fa3.validate(xml, schema_dir("fa"))
    except InvoiceParseError:
        return
    assert errors, "a hostile document must not validate"


def test_the_hostile_xml_suite_has_at_least_thirty_five_documents() -> None:
    assert len(HOSTILE) >= 35
