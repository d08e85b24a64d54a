"""FA(3) parsing and offline validation against the Ministry's own examples and XSD."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ksef import fa3
from ksef.errors import (
    InvoiceParseError,
    InvoiceValidationError,
    SchemaLoadError,
    UnsafeXmlError,
)
from ksef.schemas import schema_dir
from tests.conftest import KSEF_DATA_DIR

SAMPLES = KSEF_DATA_DIR / "samples" / "invoices"
SCHEMAS = schema_dir("fa")
# The digest and SOURCES.md list these as schema-valid; the templates carry #placeholders#.
VALID_SAMPLES = [
    "mf-fa3-example-01.xml",
    "mf-fa3-example-02.xml",
    "mf-fa3-example-04.xml",
    "mf-fa3-example-07.xml",
    "mf-fa3-example-10.xml",
    "fa3-complete-example.xml",
]


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def swap(xml: bytes, old: str, new: str) -> bytes:
    """A variant of an official example; every variant is validated before it is used."""
    assert old.encode() in xml, old
    changed = xml.replace(old.encode(), new.encode(), 1)
    assert fa3.validate(changed, SCHEMAS) == []
    return changed


@pytest.mark.parametrize("name", VALID_SAMPLES)
def test_every_official_valid_example_validates_against_the_offline_xsd(name: str) -> None:
    assert fa3.validate(sample(name), SCHEMAS) == []


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("invoice-template-*.xml")))
def test_templates_with_placeholders_do_not_validate(name: str) -> None:
    errors = fa3.validate(sample(name), SCHEMAS)
    assert errors
    with pytest.raises(InvoiceValidationError) as caught:
        fa3.ensure_valid(sample(name), SCHEMAS)
    assert caught.value.errors == tuple(errors)


def test_a_plain_vat_invoice_parses_to_its_parties_dates_amounts_and_lines() -> None:
    invoice = fa3.parse(sample("mf-fa3-example-01.xml"))

    assert invoice.seller.identifier == fa3.PartyIdentifier(fa3.IdentifierKind.NIP, "9999999999")
    assert invoice.seller.name == "ABC AGD sp. z o. o."
    assert invoice.buyer.identifier.value == "1111111111"
    assert invoice.buyer.name == "F.H.U. Jan Kowalski"
    assert invoice.number == "FV2026/02/150"
    assert invoice.issue_date == date(2026, 2, 15)
    assert invoice.sale_date == date(2026, 1, 27)
    assert invoice.currency == "PLN"
    assert invoice.kind == "VAT"
    assert invoice.rates == (
        fa3.RateTotal("1", Decimal("1666.66"), Decimal("383.33")),
        fa3.RateTotal("3", Decimal("0.95"), Decimal("0.05")),
    )
    assert invoice.net_total == Decimal("1667.61")
    assert invoice.vat_total == invoice.vat_total_pln == Decimal("383.38")
    assert invoice.gross_total == Decimal("2051")
    assert [line.name for line in invoice.lines] == [
        "lodówka Zimnotech mk1",
        "wniesienie sprzętu",
        "promocja lodówka pełna mleka",
    ]
    first = invoice.lines[0]
    assert (first.number, first.unit, first.quantity) == (1, "szt.", Decimal("1"))
    assert (first.unit_net_price, first.net_value, first.vat_rate) == (
        Decimal("1626.01"),
        Decimal("1626.01"),
        "23",
    )
    assert invoice.lines[2].vat_rate == "5"
    assert invoice.payment == fa3.Payment(
        paid=True,
        payment_date=date(2026, 1, 27),
        terms=(),
        form=6,
        other_form=None,
        bank_accounts=(),
        ip_ksef=None,
    )
    assert not invoice.is_correction


def test_a_correction_invoice_carries_the_corrected_invoice_reason_and_negative_amounts() -> None:
    invoice = fa3.parse(sample("mf-fa3-example-02.xml"))

    assert invoice.kind == "KOR" and invoice.is_correction
    assert invoice.number == "FK2026/03/200"
    assert invoice.correction_reason == "obniżka ceny o 200 zł z uwagi na uszkodzenia estetyczne"
    assert invoice.correction_type == 3
    assert invoice.corrected_invoices == (
        fa3.CorrectedInvoice(
            issue_date=date(2026, 2, 15),
            number="FV2026/02/150",
            ksef_number="9999999999-20230908-8BEF280C8D35-4D",
        ),
    )
    assert invoice.net_total == Decimal("-162.60")
    assert invoice.vat_total == Decimal("-37.40")
    assert invoice.gross_total == Decimal("-200")
    before, after = invoice.lines
    assert before.before_correction and not after.before_correction
    assert (before.net_value, after.net_value) == (Decimal("1626.01"), Decimal("1463.41"))


def test_a_collective_correction_lists_every_corrected_invoice() -> None:
    invoice = fa3.parse(sample("mf-fa3-example-07.xml"))

    assert invoice.gross_total == Decimal("-50000")
    assert invoice.correction_type == 2
    assert [c.number for c in invoice.corrected_invoices] == [
        "FV2026/01/134",
        "FV2026/02/150",
        "FV2026/03/143",
        "FV2026/04/23",
        "FV2026/05/54",
        "FV2026/06/15",
    ]
    assert invoice.corrected_invoices[-1].ksef_number == "9999999999-20230908-D08FB95950BE-3E"
    assert invoice.sale_date is None


def test_an_advance_invoice_keeps_its_kind_and_the_third_party_buyer_share() -> None:
    invoice = fa3.parse(sample("mf-fa3-example-10.xml"))

    assert invoice.kind == "ZAL"
    assert invoice.number == "FZ2026/02/150"
    assert invoice.rate("1") == fa3.RateTotal("1", Decimal("16260.16"), Decimal("3739.84"))
    assert invoice.gross_total == Decimal("20000")
    assert invoice.lines == ()
    (co_buyer,) = invoice.third_parties
    assert co_buyer.identifier.value == "3333333333"
    assert co_buyer.name == "F.H.U. Grażyna Kowalska"
    assert (co_buyer.role, co_buyer.share) == (4, Decimal("50"))


def test_an_advance_invoice_carries_the_order_it_is_paid_against() -> None:
    invoice = fa3.parse(sample("mf-fa3-example-10.xml"))

    assert invoice.order is not None
    assert invoice.order.value == Decimal("375150")
    flat, extras = invoice.order.lines
    assert (flat.number, flat.name, flat.unit, flat.quantity) == (
        1,
        "mieszkanie 50m^2",
        "szt.",
        Decimal("1"),
    )
    assert (flat.unit_net_price, flat.net_value, flat.vat_value, flat.vat_rate) == (
        Decimal("300000"),
        Decimal("300000"),
        Decimal("69000"),
        "23",
    )
    assert flat.uu_id == "aaaa111133339990"
    assert (extras.number, extras.name) == (2, "usługi dodatkowe")
    assert extras.net_value == Decimal("5000")
    assert not flat.before_correction and flat.gross_value is None


def test_an_invoice_that_is_not_an_advance_has_no_order() -> None:
    assert fa3.parse(sample("mf-fa3-example-01.xml")).order is None


def test_an_order_row_marked_before_correction_is_flagged() -> None:
    xml = swap(
        sample("mf-fa3-example-10.xml"),
        "<P_12Z>23</P_12Z>\r\n\t\t\t</ZamowienieWiersz>",
        "<P_12Z>23</P_12Z>\n<StanPrzedZ>1</StanPrzedZ></ZamowienieWiersz>",
    )

    invoice = fa3.parse(xml)

    assert invoice.order is not None
    assert [line.before_correction for line in invoice.order.lines] == [True, False]


def test_a_factoring_invoice_shows_the_factor_and_its_bank_account_and_due_date() -> None:
    invoice = fa3.parse(sample("mf-fa3-example-04.xml"))

    (factor,) = invoice.third_parties
    assert (factor.identifier.value, factor.role) == ("2222222222", 1)
    assert invoice.payment is not None
    assert invoice.payment.due_dates == (date(2026, 3, 15),)
    assert invoice.payment.form == 6
    assert invoice.payment.bank_accounts == (
        fa3.BankAccount(
            number="73111111111111111111111111",
            swift=None,
            bank_name="Bank Bankowości Bankowej S. A.",
            description="PLN",
            factor=True,
        ),
    )
    assert invoice.lines[1].discount == Decimal("100")
    assert invoice.lines[1].quantity == Decimal("20")


def test_payment_terms_partial_payments_and_early_payment_discount_are_read() -> None:
    xml = swap(
        sample("mf-fa3-example-04.xml"),
        "<Platnosc>\r\n\t\t\t<TerminPlatnosci>\r\n\t\t\t\t<Termin>2026-03-15</Termin>"
        "\r\n\t\t\t</TerminPlatnosci>\r\n\t\t\t<FormaPlatnosci>6</FormaPlatnosci>",
        "<Platnosc><ZnacznikZaplatyCzesciowej>1</ZnacznikZaplatyCzesciowej>"
        "<ZaplataCzesciowa><KwotaZaplatyCzesciowej>1000.50</KwotaZaplatyCzesciowej>"
        "<DataZaplatyCzesciowej>2026-02-01</DataZaplatyCzesciowej>"
        "<FormaPlatnosci>1</FormaPlatnosci></ZaplataCzesciowa>"
        "<ZaplataCzesciowa><KwotaZaplatyCzesciowej>200</KwotaZaplatyCzesciowej>"
        "<DataZaplatyCzesciowej>2026-02-03</DataZaplatyCzesciowej>"
        "<PlatnoscInna>1</PlatnoscInna><OpisPlatnosci>kompensata</OpisPlatnosci>"
        "</ZaplataCzesciowa>"
        "<TerminPlatnosci><Termin>2026-03-15</Termin></TerminPlatnosci>"
        "<TerminPlatnosci><TerminOpis><Ilosc>14</Ilosc><Jednostka>dni</Jednostka>"
        "<ZdarzeniePoczatkowe>od daty  dostawy</ZdarzeniePoczatkowe></TerminOpis>"
        "</TerminPlatnosci><FormaPlatnosci>6</FormaPlatnosci>",
    )
    xml = swap(
        xml,
        "</RachunekBankowyFaktora>",
        "</RachunekBankowyFaktora><Skonto><WarunkiSkonta>zapłata w 7 dni</WarunkiSkonta>"
        "<WysokoscSkonta>2%</WysokoscSkonta></Skonto>"
        "<LinkDoPlatnosci>https://pay.example/f?IPKSeF=123ABCDEFGHIJ</LinkDoPlatnosci>"
        "<IPKSeF>123ABCDEFGHIJ</IPKSeF>",
    )

    payment = fa3.parse(xml).payment

    assert payment is not None
    assert payment.terms == (
        fa3.PaymentTerm(date(2026, 3, 15)),
        fa3.PaymentTerm(None, 14, "dni", "od daty dostawy"),
    )
    assert payment.due_dates == (date(2026, 3, 15),)
    assert payment.terms[1].description == "14 dni od daty dostawy"
    assert payment.partial == 1 and not payment.paid and not payment.fully_paid
    assert payment.partial_payments == (
        fa3.PartialPayment(Decimal("1000.50"), date(2026, 2, 1), 1, None),
        fa3.PartialPayment(Decimal("200"), date(2026, 2, 3), None, "kompensata"),
    )
    assert (payment.discount_conditions, payment.discount) == ("zapłata w 7 dni", "2%")
    assert payment.link == "https://pay.example/f?IPKSeF=123ABCDEFGHIJ"
    assert payment.ip_ksef == "123ABCDEFGHIJ"
    assert payment.form == 6  # the invoice's own form, not a partial payment's


def test_an_invoice_paid_in_full_in_parts_counts_as_fully_paid() -> None:
    xml = swap(
        sample("mf-fa3-example-04.xml"),
        "<Platnosc>",
        "<Platnosc><ZnacznikZaplatyCzesciowej>2</ZnacznikZaplatyCzesciowej>"
        "<ZaplataCzesciowa><KwotaZaplatyCzesciowej>10</KwotaZaplatyCzesciowej>"
        "<DataZaplatyCzesciowej>2026-02-01</DataZaplatyCzesciowej></ZaplataCzesciowa>",
    )

    payment = fa3.parse(xml).payment

    assert payment is not None and payment.fully_paid and not payment.paid


def test_the_fully_populated_example_collapses_whitespace_in_long_line_names() -> None:
    invoice = fa3.parse(sample("fa3-complete-example.xml"))

    assert invoice.seller.identifier.value == "5265877635"
    assert invoice.buyer.identifier.value == "6808208874"
    assert invoice.number == "FA/YUCFO-4342344706/03/2026"
    assert invoice.gross_total == Decimal("33569.50")
    assert len(invoice.lines) == 13
    assert invoice.lines[12].net_value == Decimal("7019.44")
    name = invoice.lines[0].name
    assert name is not None and "\n" not in name and "  " not in name
    assert name.endswith("Licensed Concrete Ba")


def test_a_foreign_currency_invoice_reports_vat_in_pln_from_the_w_fields() -> None:
    xml = sample("mf-fa3-example-01.xml")
    xml = swap(xml, "<KodWaluty>PLN</KodWaluty>", "<KodWaluty>EUR</KodWaluty>")
    xml = swap(xml, "<P_14_1>383.33</P_14_1>", "<P_14_1>383.33</P_14_1><P_14_1W>1632.97</P_14_1W>")
    xml = swap(xml, "<P_14_3>0.05</P_14_3>", "<P_14_3>0.05</P_14_3><P_14_3W>0.21</P_14_3W>")

    invoice = fa3.parse(xml)

    assert invoice.currency == "EUR"
    assert invoice.vat_total == Decimal("383.38")
    assert invoice.vat_total_pln == Decimal("1633.18")
    assert invoice.rate("1") == fa3.RateTotal(
        "1", Decimal("1666.66"), Decimal("383.33"), Decimal("1632.97")
    )


def test_a_foreign_currency_invoice_without_pln_vat_has_no_pln_total() -> None:
    xml = swap(sample("mf-fa3-example-01.xml"), "<KodWaluty>PLN", "<KodWaluty>USD")
    assert fa3.parse(xml).vat_total_pln is None


def test_an_eu_buyer_and_a_service_period_are_read() -> None:
    xml = sample("mf-fa3-example-01.xml")
    xml = swap(
        xml,
        "<NIP>1111111111</NIP>\r\n\t\t\t<Nazwa>F.H.U. Jan Kowalski</Nazwa>",
        "<KodUE>DE</KodUE><NrVatUE>123456789</NrVatUE><Nazwa>Kowalski GmbH</Nazwa>",
    )
    xml = swap(
        xml,
        "<P_6>2026-01-27</P_6>",
        "<OkresFa><P_6_Od>2026-01-01</P_6_Od><P_6_Do>2026-01-31</P_6_Do></OkresFa>",
    )

    invoice = fa3.parse(xml)

    assert invoice.buyer.identifier == fa3.PartyIdentifier(
        fa3.IdentifierKind.EU_VAT, "123456789", "DE"
    )
    assert invoice.buyer.identifier.display == "DE123456789"
    assert invoice.buyer.name == "Kowalski GmbH"
    assert invoice.sale_date is None
    assert (invoice.period_from, invoice.period_to) == (date(2026, 1, 1), date(2026, 1, 31))


def test_a_buyer_without_identifier_is_marked_as_none() -> None:
    xml = swap(
        sample("mf-fa3-example-01.xml"),
        "<NIP>1111111111</NIP>",
        "<BrakID>1</BrakID>",
    )
    buyer = fa3.parse(xml).buyer
    assert buyer.identifier == fa3.PartyIdentifier(fa3.IdentifierKind.NONE)
    assert buyer.name == "F.H.U. Jan Kowalski"


ENTITY_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE Faktura [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/"><Fa><P_2>&b;</P_2></Fa></Faktura>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Faktura [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/"><Fa><P_2>&secret;</P_2></Fa></Faktura>"""


@pytest.mark.parametrize("xml", [ENTITY_BOMB, EXTERNAL_ENTITY], ids=["internal", "external"])
def test_a_document_with_a_doctype_or_entities_is_refused_by_parse_and_validate(
    xml: bytes,
) -> None:
    with pytest.raises(UnsafeXmlError, match="DOCTYPE"):
        fa3.parse(xml)
    with pytest.raises(UnsafeXmlError):
        fa3.validate(xml, SCHEMAS)


def test_malformed_xml_and_other_documents_are_parse_errors() -> None:
    with pytest.raises(InvoiceParseError, match="well-formed"):
        fa3.parse(b"<Faktura>")
    with pytest.raises(InvoiceParseError, match="expected FA"):
        fa3.parse(b'<Faktura xmlns="http://crd.gov.pl/wzor/2023/06/29/12648/"/>')


def test_an_invoice_without_a_gross_total_is_a_parse_error() -> None:
    xml = sample("mf-fa3-example-01.xml").replace(b"<P_15>2051</P_15>", b"")
    with pytest.raises(InvoiceParseError, match="P_15"):
        fa3.parse(xml)


def test_validation_reports_the_broken_field() -> None:
    xml = sample("mf-fa3-example-01.xml").replace(
        b"<P_1>2026-02-15</P_1>", b"<P_1>15.02.2026</P_1>"
    )
    (error,) = fa3.validate(xml, SCHEMAS)
    assert "P_1" in error and error.startswith("line ")


def test_the_schema_is_loaded_from_the_local_folder_only(tmp_path: Path) -> None:
    # A copy of the XSD without bazowe/ cannot fall back to the crd.gov.pl URL.
    (tmp_path / fa3.FA3_SCHEMA_FILENAME).write_bytes(
        (SCHEMAS / fa3.FA3_SCHEMA_FILENAME).read_bytes()
    )
    with pytest.raises(SchemaLoadError, match="StrukturyDanych"):
        fa3.validate(sample("mf-fa3-example-01.xml"), tmp_path)
