"""FA (3) and FA (2) e-invoices rendered like the Ministry's visualisation.

Sections in the order of the Ministry's own visualisation tool (CIRFMF/ksef-pdf-generator,
release 1.1.18, as it renders MF example 01): header,
corrected invoice data, parties, details, lines with the total due (or the order of an
advance invoice), VAT summary per rate, annotations, additional information, settlement,
payment, transaction terms, registers, other information, attachments. FA (2) uses the
same element names in its own namespace and is read by the same code; whatever either
schema has that no section shows is left for "Pozostałe dane" by the caller.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from invoices.documents import formatting as fmt
from invoices.documents import labels, parts
from invoices.documents.model import (
    Block,
    Box,
    Column,
    Columns,
    CorrectedList,
    Document,
    Fields,
    Line,
    Notes,
    Section,
    Table,
    Total,
    blocks,
    line,
    table,
)
from invoices.documents.xmlread import Node, XmlDocument

CORRECTION_KINDS = {"KOR", "KOR_ZAL", "KOR_ROZ"}


def render(doc: XmlDocument, form: str) -> Document:
    root = doc.root
    header = root.child("Naglowek")
    fa = root.child("Fa") or Node(doc.root_element, doc)
    kind_code = fa.get("RodzajFaktury")
    rebate = kind_code == "KOR" and fa.child("OkresFaKorygowanej") is not None
    currency = fa.get("KodWaluty")
    document = Document(
        form=form,
        number=fa.get("P_2"),
        kind=str(labels.REBATE_KIND if rebate else labels.word(labels.INVOICE_KINDS, kind_code)),
        currency=currency,
        sections=[],
    )
    if header is not None:
        header.get("KodFormularza")
        header.get("WariantFormularza")
        document.system_info = header.get("SystemInfo")
        document.created_at = fmt.moment(header.get("DataWytworzeniaFa"))
    document.corrected = parts.corrected_invoices(fa)
    add = document.sections.append
    add(_correction_section(fa, document, kind_code))
    add(_parties_section(root))
    add(_details_section(fa, currency, kind_code))
    add(_lines_section(fa, currency))
    add(_order_section(fa, currency))
    add(_summary_section(fa, currency))
    add(_annotations_section(fa))
    add(_additional_section(fa))
    add(Section("settlement", _("Rozliczenie"), parts.settlement_blocks(fa, currency)))
    add(_payment_section(fa.child("Platnosc")))
    add(_terms_section(fa.child("WarunkiTransakcji")))
    footer = root.child("Stopka")
    add(Section("registers", _("Rejestry"), blocks(parts.registers_table(footer))))
    add(_other_info_section(fa, footer))
    add(Section("attachments", _("Załącznik"), parts.attachment_blocks(root.child("Zalacznik"))))
    document.sections = [section for section in document.sections if section.blocks]
    return document


def _money(value: str, currency: str) -> str:
    return f"{fmt.amount(value)} {currency}".strip() if value else ""


def _correction_section(fa: Node, document: Document, kind_code: str) -> Section:
    effect = labels.word(labels.CORRECTION_EFFECTS, fa.get("TypKorekty"))
    fields = Fields(
        line(_("Przyczyna korekty"), fa.get("PrzyczynaKorekty"))
        + line(_("Typ skutku korekty"), effect)
        + line(_("Poprawny numer faktury korygowanej"), fa.get("NrFaKorygowany"))
        + line(_("Kwota zapłaty przed korektą"), fmt.amount(fa.get("P_15ZK")))
        + line(_("Kurs waluty przed korektą"), fmt.quantity(fa.get("KursWalutyZK")))
    )
    corrected = CorrectedList(document.corrected) if document.corrected else None
    boxes = parts.corrected_party_boxes(fa)
    return Section(
        "correction",
        _("Dane faktury korygowanej"),
        blocks(fields, corrected, Columns(boxes) if boxes else None),
    )


def _parties_section(root: Node) -> Section:
    main = []
    seller, buyer = root.child("Podmiot1"), root.child("Podmiot2")
    if seller is not None:
        main.append(parts.party_box(seller, _("Sprzedawca")))
    if buyer is not None:
        main.append(parts.party_box(buyer, _("Nabywca")))
    others = [parts.third_party_box(p, n) for n, p in enumerate(root.children("Podmiot3"), 1)]
    authorised = root.child("PodmiotUpowazniony")
    if authorised is not None:
        others.append(parts.authorised_box(authorised))
    return Section(
        "parties", _("Podmioty"), blocks(Columns(main), Columns(others) if others else None)
    )


def _details_section(fa: Node, currency: str, kind_code: str) -> Section:
    period = fa.child("OkresFa")
    delivery_label = (
        _("Data otrzymania zapłaty")
        if kind_code in ("ZAL", "KOR_ZAL")
        else _("Data dokonania lub zakończenia dostawy towarów lub wykonania usługi")
    )
    lines = line(
        _("Data wystawienia, z zastrzeżeniem art. 106na ust. 1 ustawy"), fmt.day(fa.get("P_1"))
    )
    lines += line(_("Miejsce wystawienia"), fa.get("P_1M"))
    lines += line(delivery_label, fmt.day(fa.get("P_6")))
    if period is not None:
        start, end = fmt.day(period.get("P_6_Od")), fmt.day(period.get("P_6_Do"))
        lines += line(_("Okres, którego dotyczy faktura"), f"{start} – {end}".strip(" –"))
    lines += line(_("Okres, którego dotyczy rabat"), fa.get("OkresFaKorygowanej"))
    lines += line(_("Kod waluty"), currency)
    lines += line(_("Kurs waluty"), fmt.quantity(fa.get("KursWalutyZ")))
    advances = []
    for advance in fa.children("FakturaZaliczkowa"):
        advance.get("NrKSeFZN")
        advances.append(advance.get("NrKSeFFaZaliczkowej") or advance.get("NrFaZaliczkowej"))
    part_payments = [
        [
            fmt.day(p.get("P_6Z")),
            _money(p.get("P_15Z"), currency),
            fmt.quantity(p.get("KursWalutyZW")),
        ]
        for p in fa.children("ZaliczkaCzesciowa")
    ]
    columns = [Column(_("Data otrzymania płatności")), Column(_("Kwota płatności"), numeric=True),
               Column(_("Kurs waluty"), numeric=True)]  # fmt: skip
    return Section(
        "details",
        _("Szczegóły"),
        blocks(
            Fields(lines),
            Notes(advances, title=_("Numery wcześniejszych faktur zaliczkowych")),
            table(columns, part_payments, title=_("Zaliczki częściowe"), keep=2),
        ),
    )


# The columns of a line, in the official order: (label, element, numeric, format).
LINE_COLUMNS = (
    (gettext_lazy("Lp."), "NrWierszaFa", False, str),
    (gettext_lazy("Unikalny numer wiersza"), "UU_ID", False, str),
    (gettext_lazy("Data dostawy"), "P_6A", False, fmt.day),
    (gettext_lazy("Nazwa towaru lub usługi"), "P_7", False, str),
    (gettext_lazy("Indeks"), "Indeks", False, str),
    (gettext_lazy("GTIN"), "GTIN", False, str),
    (gettext_lazy("PKWiU"), "PKWiU", False, str),
    (gettext_lazy("CN"), "CN", False, str),
    (gettext_lazy("PKOB"), "PKOB", False, str),
    (gettext_lazy("Cena jedn. netto"), "P_9A", True, fmt.amount),
    (gettext_lazy("Cena jedn. brutto"), "P_9B", True, fmt.amount),
    (gettext_lazy("Ilość"), "P_8B", True, fmt.quantity),
    (gettext_lazy("Miara"), "P_8A", False, str),
    (gettext_lazy("Rabat"), "P_10", True, fmt.amount),
    (gettext_lazy("Stawka podatku"), "P_12", False, fmt.rate),
    (gettext_lazy("Stawka podatku OSS"), "P_12_XII", False, fmt.rate),
    (
        gettext_lazy("Zał. 15"),
        "P_12_Zal_15",
        False,
        lambda v: gettext_lazy("TAK") if v == "1" else v,
    ),
    (gettext_lazy("Wartość sprzedaży netto"), "P_11", True, fmt.amount),
    (gettext_lazy("Wartość sprzedaży brutto"), "P_11A", True, fmt.amount),
    (gettext_lazy("Kwota VAT"), "P_11Vat", True, fmt.amount),
    (gettext_lazy("Kwota akcyzy"), "KwotaAkcyzy", True, fmt.amount),
    (gettext_lazy("GTU"), "GTU", False, str),
    (gettext_lazy("Procedura"), "Procedura", False, str),
    (gettext_lazy("Kurs waluty"), "KursWaluty", True, fmt.quantity),
)
ORDER_COLUMNS = (
    (gettext_lazy("Lp."), "NrWierszaZam", False, str),
    (gettext_lazy("Unikalny numer wiersza"), "UU_IDZ", False, str),
    (gettext_lazy("Nazwa towaru lub usługi"), "P_7Z", False, str),
    (gettext_lazy("Indeks"), "IndeksZ", False, str),
    (gettext_lazy("GTIN"), "GTINZ", False, str),
    (gettext_lazy("PKWiU"), "PKWiUZ", False, str),
    (gettext_lazy("CN"), "CNZ", False, str),
    (gettext_lazy("PKOB"), "PKOBZ", False, str),
    (gettext_lazy("Cena jedn. netto"), "P_9AZ", True, fmt.amount),
    (gettext_lazy("Ilość"), "P_8BZ", True, fmt.quantity),
    (gettext_lazy("Miara"), "P_8AZ", False, str),
    (gettext_lazy("Stawka podatku"), "P_12Z", False, fmt.rate),
    (gettext_lazy("Stawka podatku OSS"), "P_12Z_XII", False, fmt.rate),
    (
        gettext_lazy("Zał. 15"),
        "P_12Z_Zal_15",
        False,
        lambda v: gettext_lazy("TAK") if v == "1" else v,
    ),
    (gettext_lazy("Wartość sprzedaży netto"), "P_11NettoZ", True, fmt.amount),
    (gettext_lazy("Kwota VAT"), "P_11VatZ", True, fmt.amount),
    (gettext_lazy("Kwota akcyzy"), "KwotaAkcyzyZ", True, fmt.amount),
    (gettext_lazy("GTU"), "GTUZ", False, str),
    (gettext_lazy("Procedura"), "ProceduraZ", False, str),
)


def line_table(rows: list[Node], spec: tuple, title: str = "") -> Table | None:  # type: ignore[type-arg]
    columns = [Column(str(label), numeric=numeric) for label, _tag, numeric, _f in spec]
    cells = [
        [str(form(row.get(tag))) if row.get(tag) else "" for _l, tag, _n, form in spec]
        for row in rows
    ]
    return table(columns, cells, title=title)


def _lines_section(fa: Node, currency: str) -> Section:
    rows = fa.children("FaWiersz")
    gross = any(row.child("P_9B") is not None or row.child("P_11A") is not None for row in rows)
    intro = (
        _("Faktura wystawiona w cenach brutto w walucie %(currency)s")
        if gross
        else _("Faktura wystawiona w walucie %(currency)s")
    ) % {"currency": currency}
    before = [row for row in rows if row.child("StanPrzed") is not None and row.flag("StanPrzed")]
    after = [row for row in rows if row not in before]
    total = fa.get("P_15")
    return Section(
        "lines",
        _("Pozycje"),
        blocks(
            Notes([intro]) if rows else None,
            line_table(before, LINE_COLUMNS, _("Stan przed korektą")) if before else None,
            line_table(after, LINE_COLUMNS, _("Stan po korekcie") if before else ""),
            Total(_("Kwota należności ogółem"), _money(total, currency)) if total else None,
        ),
    )


def _order_section(fa: Node, currency: str) -> Section:
    order = fa.child("Zamowienie")
    if order is None:
        return Section("order", _("Zamówienie"), [])
    rows = order.children("ZamowienieWiersz")
    before = [row for row in rows if row.child("StanPrzedZ") is not None and row.flag("StanPrzedZ")]
    after = [row for row in rows if row not in before]
    value = order.get("WartoscZamowienia")
    return Section(
        "order",
        _("Zamówienie"),
        blocks(
            Fields(
                line(
                    _("Wartość zamówienia lub umowy z uwzględnieniem kwoty podatku"),
                    _money(value, currency),
                )
            ),
            line_table(before, ORDER_COLUMNS, _("Stan przed korektą")) if before else None,
            line_table(after, ORDER_COLUMNS, _("Stan po korekcie") if before else ""),
        ),
    )


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text) if text else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _summary_section(fa: Node, currency: str) -> Section:
    rows, with_pln = [], False
    for net_tag, vat_tag, pln_tag, label in labels.RATE_GROUPS:
        net, vat = fa.get(net_tag), fa.get(vat_tag) if vat_tag else ""
        pln = fa.get(pln_tag) if pln_tag else ""
        if not any(_decimal(v) for v in (net, vat, pln)):
            continue  # the official summary leaves out rates with nothing in them
        with_pln = with_pln or bool(pln)
        gross = _decimal(net) + _decimal(vat)
        rows.append(
            [
                str(label),
                fmt.amount(net or "0"),
                fmt.amount(vat or "0"),
                fmt.amount(gross),
                fmt.amount(pln),
            ]
        )
    numbered = [[str(n), *row] for n, row in enumerate(rows, start=1)]
    columns = [
        Column(_("Lp.")),
        Column(_("Stawka podatku")),
        Column(_("Kwota netto"), numeric=True),
        Column(_("Kwota podatku"), numeric=True),
        Column(_("Kwota brutto"), numeric=True),
        Column(_("Kwota podatku PLN"), numeric=True),
    ]
    summary = table(columns, numbered, keep=5)
    return Section("summary", _("Podsumowanie stawek podatku"), blocks(summary))


def _annotations_section(fa: Node) -> Section:
    notes = fa.child("Adnotacje")
    if notes is None:
        return Section("annotations", _("Adnotacje"), [])
    texts = []
    if notes.flag("P_16"):
        texts.append(_("Metoda kasowa"))
    if notes.flag("P_17"):
        texts.append(_("Samofakturowanie"))
    if notes.flag("P_18"):
        texts.append(_("Odwrotne obciążenie"))
    if notes.flag("P_18A"):
        texts.append(_("Mechanizm podzielonej płatności"))
    if notes.flag("P_23"):
        texts.append(
            _("Procedura uproszczona - art. 135 ust. 1 pkt 4 lit. b i c oraz ust. 2 ustawy")
        )
    exemption = notes.child("Zwolnienie")
    exemption_lines: list[Line] = []
    if exemption is not None:
        exemption.get("P_19N")
        if exemption.flag("P_19"):
            texts.append(_("Dostawa towarów lub świadczenie usług zwolnionych od podatku"))
        exemption_lines = (
            line(_("Przepis ustawy albo aktu wydanego na podstawie ustawy"), exemption.get("P_19A"))
            + line(_("Przepis dyrektywy 2006/112/WE"), exemption.get("P_19B"))
            + line(_("Inna podstawa prawna"), exemption.get("P_19C"))
        )
    margin = notes.child("PMarzy")
    if margin is not None:
        margin.get("P_PMarzyN")
        for tag, text in (
            ("P_PMarzy_2", _("Procedura marży dla biur podróży")),
            ("P_PMarzy_3_1", _("Procedura marży - towary używane")),
            ("P_PMarzy_3_2", _("Procedura marży - dzieła sztuki")),
            ("P_PMarzy_3_3", _("Procedura marży - przedmioty kolekcjonerskie i antyki")),
        ):
            if margin.flag(tag):
                texts.append(text)
        if margin.flag("P_PMarzy") and not texts:
            texts.append(_("Procedura marży"))
    transport_blocks = _new_transport(notes.child("NoweSrodkiTransportu"), texts)
    return Section(
        "annotations",
        _("Adnotacje"),
        blocks(
            Notes(texts), Fields(exemption_lines, title=_("Podstawa zwolnienia")), *transport_blocks
        ),
    )


def _new_transport(node: Node | None, texts: list[str]) -> list[Block]:
    if node is None:
        return []
    node.get("P_22N")
    if node.flag("P_22"):
        texts.append(_("Wewnątrzwspólnotowa dostawa nowych środków transportu"))
    if node.flag("P_42_5"):
        texts.append(_("Obowiązek, o którym mowa w art. 42 ust. 5 ustawy"))
    spec = (
        (_("Data dopuszczenia do użytku"), "P_22A", False, fmt.day),
        (_("Numer wiersza"), "P_NrWierszaNST", False, str),
        (_("Marka"), "P_22BMK", False, str),
        (_("Model"), "P_22BMD", False, str),
        (_("Kolor"), "P_22BK", False, str),
        (_("Numer rejestracyjny"), "P_22BNR", False, str),
        (_("Rok produkcji"), "P_22BRP", False, str),
        (_("Przebieg pojazdu"), "P_22B", False, str),
        (_("Numer VIN"), "P_22B1", False, str),
        (_("Numer nadwozia"), "P_22B2", False, str),
        (_("Numer podwozia"), "P_22B3", False, str),
        (_("Numer ramy"), "P_22B4", False, str),
        (_("Typ pojazdu"), "P_22BT", False, str),
        (_("Liczba godzin roboczych (jednostka pływająca)"), "P_22C", False, str),
        (_("Numer kadłuba"), "P_22C1", False, str),
        (_("Liczba godzin roboczych (statek powietrzny)"), "P_22D", False, str),
        (_("Numer fabryczny"), "P_22D1", False, str),
    )
    return blocks(
        line_table(node.children("NowySrodekTransportu"), spec, _("Nowe środki transportu"))
    )


def _additional_section(fa: Node) -> Section:
    statements = []
    if fa.flag("FP"):
        statements.append("- " + _("Faktura, o której mowa w art. 109 ust. 3d ustawy"))
    if fa.flag("TP"):
        statements.append(
            "- "
            + _(
                "Istniejące powiązania między nabywcą a dokonującym dostawy towarów lub usługodawcą"
            )
        )
    excise = fa.get("ZwrotAkcyzy")
    if excise == "1":
        statements.append(
            "- "
            + _(
                "Informacja dodatkowa związana ze zwrotem podatku akcyzowego zawartego w cenie "
                "oleju napędowego"
            )
        )
    return Section(
        "additional",
        _("Dodatkowe informacje"),
        blocks(Notes(statements), parts.description_table(fa)),
    )


def _payment_section(payment: Node | None) -> Section:
    if payment is None:
        return Section("payment", _("Płatność"), [])
    status = _("Brak zapłaty")
    partial = payment.get("ZnacznikZaplatyCzesciowej")
    if payment.flag("Zaplacono"):
        status = _("Zapłacono")
    elif partial == "1":
        status = _("Zapłata częściowa")
    elif partial == "2":
        status = _("Zapłacono w całości w częściach")
    lines = line(_("Informacja o płatności"), status)
    lines += line(_("Data zapłaty"), fmt.day(payment.get("DataZaplaty")))
    lines += line(
        _("Forma płatności"), labels.word(labels.PAYMENT_FORMS, payment.get("FormaPlatnosci"))
    )
    if payment.flag("PlatnoscInna"):
        lines += line(_("Forma płatności"), _("Płatność inna"))
    lines += line(_("Opis innej formy płatności"), payment.get("OpisPlatnosci"))
    parts_rows = []
    for item in payment.children("ZaplataCzesciowa"):
        item.get("PlatnoscInna")
        form = labels.word(labels.PAYMENT_FORMS, item.get("FormaPlatnosci")) or item.get(
            "OpisPlatnosci"
        )
        parts_rows.append([fmt.day(item.get("DataZaplatyCzesciowej")),
                           fmt.amount(item.get("KwotaZaplatyCzesciowej")), form])  # fmt: skip
    terms = []
    for term in payment.children("TerminPlatnosci"):
        described = term.child("TerminOpis")
        words = ""
        if described is not None:
            words = " ".join(v for v in (described.get("Ilosc"), described.get("Jednostka"),
                                         described.get("ZdarzeniePoczatkowe")) if v)  # fmt: skip
        terms.append([fmt.day(term.get("Termin")), words])
    accounts = [
        parts.bank_account_box(a, _("Numer rachunku bankowego"))
        for a in payment.children("RachunekBankowy")
    ]
    accounts += [parts.bank_account_box(a, _("Numer rachunku bankowego faktora"))
                 for a in payment.children("RachunekBankowyFaktora")]  # fmt: skip
    discount = payment.child("Skonto")
    discount_lines = []
    if discount is not None:
        discount_lines = line(_("Warunki skonta"), discount.get("WarunkiSkonta")) + line(
            _("Wysokość skonta"), discount.get("WysokoscSkonta")
        )
    link = payment.get("LinkDoPlatnosci")
    extra = line(_("Link do płatności bezgotówkowej"), link, href=link) + line(
        _("Identyfikator płatności KSeF"), payment.get("IPKSeF")
    )
    return Section(
        "payment",
        _("Płatność"),
        blocks(
            Fields(lines),
            table(
                [
                    Column(_("Data zapłaty częściowej")),
                    Column(_("Kwota zapłaty częściowej"), numeric=True),
                    Column(_("Forma płatności")),
                ],
                parts_rows,
                title=_("Zapłaty częściowe"),
            ),
            table(
                [Column(_("Termin płatności")), Column(_("Opis terminu płatności"))], terms, keep=0
            ),
            Fields(extra),
            Columns(accounts) if accounts else None,
            Fields(discount_lines, title=_("Skonto")),
        ),
    )


def _terms_section(terms: Node | None) -> Section:
    if terms is None:
        return Section("terms", _("Warunki transakcji"), [])
    contracts = [[fmt.day(c.get("DataUmowy")), c.get("NrUmowy")] for c in terms.children("Umowy")]
    orders = [
        [fmt.day(o.get("DataZamowienia")), o.get("NrZamowienia")]
        for o in terms.children("Zamowienia")
    ]
    lines = line(_("Numery partii towaru"), ", ".join(terms.all("NrPartiiTowaru")))
    lines += line(_("Warunki dostawy"), terms.get("WarunkiDostawy"))
    lines += line(_("Kurs umowny"), fmt.quantity(terms.get("KursUmowny")))
    lines += line(_("Waluta umowna"), terms.get("WalutaUmowna"))
    if terms.flag("PodmiotPosredniczacy"):
        lines += line(
            _("Podmiot pośredniczący"),
            _("dostawa dokonana przez podmiot, o którym mowa w art. 22 ust. 2d ustawy"),
        )
    return Section(
        "terms",
        _("Warunki transakcji"),
        blocks(
            table(
                [Column(_("Data umowy")), Column(_("Numer umowy"))],
                contracts,
                title=_("Umowy"),
                keep=0,
            ),
            table(
                [Column(_("Data zamówienia")), Column(_("Numer zamówienia"))],
                orders,
                title=_("Zamówienie"),
                keep=0,
            ),
            Fields(lines),
            *[_transport_box(t, n) for n, t in enumerate(terms.children("Transport"), start=1)],
        ),
    )


def _transport_box(transport: Node, position: int) -> Box:
    kind = labels.word(labels.TRANSPORT_KINDS, transport.get("RodzajTransportu"))
    transport.get("TransportInny")
    cargo = labels.word(labels.CARGO_KINDS, transport.get("OpisLadunku"))
    transport.get("LadunekInny")
    lines = line(_("Rodzaj transportu"), kind or transport.get("OpisInnegoTransportu"))
    if kind:
        lines += line(_("Opis innego rodzaju transportu"), transport.get("OpisInnegoTransportu"))
    lines += line(_("Numer zlecenia transportu"), transport.get("NrZleceniaTransportu"))
    lines += line(_("Rodzaj ładunku"), cargo) + line(
        _("Opis innego ładunku"), transport.get("OpisInnegoLadunku")
    )
    lines += line(_("Jednostka opakowania"), transport.get("JednostkaOpakowania"))
    lines += line(
        _("Data i godzina rozpoczęcia transportu"),
        fmt.moment(transport.get("DataGodzRozpTransportu")),
    )
    lines += line(
        _("Data i godzina zakończenia transportu"),
        fmt.moment(transport.get("DataGodzZakTransportu")),
    )
    inner: list[Block | None] = [Fields(lines)]
    carrier = transport.child("Przewoznik")
    if carrier is not None:
        inner.append(
            Fields(
                parts.identity_lines(carrier.child("DaneIdentyfikacyjne")), title=_("Przewoźnik")
            )
        )
        inner.append(parts.address_block(carrier.child("AdresPrzewoznika"), _("Adres przewoźnika")))
    inner.append(parts.address_block(transport.child("WysylkaZ"), _("Adres miejsca wysyłki")))
    for via in transport.children("WysylkaPrzez"):
        inner.append(parts.address_block(via, _("Adres pośredni wysyłki")))
    inner.append(parts.address_block(transport.child("WysylkaDo"), _("Adres miejsca docelowego")))
    return Box(_("Transport %(n)d") % {"n": position}, blocks(*inner))


def _other_info_section(fa: Node, footer: Node | None) -> Section:
    wz = fa.all("WZ")
    return Section(
        "other",
        _("Pozostałe informacje"),
        blocks(
            Notes(wz, title=_("Numery dokumentów magazynowych WZ")),
            parts.footer_table(footer),
        ),
    )
