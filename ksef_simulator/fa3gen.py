"""Schema-valid FA(3) invoices from a handful of templates, deterministic from a seed.

Templates (the shapes an accounting office sees most):

* ``vat``     domestic VAT invoice in PLN, lines at 23 %, 8 %, 5 %, 0 % (domestic) and exempt;
* ``foreign`` domestic buyer, foreign currency, line exchange rates and ``P_14_xW`` (VAT in PLN);
* ``eu``      intra-community supply (0 % WDT) in EUR to a buyer identified by an EU VAT number;
* ``kor``     correction (``KOR``) of an earlier invoice: ``DaneFaKorygowanej``, "before" rows
  marked ``StanPrzed`` and the differences in ``P_13_x``/``P_14_x``/``P_15``;
* ``zal``     advance invoice (``ZAL``) with the ordered goods in ``Zamowienie``.

The same seed always yields the same bytes, so tests and benchmarks are reproducible.
Element order follows `schemat_FA(3)_v1-0E.xsd`; the tests validate the output against it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from xml.sax.saxutils import escape

from ksef_simulator.fa3xml import FA3_NAMESPACE, InvoiceFacts, PartyIdentifier, ThirdSubject

TEMPLATES = ("vat", "foreign", "eu", "kor", "zal")
KIND_BY_TEMPLATE = {"vat": "VAT", "foreign": "VAT", "eu": "VAT", "kor": "KOR", "zal": "ZAL"}

_BASE_TYPES_NAMESPACE = "http://crd.gov.pl/xml/schematy/dziedzinowe/mf/2022/01/05/eD/DefinicjeTypy/"
# FA(3) refuses DataWytworzeniaFa before the schema came into force.
_SCHEMA_START = date(2025, 9, 1)
_CENT = Decimal("0.01")
_NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)

# Rate (P_12) -> (net field, VAT field or None, VAT percentage).
_RATE_FIELDS: dict[str, tuple[str, str | None, Decimal]] = {
    "23": ("P_13_1", "P_14_1", Decimal(23)),
    "8": ("P_13_2", "P_14_2", Decimal(8)),
    "5": ("P_13_3", "P_14_3", Decimal(5)),
    "0 KR": ("P_13_6_1", None, Decimal(0)),
    "0 WDT": ("P_13_6_2", None, Decimal(0)),
    "zw": ("P_13_7", None, Decimal(0)),
}
_FIELD_ORDER = ("P_13_1", "P_13_2", "P_13_3", "P_13_6_1", "P_13_6_2", "P_13_7")

_COMPANY_STEMS = (
    "Agro", "Budex", "Cyfra", "Delta", "Elektro", "Farma", "Graf", "Hydro", "Inter", "Jantar",
    "Kompas", "Lumen", "Metal", "Nord", "Optima", "Pol", "Rolmex", "Stal", "Tech", "Wisła",
)  # fmt: skip
_COMPANY_TAILS = ("-Pol", "tex", "mar", "bud", "soft", "trans", "med", "serwis", "net", "plast")
_LEGAL_FORMS = ("sp. z o.o.", "S.A.", "sp.j.", "sp. k.", "P.H.U.", "s.c.")
_CITIES = (
    ("00-001", "Warszawa"), ("30-002", "Kraków"), ("50-003", "Wrocław"), ("60-004", "Poznań"),
    ("80-005", "Gdańsk"), ("90-006", "Łódź"), ("20-007", "Lublin"), ("40-008", "Katowice"),
)  # fmt: skip
_STREETS = ("Kwiatowa", "Polna", "Leśna", "Słoneczna", "Krótka", "Szkolna", "Ogrodowa", "Lipowa")
_EU_BUYERS = (
    ("DE", "Handelshaus Berger GmbH", "Berlin"), ("CZ", "Novák Trade s.r.o.", "Praha"),
    ("SK", "Tatra Obchod s.r.o.", "Bratislava"), ("LT", "Baltic Supply UAB", "Vilnius"),
    ("FR", "Maison Durand SARL", "Lyon"), ("NL", "Van Dijk Handel B.V.", "Utrecht"),
)  # fmt: skip
_GOODS = (
    ("Papier biurowy A4", "ryza", ("23",)), ("Usługa księgowa", "usł.", ("23",)),
    ("Naprawa serwisowa", "usł.", ("23",)), ("Materiały budowlane", "kg", ("23", "8")),
    ("Usługa budowlana", "m2", ("8",)), ("Książka specjalistyczna", "szt.", ("5",)),
    ("Żywność - pieczywo", "kg", ("5",)), ("Szkolenie zawodowe", "usł.", ("zw",)),
    ("Usługa medyczna", "usł.", ("zw",)), ("Eksport usług IT", "godz.", ("0 KR",)),
    ("Licencja oprogramowania", "szt.", ("23",)), ("Transport krajowy", "km", ("8", "23")),
)  # fmt: skip
_EXCHANGE_RATES = {"EUR": Decimal("4.2815"), "USD": Decimal("3.9421"), "GBP": Decimal("5.0133")}
_EXEMPTION_BASIS = "art. 43 ust. 1 pkt 29 ustawy o VAT"


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _amount(value: Decimal) -> str:
    return f"{_cents(value) + 0:.2f}"  # "+ 0" turns -0.00 into 0.00


def nip_checksum_ok(nip: str) -> bool:
    if len(nip) != 10 or not nip.isdigit():
        return False
    remainder = sum(int(d) * w for d, w in zip(nip, _NIP_WEIGHTS, strict=False)) % 11
    return remainder != 10 and remainder == int(nip[9])


def random_nip(rng: random.Random) -> str:
    """A NIP with a valid checksum that also fits the schema pattern (no 0, no '00' after it)."""
    while True:
        digits = [rng.randint(1, 9), rng.randint(0, 9), rng.randint(1, 9)]
        digits += [rng.randint(0, 9) for _ in range(6)]
        remainder = sum(d * w for d, w in zip(digits, _NIP_WEIGHTS, strict=True)) % 11
        if remainder != 10:
            return "".join(map(str, digits)) + str(remainder)


@dataclass(frozen=True)
class Party:
    name: str
    nip: str | None = None
    eu_country: str | None = None  # KodUE of a buyer identified by an EU VAT number
    eu_vat_number: str | None = None
    street: str = "ul. Polna 1"
    postal_city: str = "00-001 Warszawa"
    country: str = "PL"
    email: str | None = None


@dataclass(frozen=True)
class Line:
    name: str
    unit: str
    quantity: Decimal
    unit_price: Decimal
    rate: str  # P_12

    @property
    def net(self) -> Decimal:
        return _cents(self.quantity * self.unit_price)


@dataclass(frozen=True)
class GeneratedInvoice:
    xml: bytes
    template: str
    kind: str
    number: str
    issue_date: date
    seller: Party
    buyer: Party
    currency: str
    lines: tuple[Line, ...]
    net: Decimal
    vat: Decimal
    gross: Decimal
    exchange_rate: Decimal | None = None
    third_party: Party | None = None
    third_party_role: int = 4
    vat_pln: Decimal = Decimal(0)  # sum of P_14_xW (foreign currency) or of P_14_x

    def facts(self) -> InvoiceFacts:
        """What extract_facts() reads from `xml`, without parsing it (fast seeding)."""
        third: tuple[ThirdSubject, ...] = ()
        if self.third_party is not None:
            third = (
                ThirdSubject(
                    _identifier(self.third_party), self.third_party.name, self.third_party_role
                ),
            )
        return InvoiceFacts(
            seller_nip=self.seller.nip or "",
            seller_name=self.seller.name,
            buyer=_identifier(self.buyer),
            buyer_name=self.buyer.name,
            invoice_number=self.number,
            issue_date=self.issue_date,
            kind=self.kind,
            currency=self.currency,
            net_amount=self.net,
            vat_amount_pln=self.vat_pln,
            gross_amount=self.gross,
            is_self_invoicing=False,
            has_attachment=False,
            third_subjects=third,
        )


def _identifier(party: Party) -> PartyIdentifier:
    if party.nip:
        return PartyIdentifier("Nip", party.nip)
    if party.eu_country and party.eu_vat_number:
        return PartyIdentifier("VatUe", f"{party.eu_country}{party.eu_vat_number}")
    return PartyIdentifier("None")


@dataclass
class _Totals:
    net: dict[str, Decimal] = field(default_factory=dict)
    vat: dict[str, Decimal] = field(default_factory=dict)

    def add(self, rate: str, net: Decimal) -> None:
        net_field, _, _ = _RATE_FIELDS[rate]
        self.net[net_field] = self.net.get(net_field, Decimal(0)) + net

    def finish(self) -> None:
        """VAT per rate is computed on the rate's net total, as art. 106e requires."""
        for net_field, vat_field, percent in _RATE_FIELDS.values():
            if vat_field and net_field in self.net:
                self.vat[vat_field] = _cents(self.net[net_field] * percent / 100)

    @property
    def net_total(self) -> Decimal:
        return sum(self.net.values(), Decimal(0))

    @property
    def vat_total(self) -> Decimal:
        return sum(self.vat.values(), Decimal(0))


def _totals_of(lines: tuple[Line, ...], sign: int = 1) -> _Totals:
    totals = _Totals()
    for line in lines:
        totals.add(line.rate, line.net * sign)
    totals.finish()
    return totals


def _difference(before: _Totals, after: _Totals) -> _Totals:
    diff = _Totals()
    for key in set(before.net) | set(after.net):
        diff.net[key] = after.net.get(key, Decimal(0)) - before.net.get(key, Decimal(0))
    for key in set(before.vat) | set(after.vat):
        diff.vat[key] = after.vat.get(key, Decimal(0)) - before.vat.get(key, Decimal(0))
    return diff


class _Writer:
    """A minimal, fast XML writer producing tab-indented output like the MF samples."""

    def __init__(self) -> None:
        self.parts: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>\n']
        self.depth = 0
        self._stack: list[str] = []

    def leaf(self, name: str, value: object) -> None:
        text = str(value)
        if "&" in text or "<" in text or ">" in text:
            text = escape(text)
        self.parts.append(f"{_TABS[self.depth]}<{name}>{text}</{name}>\n")

    def node(self, name: str, attributes: str = "") -> _Writer:
        self.parts.append(f"{_TABS[self.depth]}<{name}{attributes}>\n")
        self.depth += 1
        self._stack.append(name)
        return self

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        self.depth -= 1
        self.parts.append(f"{_TABS[self.depth]}</{self._stack.pop()}>\n")

    def bytes(self) -> bytes:
        return "".join(self.parts).encode("utf-8")


_TABS = tuple("\t" * depth for depth in range(16))


@dataclass(frozen=True)
class _Document:
    template: str
    kind: str
    number: str
    issue_date: date
    sale_date: date
    created: str
    seller: Party
    buyer: Party
    currency: str
    exchange_rate: Decimal | None
    lines: tuple[tuple[Line, bool], ...]  # (line, StanPrzed)
    totals: _Totals
    gross: Decimal
    payment_due: date | None
    third_party: Party | None = None
    third_party_role: int = 4
    correction: tuple[str, date, str | None] | None = None  # number, date, KSeF number
    order_lines: tuple[Line, ...] = ()


def _write_party(out: _Writer, party: Party, *, buyer: bool) -> None:
    with out.node("DaneIdentyfikacyjne"):
        if party.nip:
            out.leaf("NIP", party.nip)
        elif party.eu_country and party.eu_vat_number:
            out.leaf("KodUE", party.eu_country)
            out.leaf("NrVatUE", party.eu_vat_number)
        else:
            out.leaf("BrakID", 1)
        out.leaf("Nazwa", party.name)
    with out.node("Adres"):
        out.leaf("KodKraju", party.country)
        out.leaf("AdresL1", party.street)
        out.leaf("AdresL2", party.postal_city)
    if party.email:
        with out.node("DaneKontaktowe"):
            out.leaf("Email", party.email)
    if buyer:
        out.leaf("JST", 2)
        out.leaf("GV", 2)


def _vat_pln(doc: _Document) -> Decimal:
    if doc.exchange_rate is None:
        return doc.totals.vat_total
    return sum((_cents(vat * doc.exchange_rate) for vat in doc.totals.vat.values()), Decimal(0))


def _write_amounts(out: _Writer, doc: _Document) -> None:
    totals = doc.totals
    for net_field in _FIELD_ORDER:
        if net_field not in totals.net:
            continue
        out.leaf(net_field, _amount(totals.net[net_field]))
        vat_field = next(v for n, v, _ in _RATE_FIELDS.values() if n == net_field)
        if vat_field:
            vat = totals.vat[vat_field]
            out.leaf(vat_field, _amount(vat))
            if doc.exchange_rate is not None:
                out.leaf(f"{vat_field}W", _amount(vat * doc.exchange_rate))
    out.leaf("P_15", _amount(doc.gross))


def _write_annotations(out: _Writer, doc: _Document) -> None:
    exempt = any(line.rate == "zw" for line, _ in doc.lines) or any(
        line.rate == "zw" for line in doc.order_lines
    )
    with out.node("Adnotacje"):
        for name in ("P_16", "P_17", "P_18", "P_18A"):
            out.leaf(name, 2)
        with out.node("Zwolnienie"):
            if exempt:
                out.leaf("P_19", 1)
                out.leaf("P_19A", _EXEMPTION_BASIS)
            else:
                out.leaf("P_19N", 1)
        with out.node("NoweSrodkiTransportu"):
            out.leaf("P_22N", 1)
        out.leaf("P_23", 2)
        with out.node("PMarzy"):
            out.leaf("P_PMarzyN", 1)


def _write_line(out: _Writer, number: int, line: Line, doc: _Document, before: bool) -> None:
    with out.node("FaWiersz"):
        out.leaf("NrWierszaFa", number)
        out.leaf("P_7", line.name)
        out.leaf("P_8A", line.unit)
        out.leaf("P_8B", f"{line.quantity:f}")
        out.leaf("P_9A", _amount(line.unit_price))
        out.leaf("P_11", _amount(line.net))
        out.leaf("P_12", line.rate)
        if doc.exchange_rate is not None:
            out.leaf("KursWaluty", f"{doc.exchange_rate:f}")
        if before:
            out.leaf("StanPrzed", 1)


def _write_fa(out: _Writer, doc: _Document) -> None:
    with out.node("Fa"):
        out.leaf("KodWaluty", doc.currency)
        out.leaf("P_1", doc.issue_date.isoformat())
        out.leaf("P_1M", doc.seller.postal_city.split(" ", 1)[-1])
        out.leaf("P_2", doc.number)
        out.leaf("P_6", doc.sale_date.isoformat())
        _write_amounts(out, doc)
        _write_annotations(out, doc)
        out.leaf("RodzajFaktury", doc.kind)
        if doc.correction is not None:
            corrected_number, corrected_date, corrected_ksef = doc.correction
            out.leaf("PrzyczynaKorekty", "Rabat potransakcyjny / obniżka ceny")
            out.leaf("TypKorekty", 2)
            with out.node("DaneFaKorygowanej"):
                out.leaf("DataWystFaKorygowanej", corrected_date.isoformat())
                out.leaf("NrFaKorygowanej", corrected_number)
                if corrected_ksef:
                    out.leaf("NrKSeF", 1)
                    out.leaf("NrKSeFFaKorygowanej", corrected_ksef)
                else:
                    out.leaf("NrKSeFN", 1)
        for index, (line, before) in enumerate(doc.lines):
            _write_line(out, index // 2 + 1 if doc.correction else index + 1, line, doc, before)
        with out.node("Platnosc"):
            if doc.payment_due is not None:
                with out.node("TerminPlatnosci"):
                    out.leaf("Termin", doc.payment_due.isoformat())
            out.leaf("FormaPlatnosci", 6)
        if doc.order_lines:
            _write_order(out, doc)


def _write_order(out: _Writer, doc: _Document) -> None:
    with out.node("Zamowienie"):
        order_totals = _totals_of(doc.order_lines)
        out.leaf("WartoscZamowienia", _amount(order_totals.net_total + order_totals.vat_total))
        for number, line in enumerate(doc.order_lines, start=1):
            percent = _RATE_FIELDS[line.rate][2]
            with out.node("ZamowienieWiersz"):
                out.leaf("NrWierszaZam", number)
                out.leaf("P_7Z", line.name)
                out.leaf("P_8AZ", line.unit)
                out.leaf("P_8BZ", f"{line.quantity:f}")
                out.leaf("P_9AZ", _amount(line.unit_price))
                out.leaf("P_11NettoZ", _amount(line.net))
                out.leaf("P_11VatZ", _amount(line.net * percent / 100))
                out.leaf("P_12Z", line.rate)


def render(doc: _Document) -> bytes:
    out = _Writer()
    namespaces = (
        f' xmlns:etd="{_BASE_TYPES_NAMESPACE}"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        f' xmlns="{FA3_NAMESPACE}"'
    )
    with out.node("Faktura", namespaces):
        with out.node("Naglowek"):
            out.parts.append(
                f'{chr(9) * out.depth}<KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">'
                "FA</KodFormularza>\n"
            )
            out.leaf("WariantFormularza", 3)
            out.leaf("DataWytworzeniaFa", doc.created)
            out.leaf("SystemInfo", "ksef_simulator fa3gen")
        with out.node("Podmiot1"):
            _write_party(out, doc.seller, buyer=False)
        with out.node("Podmiot2"):
            _write_party(out, doc.buyer, buyer=True)
        if doc.third_party is not None:
            with out.node("Podmiot3"):
                _write_party(out, doc.third_party, buyer=False)
                out.leaf("Rola", doc.third_party_role)
        _write_fa(out, doc)
    return out.bytes()


class Fa3Generator:
    """Deterministic source of parties and invoices; one instance = one random stream."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - test data, not security
        self._counter = 0

    def party(self, nip: str | None = None) -> Party:
        rng = self.rng
        name = (
            f"{rng.choice(_COMPANY_STEMS)}{rng.choice(_COMPANY_TAILS)} {rng.choice(_LEGAL_FORMS)}"
        )
        postal, city = rng.choice(_CITIES)
        nip = nip or random_nip(rng)
        return Party(
            name=name,
            nip=nip,
            street=f"ul. {rng.choice(_STREETS)} {rng.randint(1, 120)}",
            postal_city=f"{postal} {city}",
            email=f"biuro{nip[-4:]}@example.pl",
        )

    def eu_party(self) -> Party:
        country, name, city = self.rng.choice(_EU_BUYERS)
        return Party(
            name=name,
            eu_country=country,
            eu_vat_number=f"{self.rng.randint(10**8, 10**9 - 1)}",
            street=f"Hauptstrasse {self.rng.randint(1, 99)}",
            postal_city=f"{self.rng.randint(10000, 99999)} {city}",
            country=country,
        )

    def _lines(self, count: int, rates: tuple[str, ...] | None = None) -> tuple[Line, ...]:
        rng = self.rng
        lines = []
        for _ in range(count):
            name, unit, allowed = rng.choice(_GOODS)
            rate = rng.choice(rates) if rates else rng.choice(allowed)
            quantity = Decimal(rng.choice((1, 1, 2, 3, 5, 10, 12, 25)))
            # Log-uniform prices: many small invoices, a few large ones.
            price = Decimal(str(round(10 ** rng.uniform(0.7, 4.3), 2)))
            lines.append(Line(name, unit, quantity, price, rate))
        return tuple(lines)

    def _number(self, template: str, issue_date: date) -> str:
        self._counter += 1
        prefix = {"kor": "FK", "zal": "FZ"}.get(template, "FV")
        return f"{prefix}/{issue_date:%Y/%m}/{self._counter:05d}"

    def _created(self, issue_date: date) -> str:
        day = max(issue_date, _SCHEMA_START)
        return f"{day.isoformat()}T{self.rng.randint(6, 20):02d}:{self.rng.randint(0, 59):02d}:00Z"

    def invoice(
        self,
        template: str,
        *,
        seller: Party,
        issue_date: date,
        buyer: Party | None = None,
        number: str | None = None,
        corrects: GeneratedInvoice | None = None,
        corrects_ksef_number: str | None = None,
        third_party: Party | None = None,
        currency: str | None = None,
    ) -> GeneratedInvoice:
        """One invoice of TEMPLATE; KOR corrects CORRECTS (or an invented pre-KSeF invoice)."""
        if template not in TEMPLATES:
            raise ValueError(f"unknown template {template!r}; choose from {TEMPLATES}")
        rng = self.rng
        number = number or self._number(template, issue_date)
        if template == "eu":
            buyer = buyer if buyer is not None and buyer.nip is None else self.eu_party()
        buyer = buyer or self.party()
        base = _Document(
            template=template,
            kind=KIND_BY_TEMPLATE[template],
            number=number,
            issue_date=issue_date,
            sale_date=issue_date - timedelta(days=rng.choice((0, 0, 1, 2, 5))),
            created=self._created(issue_date),
            seller=seller,
            buyer=buyer,
            currency="PLN",
            exchange_rate=None,
            lines=(),
            totals=_Totals(),
            gross=Decimal(0),
            payment_due=issue_date + timedelta(days=rng.choice((7, 14, 14, 30, 60))),
            third_party=third_party,
            third_party_role=rng.choice((4, 6, 1)),
        )
        doc = getattr(self, f"_doc_{template}")(base, corrects, corrects_ksef_number, currency)
        lines = tuple(line for line, before in doc.lines if not before) or doc.order_lines
        return GeneratedInvoice(
            xml=render(doc),
            template=template,
            kind=doc.kind,
            number=number,
            issue_date=issue_date,
            seller=seller,
            buyer=doc.buyer,
            currency=doc.currency,
            lines=lines,
            net=doc.totals.net_total,
            vat=doc.totals.vat_total,
            gross=doc.gross,
            exchange_rate=doc.exchange_rate,
            third_party=third_party,
            third_party_role=doc.third_party_role,
            vat_pln=_vat_pln(doc),
        )

    def _with_lines(self, doc: _Document, lines: tuple[Line, ...], **changes: object) -> _Document:
        totals = _totals_of(lines)
        return replace(
            doc,
            lines=tuple((line, False) for line in lines),
            totals=totals,
            gross=totals.net_total + totals.vat_total,
            **changes,  # type: ignore[arg-type]
        )

    def _doc_vat(self, doc: _Document, *_: object) -> _Document:
        return self._with_lines(doc, self._lines(self.rng.randint(1, 6)))

    def _doc_foreign(
        self, doc: _Document, _c: object, _k: object, currency: str | None
    ) -> _Document:
        code = currency or self.rng.choice(tuple(_EXCHANGE_RATES))
        rate = _EXCHANGE_RATES.get(code, Decimal("4.0000"))
        lines = self._lines(self.rng.randint(1, 4), rates=("23", "8"))
        return self._with_lines(doc, lines, currency=code, exchange_rate=rate)

    def _doc_eu(self, doc: _Document, *_: object) -> _Document:
        lines = self._lines(self.rng.randint(1, 3), rates=("0 WDT",))
        return self._with_lines(doc, lines, currency="EUR")

    def _doc_zal(self, doc: _Document, *_: object) -> _Document:
        order = self._lines(self.rng.randint(1, 3), rates=("23", "8"))
        order_totals = _totals_of(order)
        share = Decimal(self.rng.choice((10, 20, 30, 50))) / 100
        totals = _Totals()
        # The advance is split across rates in proportion to the ordered gross per rate.
        for rate in ("23", "8"):
            net_field, vat_field, percent = _RATE_FIELDS[rate]
            if net_field not in order_totals.net:
                continue
            assert vat_field is not None
            rate_gross = order_totals.net[net_field] + order_totals.vat[vat_field]
            advance = _cents(rate_gross * share)
            net = _cents(advance * 100 / (100 + percent))
            totals.net[net_field] = net
            totals.vat[vat_field] = advance - net
        return replace(
            doc,
            kind="ZAL",
            lines=(),
            order_lines=order,
            totals=totals,
            gross=totals.net_total + totals.vat_total,
            sale_date=doc.issue_date,
            payment_due=None,
        )

    def _doc_kor(
        self,
        doc: _Document,
        corrects: GeneratedInvoice | None,
        corrects_ksef_number: str | None,
        _currency: object,
    ) -> _Document:
        if corrects is None:
            original_date = doc.issue_date - timedelta(days=self.rng.randint(5, 40))
            corrects = self.invoice(
                "vat", seller=doc.seller, buyer=doc.buyer, issue_date=original_date
            )
            corrects_ksef_number = None
        before = corrects.lines
        discount = Decimal(self.rng.choice((5, 10, 15, 20, 30))) / 100
        after = tuple(
            replace(line, unit_price=_cents(line.unit_price * (1 - discount))) for line in before
        )
        diff = _difference(_totals_of(before), _totals_of(after))
        rows: list[tuple[Line, bool]] = []
        for old, new in zip(before, after, strict=True):
            rows += [(old, True), (new, False)]
        return replace(
            doc,
            kind="KOR",
            buyer=corrects.buyer,
            currency=corrects.currency,
            exchange_rate=corrects.exchange_rate,
            lines=tuple(rows),
            totals=diff,
            gross=diff.net_total + diff.vat_total,
            correction=(corrects.number, corrects.issue_date, corrects_ksef_number),
            sale_date=corrects.issue_date,
        )
