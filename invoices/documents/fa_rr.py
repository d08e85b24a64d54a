"""FA_RR (1): the VAT RR invoice a purchaser of agricultural produce issues for a flat-rate
farmer (art. 116 of the VAT act). Laid out like the FA sections: the supplier (the farmer)
and the purchaser, details, lines with the flat-rate refund, totals, payment with the
farmer's and the purchaser's accounts, registers and footer."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from invoices.documents import formatting as fmt
from invoices.documents import labels, parts
from invoices.documents.fa import line_table
from invoices.documents.model import (
    Column,
    Columns,
    CorrectedList,
    Document,
    Fields,
    Notes,
    Section,
    Total,
    blocks,
    line,
    table,
)
from invoices.documents.xmlread import Node, XmlDocument

LINE_COLUMNS = (
    (gettext_lazy("Lp."), "NrWierszaFa", False, str),
    (gettext_lazy("Unikalny numer wiersza"), "UU_ID", False, str),
    (gettext_lazy("Data nabycia"), "P_4AA", False, fmt.day),
    (gettext_lazy("Nazwa produktu rolnego lub usługi rolniczej"), "P_5", False, str),
    (gettext_lazy("GTIN"), "GTIN", False, str),
    (gettext_lazy("PKWiU"), "PKWiU", False, str),
    (gettext_lazy("CN"), "CN", False, str),
    (gettext_lazy("Miara"), "P_6A", False, str),
    (gettext_lazy("Ilość"), "P_6B", True, fmt.quantity),
    (gettext_lazy("Klasa lub jakość"), "P_6C", False, str),
    (gettext_lazy("Cena jedn. bez zwrotu podatku"), "P_7", True, fmt.amount),
    (gettext_lazy("Wartość bez zwrotu podatku"), "P_8", True, fmt.amount),
    (gettext_lazy("Stawka zwrotu podatku"), "P_9", False, fmt.rate),
    (gettext_lazy("Kwota zwrotu podatku"), "P_10", True, fmt.amount),
    (gettext_lazy("Wartość ze zwrotem podatku"), "P_11", True, fmt.amount),
    (gettext_lazy("Kurs waluty"), "KursWaluty", True, fmt.quantity),
)


def render(doc: XmlDocument, form: str) -> Document:
    root = doc.root
    fa = root.child("FakturaRR") or root
    currency = fa.get("KodWaluty")
    kind = fa.get("RodzajFaktury")
    document = Document(
        form=form,
        number=fa.get("P_4C"),
        kind=labels.word(labels.INVOICE_KINDS, kind),
        currency=currency,
        sections=[],
    )
    header = root.child("Naglowek")
    if header is not None:
        header.get("KodFormularza")
        header.get("WariantFormularza")
        document.system_info = header.get("SystemInfo")
        document.created_at = fmt.moment(header.get("DataWytworzeniaFa"))
    document.corrected = parts.corrected_invoices(fa)
    money = lambda value: f"{fmt.amount(value)} {currency}" if value else ""  # noqa: E731
    correction = Fields(
        line(_("Przyczyna korekty"), fa.get("PrzyczynaKorekty"))
        + line(
            _("Typ skutku korekty"), labels.word(labels.CORRECTION_EFFECTS, fa.get("TypKorekty"))
        )
        + line(_("Poprawny numer faktury korygowanej"), fa.get("NrFaKorygowany"))
    )
    corrected_boxes = [
        parts.party_box(p, _("Dane dostawcy z faktury korygowanej"))
        for p in fa.children("Podmiot1K")
    ]
    corrected_boxes += [
        parts.party_box(p, _("Dane nabywcy z faktury korygowanej"))
        for p in fa.children("Podmiot2K")
    ]
    main = [
        parts.party_box(p, title)
        for p, title in (
            (root.child("Podmiot1"), _("Dostawca")),
            (root.child("Podmiot2"), _("Nabywca")),
        )
        if p is not None
    ]
    others = [parts.third_party_box(p, n) for n, p in enumerate(root.children("Podmiot3"), 1)]
    details = line(_("Data wystawienia"), fmt.day(fa.get("P_4B")))
    details += line(_("Miejsce wystawienia"), fa.get("P_1M"))
    details += line(_("Data dokonania nabycia"), fmt.day(fa.get("P_4A")))
    details += line(_("Kod waluty"), currency)
    payment_documents = [
        [d.get("NrDokumentu"), fmt.day(d.get("DataDokumentu"))]
        for d in fa.children("DokumentZaplaty")
    ]
    rows = fa.children("FakturaRRWiersz")
    before = [row for row in rows if row.child("StanPrzed") is not None and row.flag("StanPrzed")]
    after = [row for row in rows if row not in before]
    totals = Fields(
        line(_("Wartość nabytych produktów lub usług"), money(fa.get("P_11_1")))
        + line(_("Wartość nabytych produktów lub usług w PLN"), money(fa.get("P_11_1W")))
        + line(_("Kwota zryczałtowanego zwrotu podatku"), money(fa.get("P_11_2")))
        + line(_("Kwota zryczałtowanego zwrotu podatku w PLN"), money(fa.get("P_11_2W")))
        + line(_("Kwota należności ogółem w PLN"), money(fa.get("P_12_1W")))
        + line(_("Słownie"), fa.get("P_12_2"))
    )
    total = fa.get("P_12_1")
    footer = root.child("Stopka")
    document.sections = [
        Section(
            "correction",
            _("Dane faktury korygowanej"),
            blocks(
                correction,
                CorrectedList(document.corrected) if document.corrected else None,
                Columns(corrected_boxes) if corrected_boxes else None,
            ),
        ),
        Section(
            "parties", _("Podmioty"), blocks(Columns(main), Columns(others) if others else None)
        ),
        Section(
            "details",
            _("Szczegóły"),
            blocks(
                Fields(details),
                table(
                    [Column(_("Numer dokumentu zapłaty")), Column(_("Data dokumentu zapłaty"))],
                    payment_documents,
                    title=_("Dokumenty zapłaty"),
                    keep=0,
                ),
            ),
        ),
        Section(
            "lines",
            _("Pozycje"),
            blocks(
                Notes([_("Faktura wystawiona w walucie %(currency)s") % {"currency": currency}])
                if rows
                else None,
                line_table(before, LINE_COLUMNS, _("Stan przed korektą")) if before else None,
                line_table(after, LINE_COLUMNS, _("Stan po korekcie") if before else ""),
                totals,
                Total(_("Kwota należności ogółem"), money(total)) if total else None,
            ),
        ),
        Section("additional", _("Dodatkowe informacje"), blocks(parts.description_table(fa))),
        Section("settlement", _("Rozliczenie"), parts.settlement_blocks(fa, currency)),
        _payment(fa.child("Platnosc")),
        Section("registers", _("Rejestry"), blocks(parts.registers_table(footer))),
        Section("other", _("Pozostałe informacje"), blocks(parts.footer_table(footer))),
    ]
    document.sections = [s for s in document.sections if s.blocks]
    return document


def _payment(payment: Node | None) -> Section:
    if payment is None:
        return Section("payment", _("Płatność"), [])
    lines = line(
        _("Forma płatności"), labels.word(labels.PAYMENT_FORMS, payment.get("FormaPlatnosci"))
    )
    if payment.flag("PlatnoscInna"):
        lines += line(_("Forma płatności"), _("Płatność inna"))
    lines += line(_("Opis innej formy płatności"), payment.get("OpisPlatnosci"))
    link = payment.get("LinkDoPlatnosci")
    lines += line(_("Link do płatności bezgotówkowej"), link, href=link)
    lines += line(_("Identyfikator płatności KSeF"), payment.get("IPKSeF"))
    accounts = [
        parts.bank_account_box(a, _("Numer rachunku rolnika"))
        for a in payment.children("RachunekBankowy1")
    ]
    accounts += [
        parts.bank_account_box(a, _("Numer rachunku nabywcy"))
        for a in payment.children("RachunekBankowy2")
    ]
    return Section(
        "payment", _("Płatność"), blocks(Fields(lines), Columns(accounts) if accounts else None)
    )
