"""Parts shared by the FA (2), FA (3) and FA_RR renderers: parties, addresses, corrected
invoices, settlements, bank accounts, free-form descriptions, registers and the footer.

Each builder takes a :class:`~invoices.documents.xmlread.Node`, consumes what it shows and
returns blocks of :mod:`invoices.documents.model` (None when the part is absent).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from invoices.documents import formatting as fmt
from invoices.documents import labels
from invoices.documents.model import (
    Block,
    Box,
    Column,
    CorrectedInvoice,
    Fields,
    Line,
    Notes,
    Table,
    blocks,
    line,
    table,
)
from invoices.documents.xmlread import Node


def identity_lines(data: Node | None) -> list[Line]:
    """DaneIdentyfikacyjne: NIP, EU VAT number, other tax id or none, and the name."""
    if data is None:
        return []
    lines = line(_("NIP"), data.get("NIP"))
    lines += line(_("Identyfikator wewnętrzny"), data.get("IDWew"))
    eu_code, eu_number = data.get("KodUE"), data.get("NrVatUE")
    if eu_code or eu_number:
        lines += line(_("Numer VAT-UE"), f"{eu_code}{eu_number}")
    country, other = data.get("KodKraju"), data.get("NrID")
    if other or country:
        lines += line(_("Identyfikator podatkowy inny"), f"{country} {other}".strip())
    if data.flag("BrakID"):
        lines += line(_("Identyfikator podatkowy"), _("brak"))
    lines += line(_("Nazwa"), data.get("Nazwa"))
    return lines


def address_lines(address: Node | None) -> list[str]:
    if address is None:
        return []
    values = [
        address.get("AdresL1"),
        address.get("AdresL2"),
        labels.country(address.get("KodKraju")),
    ]
    gln = address.get("GLN")
    if gln:
        values.append(f"GLN: {gln}")
    return [value for value in values if value]


def address_block(address: Node | None, title: str) -> Notes | None:
    lines = address_lines(address)
    return Notes(lines, title=title) if lines else None


def contact_lines(party: Node) -> list[Line]:
    lines: list[Line] = []
    for contact in party.children("DaneKontaktowe"):
        for tag in ("Email", "EmailPU"):
            lines += line(_("E-mail"), contact.get(tag))
        for tag in ("Telefon", "TelefonPU"):
            lines += line(_("Tel."), contact.get(tag))
    return lines


def party_box(party: Node, title: str, *extra: Line) -> Box:
    """One party as the official layout shows it: identity, address, correspondence
    address, contact data (with the client number), then the party's markers."""
    ids = line(_("Prefiks VAT"), party.get("PrefiksPodatnika"))
    ids += line(_("Numer EORI"), party.get("NrEORI"))
    ids += line(_("Identyfikator nabywcy"), party.get("IDNabywcy"))
    ids += identity_lines(party.child("DaneIdentyfikacyjne"))
    ids += line(
        _("Status podatnika"),
        labels.word(labels.TAXPAYER_STATUSES, party.get("StatusInfoPodatnika")),
    )
    contact = contact_lines(party)
    contact += line(_("Numer klienta"), party.get("NrKlienta"))
    contact += line(_("Numer kontrahenta"), party.get("NrKontrahenta"))
    markers = [
        *line(
            _("Faktura dotyczy jednostki podrzędnej JST"),
            labels.word(labels.YES_NO, party.get("JST")),
        ),
        *line(_("Faktura dotyczy członka grupy GV"), labels.word(labels.YES_NO, party.get("GV"))),
        *extra,
    ]
    return Box(
        title,
        blocks(
            Fields(ids),
            address_block(party.child("Adres"), _("Adres")),
            address_block(party.child("AdresKoresp"), _("Adres do korespondencji")),
            Fields(contact, title=_("Dane kontaktowe")),
            Fields(markers),
        ),
    )


def third_party_box(party: Node, position: int) -> Box:
    role = labels.word(labels.THIRD_PARTY_ROLES, party.get("Rola"))
    party.get("RolaInna")  # the "other role" marker: OpisRoli says which
    other = party.get("OpisRoli")
    share = party.get("Udzial")
    extra = [
        *line(_("Rola"), role),
        *line(_("Rola inna"), other),
        *line(_("Udział"), f"{fmt.quantity(share)}%" if share else ""),
    ]
    return party_box(party, _("Podmiot inny %(n)d") % {"n": position}, *extra)


def authorised_box(party: Node) -> Box:
    role = labels.word(labels.AUTHORISED_ROLES, party.get("RolaPU"))
    return party_box(party, _("Podmiot upoważniony"), *line(_("Rola"), role))


def corrected_invoices(fa: Node) -> list[CorrectedInvoice]:
    found = []
    for position, data in enumerate(fa.children("DaneFaKorygowanej"), start=1):
        data.get("NrKSeF")  # the "has a KSeF number" marker: the number itself follows
        found.append(
            CorrectedInvoice(
                position=position,
                number=data.get("NrFaKorygowanej"),
                issue_date=fmt.day(data.get("DataWystFaKorygowanej")),
                ksef_number=data.get("NrKSeFFaKorygowanej"),
                outside_ksef=data.flag("NrKSeFN"),
            )
        )
    return found


def corrected_party_boxes(fa: Node) -> list[Box]:
    boxes = [
        party_box(p, _("Dane sprzedawcy z faktury korygowanej")) for p in fa.children("Podmiot1K")
    ]
    boxes += [
        party_box(p, _("Dane nabywcy z faktury korygowanej")) for p in fa.children("Podmiot2K")
    ]
    return boxes


def settlement_blocks(fa: Node, currency: str) -> list[Block]:
    """Rozliczenie: charges and deductions added to or taken from the amount due."""
    settlement = fa.child("Rozliczenie")
    if settlement is None:
        return []
    columns = [Column(_("Lp.")), Column(_("Kwota"), numeric=True), Column(_("Powód"))]
    charges = [
        [str(n), fmt.amount(item.get("Kwota")), item.get("Powod")]
        for n, item in enumerate(settlement.children("Obciazenia"), start=1)
    ]
    deductions = [
        [str(n), fmt.amount(item.get("Kwota")), item.get("Powod")]
        for n, item in enumerate(settlement.children("Odliczenia"), start=1)
    ]
    money = lambda value: f"{fmt.amount(value)} {currency}" if value else ""  # noqa: E731
    return blocks(
        table(columns, charges, title=_("Obciążenia")),
        Fields(line(_("Suma obciążeń"), money(settlement.get("SumaObciazen")))),
        table(columns, deductions, title=_("Odliczenia")),
        Fields(
            line(_("Suma odliczeń"), money(settlement.get("SumaOdliczen")))
            + line(_("Kwota należności do zapłaty"), money(settlement.get("DoZaplaty")))
            + line(
                _("Kwota nadpłacona do rozliczenia/zwrotu"), money(settlement.get("DoRozliczenia"))
            )
        ),
    )


def bank_account_box(account: Node, title: str) -> Box:
    own = labels.word(labels.OWN_BANK_ACCOUNTS, account.get("RachunekWlasnyBanku"))
    return Box(
        title,
        blocks(
            Fields(
                line(_("Pełny numer rachunku"), account.get("NrRB"))
                + line(_("Kod SWIFT"), account.get("SWIFT"))
                + line(_("Rachunek własny banku"), own)
                + line(_("Nazwa banku"), account.get("NazwaBanku"))
                + line(_("Opis rachunku"), account.get("OpisRachunku"))
            )
        ),
    )


def description_table(fa: Node) -> Table | None:
    """DodatkowyOpis: free key/value pairs, optionally tied to a line."""
    rows = [
        [str(n), item.get("NrWiersza"), item.get("Klucz"), item.get("Wartosc")]
        for n, item in enumerate(fa.children("DodatkowyOpis"), start=1)
    ]
    columns = [
        Column(_("Lp.")),
        Column(_("Numer wiersza")),
        Column(_("Rodzaj informacji")),
        Column(_("Treść informacji")),
    ]
    return table(columns, rows, title=_("Dodatkowy opis"))


def registers_table(footer: Node | None) -> Table | None:
    if footer is None:
        return None
    rows = [
        [item.get("PelnaNazwa"), item.get("KRS"), item.get("REGON"), item.get("BDO")]
        for item in footer.children("Rejestry")
    ]
    columns = [Column(_("Pełna nazwa")), Column(_("KRS")), Column(_("REGON")), Column(_("BDO"))]
    return table(columns, rows, keep=0)


def footer_table(footer: Node | None) -> Table | None:
    if footer is None:
        return None
    rows = [[item.get("StopkaFaktury")] for item in footer.children("Informacje")]
    return table([Column(_("Stopka faktury"))], [row for row in rows if row[0]])


def attachment_blocks(attachment: Node | None) -> list[Block]:
    """Zalacznik: blocks of key/value metadata, paragraphs and tables."""
    if attachment is None:
        return []
    result: list[Block] = []
    for data in attachment.children("BlokDanych"):
        inner: list[Block | None] = [
            Fields([Line(m.get("ZKlucz"), m.get("ZWartosc")) for m in data.children("MetaDane")]),
        ]
        for text in data.children("Tekst"):
            inner.append(Notes(text.all("Akapit")))
        for grid in data.children("Tabela"):
            inner.append(
                Fields(
                    [Line(m.get("TKlucz"), m.get("TWartosc")) for m in grid.children("TMetaDane")]
                )
            )
            inner.append(_attachment_table(grid))
        result.append(Box(data.get("ZNaglowek"), blocks(*inner)))
    return result


def _attachment_table(grid: Node) -> Table:
    header = grid.child("TNaglowek")
    columns: list[Column] = []
    for column in header.children("Kol") if header is not None else []:
        kind = column.attr("Typ")
        columns.append(Column(" ".join(column.all("NKom")), numeric=kind in ("dec", "int")))
    rows = [row.all("WKom") for row in grid.children("Wiersz")]
    totals = [total.all("SKom") for total in grid.children("Suma")]
    width = max([len(columns), *(len(r) for r in rows), *(len(t) for t in totals)], default=0)
    columns += [Column("") for _ in range(width - len(columns))]
    result = Table(columns=columns, rows=rows, title=grid.get("Opis"))
    if totals:
        result.footer = totals[0]
    return result
