"""What the official visualisation prints for an invoice, read straight from the XML with
XPath and formatted here, independently of the renderer's code: the tests look for these
strings in our HTML and in our PDF's text."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from lxml import etree


def polish_amount(text: str) -> str:
    """ "1626.01" -> "1 626,01" (two decimals, more when written with more)."""
    value = Decimal(text)
    places = max(2, -value.as_tuple().exponent)  # type: ignore[operator]
    formatted = f"{value:,.{places}f}"
    return formatted.replace(",", " ").replace(".", ",")


def polish_quantity(text: str) -> str:
    value = Decimal(text)
    if value == value.to_integral_value():
        return f"{int(value):,}".replace(",", " ")
    return f"{value.normalize():,f}".replace(",", " ").replace(".", ",")


def polish_date(text: str) -> str:
    return date.fromisoformat(text[:10]).strftime("%d.%m.%Y")


def _texts(root: etree._Element, xpath: str) -> list[str]:
    return [squeeze(node.text) for node in root.xpath(xpath) if (node.text or "").strip()]


def _nonzero(text: str) -> bool:
    return Decimal(text) != 0


# (XPath relative to the root, formatter) of what the Ministry's layout prints for FA.
Spec = list[tuple[str, Callable[[str], str]]]
FA_VALUES: Spec = [
    ("//*[local-name()='DaneIdentyfikacyjne']/*[local-name()='NIP']", str),
    ("//*[local-name()='DaneIdentyfikacyjne']/*[local-name()='Nazwa']", str),
    ("//*[local-name()='Adres']/*[local-name()='AdresL1']", str),
    ("//*[local-name()='Adres']/*[local-name()='AdresL2']", str),
    ("//*[local-name()='Fa']/*[local-name()='P_2']", str),
    ("//*[local-name()='Fa']/*[local-name()='P_1']", polish_date),
    ("//*[local-name()='Fa']/*[local-name()='P_6']", polish_date),
    ("//*[local-name()='Fa']/*[local-name()='P_15']", polish_amount),
    ("//*[local-name()='FaWiersz']/*[local-name()='P_7']", str),
    ("//*[local-name()='FaWiersz']/*[local-name()='P_8B']", polish_quantity),
    ("//*[local-name()='FaWiersz']/*[local-name()='P_9A']", polish_amount),
    ("//*[local-name()='FaWiersz']/*[local-name()='P_9B']", polish_amount),
    ("//*[local-name()='FaWiersz']/*[local-name()='P_11']", polish_amount),
    ("//*[local-name()='FaWiersz']/*[local-name()='P_11A']", polish_amount),
    ("//*[local-name()='ZamowienieWiersz']/*[local-name()='P_7Z']", str),
    ("//*[local-name()='ZamowienieWiersz']/*[local-name()='P_11NettoZ']", polish_amount),
    ("//*[local-name()='DaneFaKorygowanej']/*[local-name()='NrFaKorygowanej']", str),
    ("//*[local-name()='DaneFaKorygowanej']/*[local-name()='NrKSeFFaKorygowanej']", str),
    ("//*[local-name()='DaneFaKorygowanej']/*[local-name()='DataWystFaKorygowanej']", polish_date),
    ("//*[local-name()='Platnosc']/*[local-name()='DataZaplaty']", polish_date),
    ("//*[local-name()='TerminPlatnosci']/*[local-name()='Termin']", polish_date),
    ("//*[local-name()='RachunekBankowy']/*[local-name()='NrRB']", str),
    ("//*[local-name()='RachunekBankowyFaktora']/*[local-name()='NrRB']", str),
    ("//*[local-name()='RachunekBankowy']/*[local-name()='SWIFT']", str),
    ("//*[local-name()='RachunekBankowy']/*[local-name()='NazwaBanku']", str),
    ("//*[local-name()='Rejestry']/*[local-name()='KRS']", str),
    ("//*[local-name()='Rejestry']/*[local-name()='REGON']", str),
]
RATE_FIELDS = [
    f"P_13_{c}" for c in ("1", "2", "3", "4", "5", "6_1", "6_2", "6_3", "7", "8", "9", "10", "11")
]
RATE_FIELDS += [f"P_14_{c}" for c in ("1", "2", "3", "4", "5")] + [f"P_14_{c}W" for c in "1234"]

FA_RR_VALUES: Spec = [
    ("//*[local-name()='DaneIdentyfikacyjne']/*[local-name()='NIP']", str),
    ("//*[local-name()='DaneIdentyfikacyjne']/*[local-name()='Nazwa']", str),
    ("//*[local-name()='Adres']/*[local-name()='AdresL1']", str),
    ("//*[local-name()='FakturaRR']/*[local-name()='P_4C']", str),
    ("//*[local-name()='FakturaRR']/*[local-name()='P_4B']", polish_date),
    ("//*[local-name()='FakturaRR']/*[local-name()='P_11_1']", polish_amount),
    ("//*[local-name()='FakturaRR']/*[local-name()='P_11_2']", polish_amount),
    ("//*[local-name()='FakturaRR']/*[local-name()='P_12_1']", polish_amount),
    ("//*[local-name()='FakturaRRWiersz']/*[local-name()='P_5']", str),
    ("//*[local-name()='FakturaRRWiersz']/*[local-name()='P_6B']", polish_quantity),
    ("//*[local-name()='FakturaRRWiersz']/*[local-name()='P_7']", polish_amount),
    ("//*[local-name()='FakturaRRWiersz']/*[local-name()='P_8']", polish_amount),
    ("//*[local-name()='FakturaRRWiersz']/*[local-name()='P_11']", polish_amount),
    ("//*[local-name()='Platnosc']//*[local-name()='NrRB']", str),
]


def at(*steps: str) -> str:
    """A root-anchored XPath over local names; "A|B" in a step matches either."""

    def step(names: str) -> str:
        return "*[" + " or ".join(f"local-name()='{n}'" for n in names.split("|")) + "]"

    return "/*/" + "/".join("/" if s == "//" else step(s) for s in steps).replace("///", "//")


LINE = "InvoiceLine|CreditNoteLine"
PARTY = "AccountingSupplierParty|AccountingCustomerParty|PayeeParty"
# The document's own level only: UBLExtensions repeat the corrected invoice's data
# (PEF_KOR), which the view lists raw under "Pozostałe dane".
PEF_VALUES: Spec = [
    (at("ID"), str),
    (at("IssueDate"), polish_date),
    (at(PARTY, "//", "PartyTaxScheme", "CompanyID"), str),
    (at(PARTY, "//", "PartyName", "Name"), str),
    (at(PARTY, "//", "PostalAddress", "StreetName"), str),
    (at(LINE, "Item", "Name"), str),
    (at(LINE, "LineExtensionAmount"), polish_amount),
    (at(LINE, "Price", "PriceAmount"), polish_amount),
    (at(LINE, "InvoicedQuantity|CreditedQuantity"), polish_quantity),
    (at("TaxTotal", "TaxSubtotal", "TaxableAmount"), polish_amount),
    (at("TaxTotal", "TaxSubtotal", "TaxAmount"), polish_amount),
    (at("LegalMonetaryTotal", "PayableAmount"), polish_amount),
    (at("PaymentMeans", "PayeeFinancialAccount", "ID"), str),
]


def printed_values(xml: bytes) -> list[str]:
    """Every value the official visualisation prints for this document, formatted."""
    root = etree.fromstring(xml)
    name = etree.QName(root).localname
    if name in ("Invoice", "CreditNote"):
        spec = PEF_VALUES
    elif root.xpath("//*[local-name()='FakturaRR']"):
        spec = FA_RR_VALUES
    else:
        spec = FA_VALUES
    values = [form(text) for xpath, form in spec for text in _texts(root, xpath)]
    if spec is FA_VALUES:
        for field in RATE_FIELDS:
            for text in _texts(root, f"//*[local-name()='Fa']/*[local-name()='{field}']"):
                if _nonzero(text):
                    values.append(polish_amount(text))
    return values


def squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def compact(text: str) -> str:
    return re.sub(r"\s+", "", text)
