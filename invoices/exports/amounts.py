"""What a register row reads from an invoice's XML: net and VAT per rate, and the invoices a
correction corrects.

The stored columns hold the totals KSeF reported; the per-rate split exists only in the
document. Every schema KSeF stores is read here, by local element name so one walk serves
each version of a schema:

- FA(3) and FA(2): `Fa/P_13_x` (net), `P_14_x` (VAT in the invoice currency) and `P_14_xW`
  (VAT in PLN on a foreign-currency invoice), with the rate groups of the schema
  (`ksef.fa3.RATE_CODES`), and `Fa/DaneFaKorygowanej`;
- FA_RR(1): `FakturaRR/P_11_1` (value of the produce) and `P_11_2` (the flat-rate VAT
  refund), `P_11_1W`/`P_11_2W` in PLN, and its `DaneFaKorygowanej`;
- PEF (UBL Invoice / CreditNote): `cac:TaxTotal/cac:TaxSubtotal` per tax category, mapped
  onto the FA rate groups by the EN 16931 category codes (S by percent, Z, E, AE, K, G, O),
  anything else into "other"; the corrected invoice from `cac:BillingReference`.

A document that cannot be read (it should not happen: KSeF validated it) gives empty facts
rather than stopping an export of thousands of rows; the totals still come from the row.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from ksef.fa3 import RATE_CODES
from ksef.identifiers import is_valid_ksef_number

logger = logging.getLogger(__name__)

FA_RR_KEY = "rr"
OTHER_KEY = "other"
# Every column pair a register has, in order: the FA rate groups, FA_RR, other PEF rates.
RATE_KEYS: tuple[str, ...] = (*RATE_CODES, FA_RR_KEY, OTHER_KEY)
# The FA rate groups that carry VAT (P_14_x exists for them only).
VAT_RATE_KEYS: frozenset[str] = frozenset({"1", "2", "3", "4", "5", FA_RR_KEY, OTHER_KEY})

# EN 16931 VAT category code (UNCL5305) -> FA rate group; S (standard) goes by percent.
_PEF_CATEGORIES = {"Z": "6_1", "K": "6_2", "G": "6_3", "E": "7", "O": "8", "AE": "10"}
_PEF_STANDARD_PERCENT = {
    Decimal(23): "1",
    Decimal(22): "1",
    Decimal(8): "2",
    Decimal(7): "2",
    Decimal(5): "3",
}


@dataclass
class RateAmounts:
    net: Decimal | None = None
    vat: Decimal | None = None

    def add(self, net: Decimal | None, vat: Decimal | None) -> None:
        if net is not None:
            self.net = (self.net or Decimal(0)) + net
        if vat is not None:
            self.vat = (self.vat or Decimal(0)) + vat


@dataclass(frozen=True)
class CorrectedRef:
    number: str
    ksef_number: str


@dataclass
class RegisterFacts:
    rates: dict[str, RateAmounts] = field(default_factory=dict)
    # VAT in PLN (None: not stated, e.g. a foreign-currency invoice without P_14_xW).
    vat_pln: Decimal | None = None
    corrected: list[CorrectedRef] = field(default_factory=list)

    def amounts(self, key: str) -> RateAmounts:
        return self.rates.setdefault(key, RateAmounts())


_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, remove_comments=True, huge_tree=False
)


def _local(element: Any) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""  # a processing instruction
    return tag.rpartition("}")[2]


def _decimal(text: str | None) -> Decimal | None:
    if text is None or not text.strip():
        return None
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        return None


def _text(element: Any) -> str:
    return (element.text or "").strip()


def register_facts(xml: bytes, *, currency: str = "PLN") -> RegisterFacts:
    """The per-rate amounts and corrected invoices of one stored invoice's XML."""
    try:
        root = etree.fromstring(bytes(xml), _PARSER)
    except etree.XMLSyntaxError:
        logger.warning("Register: an invoice's XML could not be parsed")
        return RegisterFacts()
    if root.getroottree().docinfo.doctype:
        return RegisterFacts()  # KSeF refuses a DOCTYPE; we never expand one
    name = _local(root)
    if name in ("Invoice", "CreditNote"):
        return _pef(root, currency)
    for child in root:
        if _local(child) == "Fa":
            return _fa(child, currency)
        if _local(child) == "FakturaRR":
            return _fa_rr(child, currency)
    return RegisterFacts()


def _fa(fa: Any, currency: str) -> RegisterFacts:
    facts = RegisterFacts()
    vat_pln = Decimal(0)
    vat_pln_missing = False
    for child in fa:
        name = _local(child)
        if name.startswith("P_13_"):
            key = name[5:]
            if key in RATE_CODES:
                facts.amounts(key).add(_decimal(child.text), None)
        elif name.startswith("P_14_") and not name.endswith("W"):
            key = name[5:]
            if key in RATE_CODES:
                vat = _decimal(child.text)
                facts.amounts(key).add(None, vat)
                if currency == "PLN" and vat is not None:
                    vat_pln += vat
        elif name.startswith("P_14_") and name.endswith("W"):
            value = _decimal(child.text)
            if value is not None:
                vat_pln += value
        elif name == "DaneFaKorygowanej":
            facts.corrected.append(_corrected(child))
    if currency != "PLN":
        # VAT in PLN is stated per rate (P_14_xW) except for OSS (P_14_5), which has none.
        vat_pln_missing = any(
            amounts.vat and key != "5" and not _has(fa, f"P_14_{key}W")
            for key, amounts in facts.rates.items()
        )
    facts.vat_pln = None if vat_pln_missing else vat_pln
    return facts


def _has(parent: Any, name: str) -> bool:
    return any(_local(child) == name for child in parent)


def _fa_rr(rr: Any, currency: str) -> RegisterFacts:
    facts = RegisterFacts()
    values: dict[str, str | None] = {}
    for child in rr:
        name = _local(child)
        if name == "DaneFaKorygowanej":
            facts.corrected.append(_corrected(child))
        else:
            values[name] = child.text
    net, vat = _decimal(values.get("P_11_1")), _decimal(values.get("P_11_2"))
    if net is not None or vat is not None:
        facts.amounts(FA_RR_KEY).add(net, vat)
    facts.vat_pln = vat if currency == "PLN" else _decimal(values.get("P_11_2W"))
    return facts


def _descendants(element: Any, name: str) -> Iterator[Any]:
    for found in element.iter():
        if _local(found) == name:
            yield found


def _corrected(element: Any) -> CorrectedRef:
    number = next((_text(e) for e in _descendants(element, "NrFaKorygowanej")), "")
    ksef = next((_text(e) for e in _descendants(element, "NrKSeFFaKorygowanej")), "")
    return CorrectedRef(number=number, ksef_number=ksef)


def _pef(root: Any, currency: str) -> RegisterFacts:
    facts = RegisterFacts()
    document_currency = next(
        (_text(e) for e in root if _local(e) == "DocumentCurrencyCode"), currency
    )
    for total in (e for e in root if _local(e) == "TaxTotal"):
        amount = next((e for e in total if _local(e) == "TaxAmount"), None)
        total_currency = amount.get("currencyID", document_currency) if amount is not None else ""
        if total_currency == "PLN":
            facts.vat_pln = _decimal(amount.text if amount is not None else None)
        if total_currency != document_currency:
            continue  # the same VAT again in the tax currency (BT-111)
        for subtotal in (e for e in total if _local(e) == "TaxSubtotal"):
            _pef_subtotal(facts, subtotal)
    for reference in (e for e in root if _local(e) == "BillingReference"):
        for document in _descendants(reference, "InvoiceDocumentReference"):
            identifier = next((_text(e) for e in document if _local(e) == "ID"), "")
            if is_valid_ksef_number(identifier):
                facts.corrected.append(CorrectedRef(number="", ksef_number=identifier))
            elif identifier:
                facts.corrected.append(CorrectedRef(number=identifier, ksef_number=""))
    return facts


def _pef_subtotal(facts: RegisterFacts, subtotal: Any) -> None:
    values = {_local(e): e for e in subtotal}
    net = _decimal(values["TaxableAmount"].text) if "TaxableAmount" in values else None
    vat = _decimal(values["TaxAmount"].text) if "TaxAmount" in values else None
    category = values.get("TaxCategory")
    code, percent = "", None
    if category is not None:
        parts = {_local(e): e for e in category}
        code = _text(parts["ID"]) if "ID" in parts else ""
        percent = _decimal(parts["Percent"].text) if "Percent" in parts else None
    if code == "S":
        key = _PEF_STANDARD_PERCENT.get(percent if percent is not None else Decimal(-1), OTHER_KEY)
    else:
        key = _PEF_CATEGORIES.get(code, OTHER_KEY)
    facts.amounts(key).add(net, vat if key in VAT_RATE_KEYS else None)
