"""PEF (3) and PEF_KOR (3): UBL 2.1 invoices and credit notes of public procurement
(Peppol BIS Billing 3.0 with the Polish extensions). Shown: the header, the supplier and
the customer, the references to corrected invoices, the lines, the VAT breakdown, the
totals and the payment means. The rest of UBL's large vocabulary (delivery, allowances,
extensions, document references...) goes to "Pozostałe dane" with its element path.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from invoices.documents import formatting as fmt
from invoices.documents import labels
from invoices.documents.model import (
    Box,
    Column,
    Columns,
    CorrectedInvoice,
    CorrectedList,
    Document,
    Fields,
    Line,
    Notes,
    Section,
    Total,
    blocks,
    line,
    table,
)
from invoices.documents.xmlread import Node, XmlDocument

# UNCL1001 document types a PEF can carry.
TYPE_CODES = {
    "380": gettext_lazy("Faktura"),
    "381": gettext_lazy("Faktura korygująca"),
    "383": gettext_lazy("Nota obciążeniowa"),
    "384": gettext_lazy("Faktura korygująca"),
    "386": gettext_lazy("Faktura zaliczkowa"),
    "389": gettext_lazy("Samofakturowanie"),
    "751": gettext_lazy("Faktura - informacja do celów księgowych"),
}
# UNCL4461 payment means used in Poland.
PAYMENT_MEANS = {
    "1": gettext_lazy("Nieokreślona"),
    "10": gettext_lazy("Gotówka"),
    "20": gettext_lazy("Czek"),
    "30": gettext_lazy("Przelew"),
    "31": gettext_lazy("Przelew"),
    "42": gettext_lazy("Przelew na rachunek bankowy"),
    "48": gettext_lazy("Karta płatnicza"),
    "49": gettext_lazy("Polecenie zapłaty"),
    "58": gettext_lazy("Przelew SEPA"),
    "59": gettext_lazy("Polecenie zapłaty SEPA"),
}


def render(doc: XmlDocument, form: str) -> Document:
    root = doc.root
    credit = root.name == "CreditNote"
    currency = root.get("DocumentCurrencyCode")
    type_code = root.get("CreditNoteTypeCode" if credit else "InvoiceTypeCode")
    document = Document(
        form=form,
        number=root.get("ID"),
        kind=labels.word(TYPE_CODES, type_code)
        or (_("Faktura korygująca") if credit else _("Faktura")),
        currency=currency,
        sections=[],
    )
    document.corrected = _references(root)
    details = line(_("Data wystawienia"), fmt.day(root.get("IssueDate")))
    details += line(_("Termin płatności"), fmt.day(root.get("DueDate")))
    details += line(_("Data powstania obowiązku podatkowego"), fmt.day(root.get("TaxPointDate")))
    period = root.child("InvoicePeriod")
    if period is not None:
        span = f"{fmt.day(period.get('StartDate'))} – {fmt.day(period.get('EndDate'))}".strip(" –")
        details += line(_("Okres rozliczeniowy"), span)
    details += line(_("Kod waluty"), currency)
    details += line(_("Waluta rozliczenia VAT"), root.get("TaxCurrencyCode"))
    details += line(_("Referencja nabywcy"), root.get("BuyerReference"))
    order = root.child("OrderReference")
    if order is not None:
        details += line(_("Numer zamówienia"), order.get("ID"))
    contract = root.child("ContractDocumentReference")
    if contract is not None:
        details += line(_("Numer umowy"), contract.get("ID"))
    parties = [
        _party(root.child("AccountingSupplierParty"), _("Sprzedawca")),
        _party(root.child("AccountingCustomerParty"), _("Nabywca")),
    ]
    payee = root.child("PayeeParty")
    if payee is not None:
        parties.append(_party_node(payee, _("Odbiorca płatności")))
    document.sections = [
        Section(
            "correction",
            _("Dane faktury korygowanej"),
            blocks(CorrectedList(document.corrected) if document.corrected else None),
        ),
        Section("parties", _("Podmioty"), blocks(Columns([p for p in parties if p is not None]))),
        Section(
            "details",
            _("Szczegóły"),
            blocks(Fields(details), Notes(root.all("Note"), title=_("Uwagi"))),
        ),
        Section("lines", _("Pozycje"), _lines(root, credit, currency)),
        Section("summary", _("Podsumowanie stawek podatku"), _taxes(root)),
        Section("payment", _("Płatność"), _payment(root)),
    ]
    document.sections = [s for s in document.sections if s.blocks]
    return document


def _references(root: Node) -> list[CorrectedInvoice]:
    found = []
    for position, reference in enumerate(root.children("BillingReference"), start=1):
        invoice = reference.child("InvoiceDocumentReference")
        if invoice is None:
            continue
        number = invoice.get("ID")
        found.append(
            CorrectedInvoice(
                position=position,
                number=number,
                issue_date=fmt.day(invoice.get("IssueDate")),
                # A KSeF number is 35 characters with three hyphens; PEF_KOR puts it in ID.
                ksef_number=number if len(number) in (35, 36) and number.count("-") >= 3 else "",
            )
        )
    return found


def _party(wrapper: Node | None, title: str) -> Box | None:
    party = wrapper.child("Party") if wrapper is not None else None
    return _party_node(party, title) if party is not None else None


def _party_node(party: Node, title: str) -> Box:
    lines: list[Line] = []
    for scheme in party.children("PartyTaxScheme"):
        lines += line(_("Identyfikator podatkowy"), scheme.get("CompanyID"))
        tax = scheme.child("TaxScheme")
        if tax is not None:
            tax.get("ID")
    legal = party.child("PartyLegalEntity")
    name = party.child("PartyName")
    lines += line(_("Nazwa"), name.get("Name") if name is not None else "")
    if legal is not None:
        lines += line(_("Nazwa rejestrowa"), legal.get("RegistrationName"))
        lines += line(_("Numer rejestrowy"), legal.get("CompanyID"))
        lines += line(_("Forma prawna"), legal.get("CompanyLegalForm"))
    endpoint = party.child("EndpointID")
    if endpoint is not None:
        lines += line(
            _("Adres elektroniczny"), f"{endpoint.attr('schemeID')}:{endpoint.text}".strip(":")
        )
    for ident in party.children("PartyIdentification"):
        lines += line(_("Identyfikator"), ident.get("ID"))
    address = party.child("PostalAddress")
    address_lines: list[str] = []
    if address is not None:
        address_lines = [address.get("StreetName"), address.get("AdditionalStreetName")]
        address_lines += [a.get("Line") for a in address.children("AddressLine")]
        address_lines.append(f"{address.get('PostalZone')} {address.get('CityName')}".strip())
        address_lines.append(address.get("CountrySubentity"))
        country = address.child("Country")
        if country is not None:
            address_lines.append(labels.country(country.get("IdentificationCode")))
    contact_lines: list[Line] = []
    contact = party.child("Contact")
    if contact is not None:
        contact_lines = (
            line(_("Osoba"), contact.get("Name"))
            + line(_("Tel."), contact.get("Telephone"))
            + line(_("E-mail"), contact.get("ElectronicMail"))
        )
    return Box(
        title,
        blocks(
            Fields(lines),
            Notes([a for a in address_lines if a], title=_("Adres")),
            Fields(contact_lines, title=_("Dane kontaktowe")),
        ),
    )


def _quantity(node: Node | None) -> tuple[str, str]:
    if node is None:
        return "", ""
    unit = node.attr("unitCode")
    return fmt.quantity(node.text), unit


def _lines(root: Node, credit: bool, currency: str) -> list:  # type: ignore[type-arg]
    rows = []
    for item_line in root.children("CreditNoteLine" if credit else "InvoiceLine"):
        item = item_line.child("Item")
        name = item.get("Name") if item is not None else ""
        description = item.get("Description") if item is not None else ""
        percent = ""
        if item is not None:
            category = item.child("ClassifiedTaxCategory")
            if category is not None:
                code, value = category.get("ID"), category.get("Percent")
                percent = fmt.rate(value) if value else code
        quantity, unit = _quantity(
            item_line.child("CreditedQuantity" if credit else "InvoicedQuantity")
        )
        price = item_line.child("Price")
        rows.append(
            [
                item_line.get("ID"),
                name,
                description,
                fmt.amount(price.get("PriceAmount")) if price is not None else "",
                quantity,
                unit,
                percent,
                fmt.amount(item_line.get("LineExtensionAmount")),
            ]
        )
    columns = [
        Column(_("Lp.")),
        Column(_("Nazwa towaru lub usługi")),
        Column(_("Opis")),
        Column(_("Cena jedn. netto"), numeric=True),
        Column(_("Ilość"), numeric=True),
        Column(_("Miara")),
        Column(_("Stawka podatku")),
        Column(_("Wartość sprzedaży netto"), numeric=True),
    ]
    totals = root.child("LegalMonetaryTotal")
    fields: list[Line] = []
    payable = ""
    if totals is not None:

        def money(tag: str) -> str:
            if totals is None or totals.child(tag) is None:
                return ""
            return f"{fmt.amount(totals.get(tag))} {currency}"

        fields = (
            line(_("Suma wartości netto pozycji"), money("LineExtensionAmount"))
            + line(_("Suma obniżek"), money("AllowanceTotalAmount"))
            + line(_("Suma obciążeń"), money("ChargeTotalAmount"))
            + line(_("Kwota netto"), money("TaxExclusiveAmount"))
            + line(_("Kwota brutto"), money("TaxInclusiveAmount"))
            + line(_("Kwota zapłacona wcześniej"), money("PrepaidAmount"))
            + line(_("Zaokrąglenie"), money("PayableRoundingAmount"))
        )
        payable = money("PayableAmount")
    return blocks(
        Notes([_("Faktura wystawiona w walucie %(currency)s") % {"currency": currency}])
        if rows
        else None,
        table(columns, rows),
        Fields(fields),
        Total(_("Kwota należności ogółem"), payable) if payable else None,
    )


def _taxes(root: Node) -> list:  # type: ignore[type-arg]
    rows: list[list[str]] = []
    totals: list[str] = []
    for tax_total in root.children("TaxTotal"):
        amount = tax_total.child("TaxAmount")
        if amount is not None:
            totals.append(f"{fmt.amount(amount.text)} {amount.attr('currencyID')}".strip())
        for subtotal in tax_total.children("TaxSubtotal"):
            category = subtotal.child("TaxCategory")
            code = percent = reason = ""
            if category is not None:
                code, percent = category.get("ID"), category.get("Percent")
                reason = category.get("TaxExemptionReason") or category.get(
                    "TaxExemptionReasonCode"
                )
                scheme = category.child("TaxScheme")
                if scheme is not None:
                    scheme.get("ID")
            rows.append(
                [
                    str(len(rows) + 1),
                    fmt.rate(percent) if percent else code,
                    code,
                    fmt.amount(subtotal.get("TaxableAmount")),
                    fmt.amount(subtotal.get("TaxAmount")),
                    reason,
                ]
            )
    columns = [
        Column(_("Lp.")),
        Column(_("Stawka podatku")),
        Column(_("Kategoria")),
        Column(_("Kwota netto"), numeric=True),
        Column(_("Kwota podatku"), numeric=True),
        Column(_("Podstawa zwolnienia")),
    ]
    return blocks(
        table(columns, rows), Fields([Line(_("Kwota podatku ogółem"), t) for t in totals])
    )


def _payment(root: Node) -> list:  # type: ignore[type-arg]
    lines: list[Line] = []
    accounts = []
    for means in root.children("PaymentMeans"):
        code = means.child("PaymentMeansCode")
        if code is not None:
            lines += line(_("Forma płatności"), labels.word(PAYMENT_MEANS, code.text))
            code.attr("name")
        lines += line(_("Identyfikator płatności"), means.get("PaymentID"))
        for account in means.children("PayeeFinancialAccount"):
            branch = account.child("FinancialInstitutionBranch")
            accounts.append(
                Box(
                    _("Numer rachunku bankowego"),
                    blocks(
                        Fields(
                            line(_("Pełny numer rachunku"), account.get("ID"))
                            + line(_("Nazwa rachunku"), account.get("Name"))
                            + line(_("Kod SWIFT"), branch.get("ID") if branch is not None else "")
                        )
                    ),
                )
            )
    terms = [note for term in root.children("PaymentTerms") for note in term.all("Note")]
    return blocks(
        Fields(lines),
        Columns(accounts) if accounts else None,
        Notes(terms, title=_("Warunki płatności")),
    )
