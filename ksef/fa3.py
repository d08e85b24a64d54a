"""Reading FA(3) e-invoices: a fast listing parser and offline XSD validation.

:func:`parse` turns the bytes of an FA(3) invoice (namespace
``http://crd.gov.pl/wzor/2025/06/25/13775/``, digest §9) into an :class:`InvoiceSummary`:
parties, number, dates, currency, kind, net/VAT per rate, totals, correction references,
line items, the order of an advance invoice and payment terms (dates or described terms,
partial payments, early-payment discount). It walks the tree once, child by child, comparing
Clark-notation tags — no XPath — so one core parses thousands of typical invoices per second
(``benchmarks/fa3_parse.py``).

:func:`validate` checks a document against the official XSD in a local folder, by default
the copy shipped with this package (:func:`ksef.schemas.schema_dir`). The XSD imports its
base types by absolute ``http://crd.gov.pl/...`` URL (Gotcha 26); a resolver maps those to
``bazowe/`` and refuses anything else, so validation never touches the network.

Both refuse documents with a DOCTYPE: KSeF invoices never carry one, and refusing it closes
the door on entity-expansion and external-entity attacks before they start.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import threading
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from lxml import etree

from ksef import schemas
from ksef.errors import (
    InvoiceParseError,
    InvoiceTooLargeError,
    InvoiceValidationError,
    MalformedXmlError,
    SchemaLoadError,
    UnsafeXmlError,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "FA3_NAMESPACE",
    "FA3_SCHEMA_FILENAME",
    "MAX_INVOICE_BYTES",
    "MAX_INVOICE_WITH_ATTACHMENT_BYTES",
    "AuthorizedParty",
    "BankAccount",
    "CorrectedInvoice",
    "IdentifierKind",
    "InvoiceSummary",
    "LineItem",
    "Order",
    "PartialPayment",
    "Party",
    "PartyIdentifier",
    "Payment",
    "PaymentTerm",
    "ProblemKind",
    "RateTotal",
    "SchemaProblem",
    "ThirdParty",
    "check_size",
    "document_root",
    "ensure_valid",
    "parse",
    "schema_problems",
    "validate",
]

FA3_NAMESPACE = "http://crd.gov.pl/wzor/2025/06/25/13775/"
FA3_SCHEMA_FILENAME = "schemat_FA(3)_v1-0E.xsd"
# The base schemas FA(2), FA(3) and FA_RR(1) import by absolute URL (digest §9).
_BASE_SCHEMA_URL = "http://crd.gov.pl/xml/schematy/dziedzinowe/mf/2022/01/05/eD/DefinicjeTypy/"
_BASE_SCHEMA_FOLDER = "bazowe"

# KSeF refuses an invoice above 1 MB, or 3 MB when it carries attachments (digest §5.2:
# "Size <= 1 MB (1,000,000 B) without attachments, <= 3 MB with").
MAX_INVOICE_BYTES = 1_000_000
MAX_INVOICE_WITH_ATTACHMENT_BYTES = 3_000_000
# The FA(3) attachment element; its name in the bytes is enough to allow the larger limit
# (a document that only pretends to carry one still stops at 3 MB).
_ATTACHMENT_TAG = b"Zalacznik"

_NS = "{" + FA3_NAMESPACE + "}"
_V = TypeVar("_V")
_D = TypeVar("_D", bound="DataclassInstance")


def _t(local: str) -> str:
    return _NS + local


# Precomputed Clark-notation tags: a string comparison per element is all the parser does.
T_FAKTURA = _t("Faktura")
T_PODMIOT1, T_PODMIOT2, T_PODMIOT3 = _t("Podmiot1"), _t("Podmiot2"), _t("Podmiot3")
T_UPOWAZNIONY, T_FA = _t("PodmiotUpowazniony"), _t("Fa")
T_DANE_ID, T_NIP, T_NAZWA = _t("DaneIdentyfikacyjne"), _t("NIP"), _t("Nazwa")
T_KOD_UE, T_NR_VAT_UE, T_KOD_KRAJU = _t("KodUE"), _t("NrVatUE"), _t("KodKraju")
T_NR_ID, T_BRAK_ID, T_ID_WEW = _t("NrID"), _t("BrakID"), _t("IDWew")
T_ROLA, T_ROLA_INNA, T_OPIS_ROLI, T_UDZIAL = (
    _t("Rola"),
    _t("RolaInna"),
    _t("OpisRoli"),
    _t("Udzial"),
)
T_ROLA_PU = _t("RolaPU")
T_KOD_WALUTY, T_P_1, T_P_2, T_P_6 = _t("KodWaluty"), _t("P_1"), _t("P_2"), _t("P_6")
T_OKRES_FA, T_P_6_OD, T_P_6_DO = _t("OkresFa"), _t("P_6_Od"), _t("P_6_Do")
T_P_15, T_RODZAJ = _t("P_15"), _t("RodzajFaktury")
T_PRZYCZYNA, T_TYP_KOREKTY = _t("PrzyczynaKorekty"), _t("TypKorekty")
T_DANE_FA_KOR = _t("DaneFaKorygowanej")
T_DATA_WYST_KOR, T_NR_FA_KOR = _t("DataWystFaKorygowanej"), _t("NrFaKorygowanej")
T_NR_KSEF_KOR, T_NR_KSEF_N = _t("NrKSeFFaKorygowanej"), _t("NrKSeFN")
T_FA_WIERSZ, T_PLATNOSC = _t("FaWiersz"), _t("Platnosc")
T_NR_WIERSZA, T_UU_ID, T_P_7 = _t("NrWierszaFa"), _t("UU_ID"), _t("P_7")
T_P_8A, T_P_8B, T_P_9A, T_P_9B = _t("P_8A"), _t("P_8B"), _t("P_9A"), _t("P_9B")
T_P_10, T_P_11, T_P_11A, T_P_11VAT = _t("P_10"), _t("P_11"), _t("P_11A"), _t("P_11Vat")
T_P_12, T_STAN_PRZED = _t("P_12"), _t("StanPrzed")
T_ZAPLACONO, T_DATA_ZAPLATY = _t("Zaplacono"), _t("DataZaplaty")
T_TERMIN_PLATNOSCI, T_TERMIN = _t("TerminPlatnosci"), _t("Termin")
T_FORMA, T_PLATNOSC_INNA, T_OPIS_PLATNOSCI = (
    _t("FormaPlatnosci"),
    _t("PlatnoscInna"),
    _t("OpisPlatnosci"),
)
T_RACHUNEK, T_RACHUNEK_FAKTORA = _t("RachunekBankowy"), _t("RachunekBankowyFaktora")
T_NR_RB, T_SWIFT, T_NAZWA_BANKU, T_OPIS_RACHUNKU = (
    _t("NrRB"),
    _t("SWIFT"),
    _t("NazwaBanku"),
    _t("OpisRachunku"),
)
T_IPKSEF = _t("IPKSeF")
T_TERMIN_OPIS, T_ILOSC, T_JEDNOSTKA, T_ZDARZENIE = (
    _t("TerminOpis"),
    _t("Ilosc"),
    _t("Jednostka"),
    _t("ZdarzeniePoczatkowe"),
)
T_ZNACZNIK_CZESC, T_ZAPLATA_CZESC, T_KWOTA_CZESC, T_DATA_CZESC = (
    _t("ZnacznikZaplatyCzesciowej"),
    _t("ZaplataCzesciowa"),
    _t("KwotaZaplatyCzesciowej"),
    _t("DataZaplatyCzesciowej"),
)
T_SKONTO, T_WARUNKI_SKONTA, T_WYSOKOSC_SKONTA, T_LINK_PLATNOSCI = (
    _t("Skonto"),
    _t("WarunkiSkonta"),
    _t("WysokoscSkonta"),
    _t("LinkDoPlatnosci"),
)
# Zamowienie: the order or contract an advance invoice (ZAL, KOR_ZAL) is paid against.
T_ZAMOWIENIE, T_WARTOSC_ZAM, T_ZAM_WIERSZ = (
    _t("Zamowienie"),
    _t("WartoscZamowienia"),
    _t("ZamowienieWiersz"),
)
T_NR_WIERSZA_Z, T_UU_ID_Z, T_P_7Z, T_P_8AZ, T_P_8BZ = (
    _t("NrWierszaZam"),
    _t("UU_IDZ"),
    _t("P_7Z"),
    _t("P_8AZ"),
    _t("P_8BZ"),
)
T_P_9AZ, T_P_11_NETTO_Z, T_P_11_VAT_Z, T_P_12Z, T_STAN_PRZED_Z = (
    _t("P_9AZ"),
    _t("P_11NettoZ"),
    _t("P_11VatZ"),
    _t("P_12Z"),
    _t("StanPrzedZ"),
)

# P_13_x / P_14_x / P_14_xW suffixes in schema order (digest §9, "Net per rate").
RATE_CODES: tuple[str, ...] = (
    "1", "2", "3", "4", "5", "6_1", "6_2", "6_3", "7", "8", "9", "10", "11",
)  # fmt: skip
RATE_DESCRIPTIONS: dict[str, str] = {
    "1": "stawka podstawowa 23% lub 22%",
    "2": "stawka obniżona 8% lub 7%",
    "3": "stawka obniżona 5%",
    "4": "ryczałt dla taksówek osobowych",
    "5": "procedura szczególna OSS",
    "6_1": "0% — dostawa krajowa",
    "6_2": "0% — wewnątrzwspólnotowa dostawa towarów",
    "6_3": "0% — eksport",
    "7": "zwolnione od podatku",
    "8": "dostawa poza terytorium kraju",
    "9": "usługi z art. 100 ust. 1 pkt 4",
    "10": "odwrotne obciążenie",
    "11": "procedura marży",
}
# tag -> (rate code, slot in RateTotal: 0 net, 1 VAT, 2 VAT in PLN)
_RATE_TAGS: dict[str, tuple[str, int]] = {
    **{_t(f"P_13_{code}"): (code, 0) for code in RATE_CODES},
    **{_t(f"P_14_{code}"): (code, 1) for code in RATE_CODES[:5]},
    **{_t(f"P_14_{code}W"): (code, 2) for code in RATE_CODES[:4]},
}


class IdentifierKind(enum.StrEnum):
    """How a party is identified in ``DaneIdentyfikacyjne``."""

    NIP = "Nip"
    EU_VAT = "VatUe"  # KodUE + NrVatUE
    INTERNAL_ID = "InternalId"  # IDWew, Podmiot3 only
    OTHER = "Other"  # optional KodKraju + NrID
    NONE = "None"  # BrakID = 1


@dataclass(frozen=True, slots=True)
class PartyIdentifier:
    """``value`` is the NIP / VAT number / InternalId / foreign ID (``None`` for NONE).

    ``country_code`` is ``KodUE`` for EU VAT numbers and the optional ``KodKraju`` of
    ``NrID``; :attr:`display` joins them (``DE123456789``) the way KSeF metadata shows them.
    """

    kind: IdentifierKind
    value: str | None = None
    country_code: str | None = None

    @property
    def display(self) -> str:
        if self.kind is IdentifierKind.EU_VAT:
            return f"{self.country_code or ''}{self.value or ''}"
        return self.value or ""


@dataclass(frozen=True, slots=True)
class Party:
    identifier: PartyIdentifier
    name: str | None


@dataclass(frozen=True, slots=True)
class ThirdParty:
    """``Podmiot3``: ``role`` is the ``Rola`` code (1 factor, 2 recipient, ... 11 employee);
    ``other_role`` the ``OpisRoli`` text when ``RolaInna`` is used; ``share`` the ``Udzial``
    percentage."""

    identifier: PartyIdentifier
    name: str | None
    role: int | None
    other_role: str | None
    share: Decimal | None


@dataclass(frozen=True, slots=True)
class AuthorizedParty:
    """``PodmiotUpowazniony``: ``role`` 1 enforcement authority, 2 bailiff, 3 tax representative."""

    nip: str
    name: str | None
    role: int | None


@dataclass(frozen=True, slots=True)
class RateTotal:
    """Totals of one VAT rate group: net ``P_13_x``, VAT ``P_14_x`` and, on foreign-currency
    invoices, VAT converted to PLN ``P_14_xW``. ``code`` is the suffix (``"1"``, ``"6_2"``)."""

    code: str
    net: Decimal | None = None
    vat: Decimal | None = None
    vat_pln: Decimal | None = None

    @property
    def description(self) -> str:
        return RATE_DESCRIPTIONS[self.code]


@dataclass(frozen=True, slots=True)
class CorrectedInvoice:
    """One ``DaneFaKorygowanej``; ``ksef_number`` is ``None`` when the corrected invoice was
    issued outside KSeF (``NrKSeFN``)."""

    issue_date: date
    number: str
    ksef_number: str | None


@dataclass(frozen=True, slots=True)
class LineItem:
    """One ``FaWiersz``. ``before_correction`` marks the "before" rows of a correction
    (``StanPrzed``); ``vat_rate`` is the ``P_12`` code as written (``"23"``, ``"zw"``,
    ``"np I"``, ``"0 WDT"``...)."""

    number: int
    name: str | None
    unit: str | None
    quantity: Decimal | None
    unit_net_price: Decimal | None
    unit_gross_price: Decimal | None
    discount: Decimal | None
    net_value: Decimal | None
    gross_value: Decimal | None
    vat_value: Decimal | None
    vat_rate: str | None
    uu_id: str | None
    before_correction: bool


@dataclass(frozen=True, slots=True)
class Order:
    """``Zamowienie`` of an advance invoice: ``value`` is ``WartoscZamowienia`` (the order's
    gross value in the invoice currency); ``lines`` its ``ZamowienieWiersz`` rows as
    :class:`LineItem` (``P_7Z`` name, ``P_8AZ``/``P_8BZ`` unit and quantity, ``P_9AZ`` unit
    net price, ``P_11NettoZ``/``P_11VatZ`` net and VAT, ``P_12Z`` rate; the gross-only fields
    and the discount stay ``None``, the schema has none for orders)."""

    value: Decimal
    lines: tuple[LineItem, ...]


@dataclass(frozen=True, slots=True)
class BankAccount:
    number: str
    swift: str | None
    bank_name: str | None
    description: str | None
    factor: bool  # RachunekBankowyFaktora


@dataclass(frozen=True, slots=True)
class PaymentTerm:
    """One ``TerminPlatnosci``: a date (``Termin``), a description (``TerminOpis``: e.g.
    14 / ``dni`` / ``od daty dostawy``), or both."""

    due_date: date | None
    quantity: int | None = None
    unit: str | None = None
    starting_event: str | None = None

    @property
    def description(self) -> str:
        """``"14 dni od daty dostawy"``; empty when the term is only a date."""
        parts = (self.quantity, self.unit, self.starting_event)
        return " ".join(str(part) for part in parts if part is not None)


@dataclass(frozen=True, slots=True)
class PartialPayment:
    """One ``ZaplataCzesciowa`` made before the invoice was issued."""

    amount: Decimal
    paid_on: date
    form: int | None
    other_form: str | None


@dataclass(frozen=True, slots=True)
class Payment:
    """``Platnosc``: ``form`` is the ``FormaPlatnosci`` code (1 cash, 2 card, 3 voucher,
    4 cheque, 5 credit, 6 transfer, 7 mobile); ``other_form`` the ``OpisPlatnosci`` text.

    ``paid`` is ``Zaplacono`` (paid in full, on ``payment_date``). Payments in parts come
    as ``partial_payments`` with ``partial`` the ``ZnacznikZaplatyCzesciowej`` (1 paid in
    part, 2 paid in full in several parts). ``discount_conditions`` / ``discount`` are the
    ``Skonto`` texts; ``link`` is ``LinkDoPlatnosci``."""

    paid: bool
    payment_date: date | None
    terms: tuple[PaymentTerm, ...]
    form: int | None
    other_form: str | None
    bank_accounts: tuple[BankAccount, ...]
    ip_ksef: str | None
    partial: int | None = None
    partial_payments: tuple[PartialPayment, ...] = ()
    discount_conditions: str | None = None
    discount: str | None = None
    link: str | None = None

    @property
    def due_dates(self) -> tuple[date, ...]:
        return tuple(term.due_date for term in self.terms if term.due_date is not None)

    @property
    def fully_paid(self) -> bool:
        """Paid in one go (``Zaplacono``) or in full over several parts (marker 2)."""
        return self.paid or self.partial == 2


@dataclass(frozen=True, slots=True)
class InvoiceSummary:
    """What a listing, a booking export or a search index needs from an FA(3) invoice."""

    seller: Party
    buyer: Party
    third_parties: tuple[ThirdParty, ...]
    authorized_party: AuthorizedParty | None
    number: str
    issue_date: date
    sale_date: date | None
    period_from: date | None
    period_to: date | None
    currency: str
    kind: str
    rates: tuple[RateTotal, ...]
    gross_total: Decimal
    correction_reason: str | None
    correction_type: int | None
    corrected_invoices: tuple[CorrectedInvoice, ...]
    lines: tuple[LineItem, ...]
    payment: Payment | None
    order: Order | None = None

    @property
    def net_total(self) -> Decimal:
        """Sum of every ``P_13_x`` present (there is no single net field, digest §9)."""
        return sum((r.net for r in self.rates if r.net is not None), Decimal(0))

    @property
    def vat_total(self) -> Decimal:
        """Sum of ``P_14_x`` in the invoice currency."""
        return sum((r.vat for r in self.rates if r.vat is not None), Decimal(0))

    @property
    def vat_total_pln(self) -> Decimal | None:
        """VAT in PLN: ``P_14_x`` for PLN invoices, ``P_14_xW`` for foreign-currency ones.

        ``None`` when a foreign-currency invoice shows VAT for a rate without its PLN
        counterpart (the schema leaves ``P_14_5`` without one).
        """
        if self.currency == "PLN":
            return self.vat_total
        total = Decimal(0)
        for rate in self.rates:
            if rate.vat_pln is not None:
                total += rate.vat_pln
            elif rate.vat:
                return None
        return total

    def rate(self, code: str) -> RateTotal | None:
        for item in self.rates:
            if item.code == code:
                return item
        return None

    @property
    def is_correction(self) -> bool:
        return self.kind in ("KOR", "KOR_ZAL", "KOR_ROZ")


# --------------------------------------------------------------------------- parsing
#
# Where the time goes (callgrind, lxml 6.1, CPython 3.11): building the tree is about half of
# parse(); then, per element looked at, lxml creates a proxy object (~1,100 instructions),
# formats the Clark-notation tag (~1,300) and the text (~600). The code below looks at each
# element at most once, reads ``.text`` only of the fields it keeps, and builds the result
# objects through :func:`_builder` (a frozen dataclass's own ``__init__`` costs ~1,200
# instructions per field). ``benchmarks/fa3_parse.py`` measures it against bare
# ``etree.fromstring``.

_local = threading.local()
_BYTES = (bytes, bytearray, memoryview)


def _new_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _parser() -> etree.XMLParser:
    # lxml parsers must not be shared between threads; one per thread, reused.
    try:
        parser: etree.XMLParser = _local.parser
    except AttributeError:
        parser = _local.parser = _new_parser()
    return parser


def _bytes(xml: bytes) -> bytes:
    if type(xml) is bytes:
        return xml
    if not isinstance(xml, _BYTES):
        raise TypeError("pass the invoice as bytes (the exact file), not str")
    return bytes(xml)


def _refuse_doctype(root: Any) -> Any:
    if root.getroottree().docinfo.doctype:
        raise UnsafeXmlError("the document declares a DOCTYPE; KSeF invoices must not have one")
    return root


def _parse_tree(xml: bytes) -> Any:
    try:
        root = etree.fromstring(_bytes(xml), _parser())
    except etree.XMLSyntaxError as exc:
        raise MalformedXmlError(exc.lineno or 0, str(exc)) from None
    return _refuse_doctype(root)


def document_root(xml: bytes) -> Any:
    """The root element of XML, parsed as :func:`parse` and :func:`validate` parse it.

    For a caller that must know what a document is before reading it as FA(3) (its root
    element and namespace). Raises :class:`~ksef.errors.MalformedXmlError` (with the line)
    for XML that is not well-formed and :class:`~ksef.errors.UnsafeXmlError` for a DOCTYPE.
    """
    return _parse_tree(xml)


def _parse_tree_fast(xml: bytes) -> Any:
    """:func:`_parse_tree` through lxml's feed interface: ~10% fewer instructions.

    libxml2's push parser builds the same tree with the same options for less than
    ``fromstring`` (``xmlCtxtReadMemory``) costs on invoice-sized input. A document it
    rejects goes through :func:`_parse_tree` again, so errors read exactly as before and the
    UTF-32 byte-order mark lxml special-cases there is still understood. The feed parser is
    per thread and discarded after any failure, so no invoice is ever fed into another's
    half-parsed document.
    """
    data = _bytes(xml)
    try:
        parser: etree.XMLParser = _local.feed_parser
    except AttributeError:
        parser = _local.feed_parser = _new_parser()
    try:
        parser.feed(data)
        root = parser.close()
    except etree.XMLSyntaxError:
        del _local.feed_parser
        return _parse_tree(data)
    except BaseException:
        del _local.feed_parser
        raise
    return _refuse_doctype(root)


def _builder(cls: type[_D]) -> type[_D]:
    """A fast constructor for the frozen slots dataclass ``cls``, for the parser's own use.

    A frozen dataclass's ``__init__`` stores each field through ``object.__setattr__`` (the
    class itself refuses assignment), which makes a 13-field :class:`LineItem` cost more to
    build than its XML costs to read. The builder is a plain slots dataclass with the same
    fields: its ``__init__`` assigns them directly, then re-types the new object as ``cls``
    (CPython refuses that ``__class__`` assignment unless both slot layouts are identical).
    What comes out is a genuine, immutable ``cls`` instance, equal to and indistinguishable
    from ``cls(...)``; typed as ``type[cls]``, so mypy checks each call against its signature.
    """

    def become(self: Any) -> None:
        self.__class__ = cls

    fields = [
        (f.name, f.type)
        if f.default is dataclasses.MISSING
        else (f.name, f.type, dataclasses.field(default=f.default))
        for f in dataclasses.fields(cls)
    ]
    builder = dataclasses.make_dataclass(
        f"_{cls.__name__}Builder",
        fields,
        slots=True,
        eq=False,
        repr=False,
        namespace={"__post_init__": become},
    )
    return cast("type[_D]", builder)


_PartyIdentifier = _builder(PartyIdentifier)
_Party = _builder(Party)
_ThirdParty = _builder(ThirdParty)
_AuthorizedParty = _builder(AuthorizedParty)
_RateTotal = _builder(RateTotal)
_CorrectedInvoice = _builder(CorrectedInvoice)
_LineItem = _builder(LineItem)
_Order = _builder(Order)
_BankAccount = _builder(BankAccount)
_PaymentTerm = _builder(PaymentTerm)
_PartialPayment = _builder(PartialPayment)
_Payment = _builder(Payment)
_InvoiceSummary = _builder(InvoiceSummary)


def _where(tag: str) -> str:
    return tag.rpartition("}")[2]


def _dec(text: str | None, tag: str) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise InvoiceParseError(f"{_where(tag)} is not a number: {text!r}") from None


def _date(text: str | None, tag: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvoiceParseError(f"{_where(tag)} is not a date: {text!r}") from None


def _int(text: str | None, tag: str) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvoiceParseError(f"{_where(tag)} is not an integer: {text!r}") from None


def _tok(text: str | None) -> str | None:
    # xsd:token semantics: internal runs of whitespace collapse to one space.
    return " ".join(text.split()) if text is not None else None


def _str(text: str | None) -> str | None:
    return text.strip() if text is not None else None


def _children(element: Any) -> dict[str, str | None]:
    """``{tag: text}`` of the direct children — one C-level loop, no per-field lookups."""
    return {child.tag: child.text for child in element}


def _identity(dane: Any) -> tuple[PartyIdentifier, str | None]:
    v = _children(dane)
    get = v.get
    name = _tok(get(T_NAZWA))
    if T_NIP in v:
        return _PartyIdentifier(IdentifierKind.NIP, _str(v[T_NIP]), None), name
    if T_NR_VAT_UE in v:
        kind, value, country = IdentifierKind.EU_VAT, get(T_NR_VAT_UE), get(T_KOD_UE)
    elif T_NR_ID in v:
        kind, value, country = IdentifierKind.OTHER, get(T_NR_ID), get(T_KOD_KRAJU)
    elif T_ID_WEW in v:
        kind, value, country = IdentifierKind.INTERNAL_ID, get(T_ID_WEW), None
    else:
        kind, value, country = IdentifierKind.NONE, None, None
    return _PartyIdentifier(kind, _str(value), _str(country)), name


def _party(element: Any) -> Party:
    for child in element:
        if child.tag == T_DANE_ID:
            identifier, name = _identity(child)
            return _Party(identifier, name)
    raise InvoiceParseError(f"{_where(element.tag)} has no DaneIdentyfikacyjne")


def _third_party(element: Any) -> ThirdParty:
    identifier = _PartyIdentifier(IdentifierKind.NONE, None, None)
    name: str | None = None
    v: dict[str, str | None] = {}
    for child in element:
        tag = child.tag
        if tag == T_DANE_ID:
            identifier, name = _identity(child)
        else:
            v[tag] = child.text
    get = v.get
    return _ThirdParty(
        identifier,
        name,
        _int(get(T_ROLA), T_ROLA),
        _tok(get(T_OPIS_ROLI)),
        _dec(get(T_UDZIAL), T_UDZIAL),
    )


def _authorized_party(element: Any) -> AuthorizedParty:
    party = _party(element)
    role = _int(_children(element).get(T_ROLA_PU), T_ROLA_PU)
    return _AuthorizedParty(party.identifier.value or "", party.name, role)


def _line(element: Any) -> LineItem:
    get = _children(element).get
    return _LineItem(
        number=_int(get(T_NR_WIERSZA), T_NR_WIERSZA) or 0,
        name=_tok(get(T_P_7)),
        unit=_tok(get(T_P_8A)),
        quantity=_dec(get(T_P_8B), T_P_8B),
        unit_net_price=_dec(get(T_P_9A), T_P_9A),
        unit_gross_price=_dec(get(T_P_9B), T_P_9B),
        discount=_dec(get(T_P_10), T_P_10),
        net_value=_dec(get(T_P_11), T_P_11),
        gross_value=_dec(get(T_P_11A), T_P_11A),
        vat_value=_dec(get(T_P_11VAT), T_P_11VAT),
        vat_rate=_str(get(T_P_12)),
        uu_id=_str(get(T_UU_ID)),
        before_correction=_str(get(T_STAN_PRZED)) == "1",
    )


def _order_line(element: Any) -> LineItem:
    get = _children(element).get
    return _LineItem(
        number=_int(get(T_NR_WIERSZA_Z), T_NR_WIERSZA_Z) or 0,
        name=_tok(get(T_P_7Z)),
        unit=_tok(get(T_P_8AZ)),
        quantity=_dec(get(T_P_8BZ), T_P_8BZ),
        unit_net_price=_dec(get(T_P_9AZ), T_P_9AZ),
        unit_gross_price=None,
        discount=None,
        net_value=_dec(get(T_P_11_NETTO_Z), T_P_11_NETTO_Z),
        gross_value=None,
        vat_value=_dec(get(T_P_11_VAT_Z), T_P_11_VAT_Z),
        vat_rate=_str(get(T_P_12Z)),
        uu_id=_str(get(T_UU_ID_Z)),
        before_correction=_str(get(T_STAN_PRZED_Z)) == "1",
    )


def _order(element: Any) -> Order:
    value: Decimal | None = None
    lines: list[LineItem] = []
    for child in element:
        tag = child.tag
        if tag == T_ZAM_WIERSZ:
            lines.append(_order_line(child))
        elif tag == T_WARTOSC_ZAM:
            value = _dec(child.text, tag)
    if value is None:
        raise InvoiceParseError("Zamowienie has no WartoscZamowienia")
    return _Order(value, tuple(lines))


def _corrected(element: Any) -> CorrectedInvoice:
    get = _children(element).get
    issued = _date(get(T_DATA_WYST_KOR), T_DATA_WYST_KOR)
    if issued is None:
        raise InvoiceParseError("DaneFaKorygowanej has no DataWystFaKorygowanej")
    return _CorrectedInvoice(issued, _tok(get(T_NR_FA_KOR)) or "", _str(get(T_NR_KSEF_KOR)))


def _bank_account(element: Any, factor: bool) -> BankAccount:
    get = _children(element).get
    return _BankAccount(
        number=_str(get(T_NR_RB)) or "",
        swift=_str(get(T_SWIFT)),
        bank_name=_tok(get(T_NAZWA_BANKU)),
        description=_tok(get(T_OPIS_RACHUNKU)),
        factor=factor,
    )


def _payment_term(element: Any) -> PaymentTerm:
    due: date | None = None
    described: dict[str, str | None] = {}
    for child in element:
        tag = child.tag
        if tag == T_TERMIN:
            due = _date(child.text, T_TERMIN)
        elif tag == T_TERMIN_OPIS:
            described = _children(child)
    get = described.get
    return _PaymentTerm(
        due, _int(get(T_ILOSC), T_ILOSC), _tok(get(T_JEDNOSTKA)), _tok(get(T_ZDARZENIE))
    )


def _partial_payment(element: Any) -> PartialPayment:
    get = _children(element).get
    amount = _dec(get(T_KWOTA_CZESC), T_KWOTA_CZESC)
    paid_on = _date(get(T_DATA_CZESC), T_DATA_CZESC)
    if amount is None or paid_on is None:
        raise InvoiceParseError("ZaplataCzesciowa needs KwotaZaplatyCzesciowej and its date")
    return _PartialPayment(
        amount, paid_on, _int(get(T_FORMA), T_FORMA), _tok(get(T_OPIS_PLATNOSCI))
    )


def _payment(element: Any) -> Payment:
    v: dict[str, str | None] = {}
    terms: list[PaymentTerm] = []
    accounts: list[BankAccount] = []
    partial_payments: list[PartialPayment] = []
    for child in element:
        tag = child.tag
        if tag == T_TERMIN_PLATNOSCI:
            terms.append(_payment_term(child))
        elif tag == T_RACHUNEK:
            accounts.append(_bank_account(child, False))
        elif tag == T_RACHUNEK_FAKTORA:
            accounts.append(_bank_account(child, True))
        elif tag == T_ZAPLATA_CZESC:
            partial_payments.append(_partial_payment(child))
        elif tag == T_SKONTO:
            v.update(_children(child))
        else:
            v[tag] = child.text
    get = v.get
    return _Payment(
        paid=_str(get(T_ZAPLACONO)) == "1",
        payment_date=_date(get(T_DATA_ZAPLATY), T_DATA_ZAPLATY),
        terms=tuple(terms),
        form=_int(get(T_FORMA), T_FORMA),
        other_form=_tok(get(T_OPIS_PLATNOSCI)),
        bank_accounts=tuple(accounts),
        ip_ksef=_str(get(T_IPKSEF)),
        partial=_int(get(T_ZNACZNIK_CZESC), T_ZNACZNIK_CZESC),
        partial_payments=tuple(partial_payments),
        discount_conditions=_tok(get(T_WARUNKI_SKONTA)),
        discount=_tok(get(T_WYSOKOSC_SKONTA)),
        link=_str(get(T_LINK_PLATNOSCI)),
    )


def _rates(values: dict[str, str | None]) -> tuple[RateTotal, ...]:
    found: dict[str, list[Decimal | None]] = {}
    for tag, text in values.items():
        where = _RATE_TAGS.get(tag)
        if where is not None:
            found.setdefault(where[0], [None, None, None])[where[1]] = _dec(text, tag)
    return tuple(_RateTotal(code, *found[code]) for code in RATE_CODES if code in found)


def _require(value: _V | None, what: str) -> _V:
    if value is None:
        raise InvoiceParseError(f"Fa lacks {what}")
    return value


# The children of Fa whose text _summary reads (the others are skipped unread).
_FA_FIELDS = frozenset(
    (T_KOD_WALUTY, T_P_1, T_P_2, T_P_6, T_P_15, T_RODZAJ, T_PRZYCZYNA, T_TYP_KOREKTY)
) | frozenset(_RATE_TAGS)


def _summary(
    seller: Party,
    buyer: Party,
    third: tuple[ThirdParty, ...],
    authorized: AuthorizedParty | None,
    fa: Any,
) -> InvoiceSummary:
    values: dict[str, str | None] = {}
    lines: list[LineItem] = []
    corrected: list[CorrectedInvoice] = []
    payment: Payment | None = None
    order: Order | None = None
    for child in fa:
        tag = child.tag
        if tag in _FA_FIELDS:
            values[tag] = child.text
        elif tag == T_FA_WIERSZ:
            lines.append(_line(child))
        elif tag == T_DANE_FA_KOR:
            corrected.append(_corrected(child))
        elif tag == T_PLATNOSC:
            payment = _payment(child)
        elif tag == T_OKRES_FA:
            values.update(_children(child))
        elif tag == T_ZAMOWIENIE:
            order = _order(child)
    get = values.get
    return _InvoiceSummary(
        seller=seller,
        buyer=buyer,
        third_parties=third,
        authorized_party=authorized,
        number=_require(_tok(get(T_P_2)), "P_2"),
        issue_date=_require(_date(get(T_P_1), T_P_1), "P_1"),
        sale_date=_date(get(T_P_6), T_P_6),
        period_from=_date(get(T_P_6_OD), T_P_6_OD),
        period_to=_date(get(T_P_6_DO), T_P_6_DO),
        currency=_require(_str(get(T_KOD_WALUTY)), "KodWaluty"),
        kind=_require(_str(get(T_RODZAJ)), "RodzajFaktury"),
        rates=_rates(values),
        gross_total=_require(_dec(get(T_P_15), T_P_15), "P_15"),
        correction_reason=_tok(get(T_PRZYCZYNA)),
        correction_type=_int(get(T_TYP_KOREKTY), T_TYP_KOREKTY),
        corrected_invoices=tuple(corrected),
        lines=tuple(lines),
        payment=payment,
        order=order,
    )


def check_size(xml: bytes, *, has_attachment: bool | None = None) -> None:
    """Refuse a document larger than KSeF accepts, before any parsing.

    ``has_attachment`` is what KSeF's metadata says (``hasAttachment``); ``None`` (unknown)
    allows the larger limit only to a document that contains an attachment element.
    Raises :class:`~ksef.errors.InvoiceTooLargeError`.
    """
    size = len(xml)
    if size <= MAX_INVOICE_BYTES:
        return
    if has_attachment is None:
        has_attachment = _ATTACHMENT_TAG in xml
    limit = MAX_INVOICE_WITH_ATTACHMENT_BYTES if has_attachment else MAX_INVOICE_BYTES
    if size > limit:
        raise InvoiceTooLargeError(size, limit)


def parse(xml: bytes, *, has_attachment: bool | None = None) -> InvoiceSummary:
    """Parse FA(3) invoice bytes into an :class:`InvoiceSummary`.

    Raises :class:`~ksef.errors.InvoiceTooLargeError` for a document above KSeF's size
    limit (:func:`check_size`; ``has_attachment`` as there), before parsing it,
    :class:`~ksef.errors.UnsafeXmlError` for a DOCTYPE and
    :class:`~ksef.errors.InvoiceParseError` for anything that is not an FA(3) ``Faktura``
    with the mandatory ``Podmiot1``, ``Podmiot2`` and ``Fa`` (P_1, P_2, P_15, KodWaluty,
    RodzajFaktury). Parsing does not validate; call :func:`validate` for that.
    """
    check_size(xml, has_attachment=has_attachment)
    root = _parse_tree_fast(xml)
    if root.tag != T_FAKTURA:
        raise InvoiceParseError(f"root element is {root.tag}, expected FA(3) {T_FAKTURA}")
    seller = buyer = None
    third: list[ThirdParty] = []
    authorized: AuthorizedParty | None = None
    fa = None
    for child in root:
        tag = child.tag
        if tag == T_FA:
            fa = child
        elif tag == T_PODMIOT1:
            seller = _party(child)
        elif tag == T_PODMIOT2:
            buyer = _party(child)
        elif tag == T_PODMIOT3:
            third.append(_third_party(child))
        elif tag == T_UPOWAZNIONY:
            authorized = _authorized_party(child)
    if seller is None or buyer is None or fa is None:
        raise InvoiceParseError("an FA(3) invoice needs Podmiot1, Podmiot2 and Fa")
    return _summary(seller, buyer, tuple(third), authorized, fa)


# --------------------------------------------------------------------------- validation


class _LocalSchemaResolver(etree.Resolver):  # type: ignore[misc]
    """Serve the crd.gov.pl base schemas from ``bazowe/``; refuse every other remote URL."""

    def __init__(self, schema_dir: Path) -> None:
        super().__init__()
        self._base = schema_dir / _BASE_SCHEMA_FOLDER

    def resolve(self, system_url: str, public_id: str | None, context: Any) -> Any:
        if system_url.startswith(_BASE_SCHEMA_URL):
            name = system_url[len(_BASE_SCHEMA_URL) :]
            local = (self._base / name).resolve()
            if local.parent != self._base.resolve() or not local.is_file():
                raise SchemaLoadError(f"base schema {name!r} is not in {self._base}")
            return self.resolve_filename(str(local), context)
        if "://" in system_url and not system_url.startswith("file:"):
            raise SchemaLoadError(f"refusing to fetch {system_url} while loading the XSD")
        return None


@lru_cache(maxsize=8)
def _schema(schema_dir: Path) -> tuple[etree.XMLSchema, threading.Lock]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    parser.resolvers.add(_LocalSchemaResolver(schema_dir))
    path = schema_dir / FA3_SCHEMA_FILENAME
    if not path.is_file():
        raise SchemaLoadError(f"FA(3) schema not found: {path}")
    try:
        schema = etree.XMLSchema(etree.parse(str(path), parser))
    except etree.XMLSchemaParseError as exc:
        # The resolver's own message is swallowed by libxml2; name the folder it needs.
        raise SchemaLoadError(
            f"cannot compile {path.name}; the base schemas must be in {schema_dir / 'bazowe'}: "
            f"{exc}"
        ) from None
    # XMLSchema keeps its error log on the object: validate under a lock.
    return schema, threading.Lock()


def validate(xml: bytes, schema_dir: Path | None = None) -> list[str]:
    """Validate against ``schema_dir/schemat_FA(3)_v1-0E.xsd``; return the error messages.

    ``schema_dir`` defaults to the official schemas shipped with the package
    (``ksef.schemas.schema_dir("fa")``). An empty list means the invoice is valid. The
    compiled schema is cached per folder.
    Raises :class:`~ksef.errors.UnsafeXmlError` for a DOCTYPE and
    :class:`~ksef.errors.InvoiceParseError` for XML that is not well-formed.
    """
    _root, entries = _schema_errors(xml, schema_dir)
    return [f"line {line}: {message}" for line, _type, _path, message in entries]


def _schema_errors(
    xml: bytes, schema_dir: Path | None
) -> tuple[Any, list[tuple[int, str, str | None, str]]]:
    """The parsed root and libxml2's (line, type name, path, message) of each violation."""
    root = _parse_tree(xml)
    folder = schemas.schema_dir("fa") if schema_dir is None else Path(schema_dir)
    schema, lock = _schema(folder.resolve())
    with lock:
        if schema.validate(root):
            return root, []
        return root, [(e.line, e.type_name, e.path, e.message) for e in schema.error_log]


class ProblemKind(enum.StrEnum):
    """What kind of rule of the XSD a document breaks (:class:`SchemaProblem`)."""

    UNEXPECTED = "unexpected"  # an element where the schema wants another one (or none)
    MISSING = "missing"  # a required child element is absent at the end of its parent
    PATTERN = "pattern"  # a value outside its pattern (a NIP, a bank account...)
    ENUMERATION = "enumeration"  # a value outside its list (a currency, a VAT rate...)
    LENGTH = "length"  # a text too short or too long
    VALUE = "value"  # a value not of its type (a date, an amount) or out of its range
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class SchemaProblem:
    """One XSD violation, in parts a caller can word in its own language.

    ``element`` is the path of local names from the root (``Faktura/Fa/P_1``) of the
    element the rule is about (for MISSING: the parent lacking a child); ``value`` the
    offending text when the rule is about a value; ``expected`` the local names the schema
    wanted there; ``message`` libxml2's own English sentence, namespaces removed.
    """

    line: int
    element: str
    kind: ProblemKind
    value: str | None
    expected: tuple[str, ...]
    message: str


_KIND_BY_TYPE = {
    "SCHEMAV_CVC_PATTERN_VALID": ProblemKind.PATTERN,
    "SCHEMAV_CVC_ENUMERATION_VALID": ProblemKind.ENUMERATION,
    "SCHEMAV_CVC_LENGTH_VALID": ProblemKind.LENGTH,
    "SCHEMAV_CVC_MINLENGTH_VALID": ProblemKind.LENGTH,
    "SCHEMAV_CVC_MAXLENGTH_VALID": ProblemKind.LENGTH,
}
_CLARK = re.compile(r"\{[a-z][a-z0-9+.-]*:[^}]*\}")  # "{http://...}" of a Clark name
_EXPECTED = re.compile(r"Expected is(?: one of)? \( ([^)]*) \)")
_VALUE = re.compile(r"[Tt]he value '([^']*)'|^'([^']*)' is not a valid value")
_ELEMENT_PREFIX = re.compile(r"^Element '[^']*'(?:, attribute '[^']*')?: ")


def _problem_kind(type_name: str, message: str) -> ProblemKind:
    if type_name == "SCHEMAV_ELEMENT_CONTENT":
        if "Missing child element" in message:
            return ProblemKind.MISSING
        return ProblemKind.UNEXPECTED
    if type_name in _KIND_BY_TYPE:
        return _KIND_BY_TYPE[type_name]
    if type_name.startswith(("SCHEMAV_CVC_DATATYPE", "SCHEMAV_CVC_M", "SCHEMAV_CVC_T")):
        return ProblemKind.VALUE  # datatype, min/max inclusive/exclusive, total digits...
    if type_name.startswith("SCHEMAV_CVC_FRACTIONDIGITS"):
        return ProblemKind.VALUE
    return ProblemKind.OTHER


def _named_path(tree: Any, position_path: str | None) -> str:
    """``/*/*[4]/*[2]`` (libxml2's path) as ``Faktura/Fa/P_1``."""
    if not position_path:
        return ""
    try:
        found = tree.xpath(position_path)
    except etree.XPathError:
        return ""
    if not found or not isinstance(found[0], etree._Element):
        return ""
    names = [etree.QName(node).localname for node in (found[0], *found[0].iterancestors())]
    return "/".join(reversed(names))


def schema_problems(xml: bytes, schema_dir: Path | None = None) -> list[SchemaProblem]:
    """Like :func:`validate`, with each violation in parts (:class:`SchemaProblem`).

    One problem per element: libxml2 reports a facet and then the type it belongs to for
    the same value; the first, more specific one is kept. Raises as :func:`validate`.
    """
    root, entries = _schema_errors(xml, schema_dir)
    tree = root.getroottree()
    problems: list[SchemaProblem] = []
    seen: set[tuple[int, str]] = set()
    for line, type_name, path, message in entries:
        element = _named_path(tree, path)
        if (line, element) in seen:
            continue
        seen.add((line, element))
        message = _ELEMENT_PREFIX.sub("", message).strip()
        expected = _EXPECTED.search(message)
        value = _VALUE.search(message)
        problems.append(
            SchemaProblem(
                line=line,
                element=element,
                kind=_problem_kind(type_name, message),
                value=(value.group(1) if value.group(1) is not None else value.group(2))
                if value
                else None,
                expected=tuple(
                    name.strip() for name in _CLARK.sub("", expected.group(1)).split(",")
                )
                if expected
                else (),
                message=_CLARK.sub("", message),
            )
        )
    return problems


def ensure_valid(xml: bytes, schema_dir: Path | None = None) -> None:
    """Like :func:`validate` but raise :class:`~ksef.errors.InvoiceValidationError`."""
    errors = validate(xml, schema_dir)
    if errors:
        raise InvoiceValidationError(errors)
