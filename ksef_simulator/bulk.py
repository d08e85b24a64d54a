"""Bulk seeding and ground truth for sync-engine tests and benchmarks.

`bulk_seed` puts up to hundreds of thousands of invoices between two NIPs into the state
in seconds: each is a real, distinct XML document (its SHA-256 is the `invoiceHash` the
simulator reports), indexed like an invoice sent online, so it appears as `Subject1` for
the seller and `Subject2` for the buyer. Most are FA (3) — rendered once per template by
fa3gen (schema-valid) and given their own number and dates by substitution — with a share
of FA (2) and FA_RR (1) documents reported with their own `formCode`.

Permanent-storage dates are spread over [`stored_from`, `stored_to`] (millisecond
precision, so several invoices can share a timestamp, as in KSeF). Late arrivals — invoices
acquired or issued long ago that reach permanent storage only now — are the same call with
`stored_from` after the HWM a client has already been given and `issued_days_before`;
the simulator refuses any storage date at or before a reported HWM, because KSeF
guarantees that set is final (digest §5.7).

`ground_truth` lists every stored invoice a context sees for a subject type, with its hash:
what a correct synchronisation must end up with.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta

from ksef_simulator.fa3gen import Fa3Generator, GeneratedInvoice, Party
from ksef_simulator.fa3xml import FA3_NAMESPACE, InvoiceFacts
from ksef_simulator.invoices import (
    FA2,
    FA3,
    FA_RR,
    WARSAW,
    StoredInvoice,
    _duplicates,
    _index,
    _party_keys,
    invoices_of,
    next_ksef_number,
    reported_high_water_mark,
    sha256_b64,
)
from ksef_simulator.state import State

FA2_NAMESPACE = "http://crd.gov.pl/wzor/2023/06/29/12648/"
FA_RR_NAMESPACE = "http://crd.gov.pl/wzor/2026/03/06/14189/"
SUBJECT_TYPES = ("Subject1", "Subject2", "Subject3", "SubjectAuthorized")

_NUMBER = "@@NUMER@@"
_TEMPLATE_DAY = date(2025, 9, 2)  # P_6 of the templates falls before any real issue day
_NUMBER_BYTES = _NUMBER.encode("ascii")
_TEMPLATE_DAY_BYTES = _TEMPLATE_DAY.isoformat().encode("ascii")
_TEMPLATES = ("vat", "vat", "vat", "foreign", "zal")
_FA3_CODE = '<KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza>'
_FA2_CODE = '<KodFormularza kodSystemowy="FA (2)" wersjaSchemy="1-0E">FA</KodFormularza>'
_FIELD_NAMES = [f.name for f in fields(InvoiceFacts)]
_NUMBER_FIELD = _FIELD_NAMES.index("invoice_number")
_ISSUE_DATE_FIELD = _FIELD_NAMES.index("issue_date")


@dataclass
class BulkSeedResult:
    ksef_numbers: list[str] = field(default_factory=list)
    first_storage: datetime | None = None
    last_storage: datetime | None = None
    forms: dict[str, int] = field(default_factory=dict)  # systemCode -> count


@dataclass(frozen=True)
class _Template:
    text: str  # XML with _NUMBER and the template day as placeholders
    facts: InvoiceFacts
    form_code: tuple[str, str, str]

    @property
    def content(self) -> bytes:
        return self.text.encode("utf-8")


class _Prepared:
    """A template in the shape the hot loop wants: bytes to substitute in, the InvoiceFacts
    constructor arguments, and the index keys (the same for every copy)."""

    def __init__(self, template: _Template) -> None:
        self.content = template.content
        self.form_code = template.form_code
        self.kind = template.facts.kind
        self.seller_nip = template.facts.seller_nip
        self.arguments = [getattr(template.facts, f.name) for f in fields(InvoiceFacts)]
        self.keys = list(dict.fromkeys(_party_keys(template.facts)))

    def facts(self, number: str, issue_day: date) -> InvoiceFacts:
        # dataclasses.replace() costs ten times more than this, and we make 100,000.
        arguments = list(self.arguments)
        arguments[_NUMBER_FIELD], arguments[_ISSUE_DATE_FIELD] = number, issue_day
        return InvoiceFacts(*arguments)


def bulk_seed(
    state: State,
    *,
    seller_nip: str,
    buyer_nip: str,
    count: int,
    stored_from: datetime,
    stored_to: datetime,
    fa2_share: float = 0.05,
    fa_rr_share: float = 0.05,
    issued_days_before: int = 0,
    seed: int = 0,
    number_prefix: str = "BULK",
) -> BulkSeedResult:
    """Store COUNT invoices from SELLER_NIP to BUYER_NIP with permanentStorageDate spread
    over [STORED_FROM, STORED_TO] (aware datetimes). `issued_days_before` > 0 makes them
    late arrivals: issued (and invoiced, Offline) that many days before they are stored.

    Raises ValueError if a storage date would fall at or before an HWM already reported.
    Storage dates after the simulated now are fine: those invoices appear when the clock
    gets there, like invoices still on their way to permanent storage.
    """
    _check(state, count, stored_from, stored_to, fa2_share + fa_rr_share)
    # Every invoice adds a handful of long-lived objects; the cyclic collector would walk
    # the growing heap again and again for nothing (a third of the time at 100,000).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _seed(
            state, seller_nip, buyer_nip, count, stored_from, stored_to,
            fa2_share, fa_rr_share, issued_days_before, seed, number_prefix,
        )  # fmt: skip
    finally:
        if collecting:
            gc.enable()


def _seed(
    state: State,
    seller_nip: str,
    buyer_nip: str,
    count: int,
    stored_from: datetime,
    stored_to: datetime,
    fa2_share: float,
    fa_rr_share: float,
    issued_days_before: int,
    seed: int,
    number_prefix: str,
) -> BulkSeedResult:
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    templates = {
        kind: [_Prepared(t) for t in items]
        for kind, items in _templates(seller_nip, buyer_nip, seed).items()
    }
    span_ms = int((stored_to - stored_from).total_seconds() * 1000)
    offsets = sorted(rng.randint(0, span_ms) for _ in range(count))
    result = BulkSeedResult()
    store, index, duplicates = invoices_of(state), _index(state), _duplicates(state)
    for position, offset in enumerate(offsets, start=1):
        storage = stored_from + timedelta(milliseconds=offset)
        roll = rng.random()
        kinds = templates["FA_RR"] if roll < fa_rr_share else templates["FA2"]
        if roll >= fa_rr_share + fa2_share:
            kinds = templates["FA3"]
        template = kinds[position % len(kinds)]
        number = f"{number_prefix}/{seed}/{position:06d}"
        stored = _invoice(state, rng, template, number, storage, issued_days_before)
        # What register_invoice does, with the index keys computed once per template.
        store[stored.ksef_number] = stored
        duplicates[(template.seller_nip, template.kind, number)] = stored.ksef_number
        for key in template.keys:
            index.setdefault(key, []).append(stored.ksef_number)
        result.ksef_numbers.append(stored.ksef_number)
        code = stored.form_code[0]
        result.forms[code] = result.forms.get(code, 0) + 1
    if offsets:
        result.first_storage = stored_from + timedelta(milliseconds=offsets[0])
        result.last_storage = stored_from + timedelta(milliseconds=offsets[-1])
    state.touch()
    return result


def ground_truth(
    state: State, nip: str, subject_type: str, *, until: datetime | None = None
) -> dict[str, str]:
    """KSeF number -> invoiceHash of every invoice the context NIP sees as SUBJECT_TYPE that
    is in permanent storage at UNTIL (default: the simulated now)."""
    if subject_type not in SUBJECT_TYPES:
        raise ValueError(f"subject_type must be one of {', '.join(SUBJECT_TYPES)}")
    moment = until or state.now()
    store = invoices_of(state)
    truth = {}
    for number in _index(state).get((subject_type, nip), ()):
        invoice = store[number]
        if invoice.permanent_storage_date <= moment:
            truth[number] = invoice.invoice_hash
    return truth


def _check(
    state: State, count: int, stored_from: datetime, stored_to: datetime, shares: float
) -> None:
    if stored_from.tzinfo is None or stored_to.tzinfo is None:
        raise ValueError("stored_from and stored_to must be timezone-aware")
    if count < 0 or stored_to < stored_from:
        raise ValueError("count must be >= 0 and stored_to not earlier than stored_from")
    if not 0 <= shares <= 1:
        raise ValueError("fa2_share + fa_rr_share must be between 0 and 1")
    reported = reported_high_water_mark(state)
    if reported is not None and stored_from <= reported:
        raise ValueError(
            f"stored_from {stored_from.isoformat()} is not after the HWM already reported "
            f"({reported.isoformat()}): KSeF never adds invoices at or before it; seed late "
            "arrivals after it"
        )


def _invoice(
    state: State,
    rng: random.Random,
    template: _Prepared,
    number: str,
    storage: datetime,
    issued_days_before: int,
) -> StoredInvoice:
    acquisition = storage - timedelta(milliseconds=rng.randint(500, 4000))
    invoicing = acquisition - timedelta(milliseconds=rng.randint(150, 900))
    issue_day = invoicing.astimezone(WARSAW).date() - timedelta(days=issued_days_before)
    if issued_days_before:
        invoicing = acquisition - timedelta(minutes=rng.randint(1, 60))
    content = template.content.replace(_NUMBER_BYTES, number.encode("ascii")).replace(
        _TEMPLATE_DAY_BYTES, issue_day.isoformat().encode("ascii")
    )
    facts = template.facts(number, issue_day)
    return StoredInvoice(
        ksef_number=next_ksef_number(state, facts.seller_nip, acquisition),
        content=content,
        invoice_hash=sha256_b64(content),
        facts=facts,
        invoicing_date=invoicing,
        acquisition_date=acquisition,
        permanent_storage_date=storage,
        invoicing_mode="Offline" if issued_days_before else "Online",
        session_reference="bulk-seed",
        invoice_reference=number,
        context=("Nip", facts.seller_nip),
        form_code=template.form_code,
    )


def _templates(seller_nip: str, buyer_nip: str, seed: int) -> Mapping[str, list[_Template]]:
    generator = Fa3Generator(seed)
    seller, buyer = generator.party(seller_nip), generator.party(buyer_nip)
    generated = [
        generator.invoice(
            name, seller=seller, buyer=buyer, issue_date=_TEMPLATE_DAY, number=_NUMBER
        )
        for name in _TEMPLATES
    ]
    fa3 = [_Template(g.xml.decode("utf-8"), g.facts(), FA3) for g in generated]
    fa2 = [
        _Template(
            t.text.replace(FA3_NAMESPACE, FA2_NAMESPACE)
            .replace(_FA3_CODE, _FA2_CODE)
            .replace("<WariantFormularza>3<", "<WariantFormularza>2<"),
            t.facts,
            FA2,
        )
        for t in fa3
    ]
    return {"FA3": fa3, "FA2": fa2, "FA_RR": [_fa_rr_template(generated[0], seller, buyer)]}


def _fa_rr_template(invoice: GeneratedInvoice, farmer: Party, purchaser: Party) -> _Template:
    """A VAT RR invoice: the purchaser of agricultural produce issues it for the farmer.
    Kept to the parties, number, date and totals; KSeF reports it as FA_RR (1)."""
    net, vat = invoice.net, invoice.vat_pln
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<FakturaRR xmlns="{FA_RR_NAMESPACE}">\n'
        "\t<Naglowek>\n"
        '\t\t<KodFormularza kodSystemowy="FA_RR (1)" wersjaSchemy="1-1E">FA_RR</KodFormularza>\n'
        "\t\t<WariantFormularza>1</WariantFormularza>\n"
        f"\t\t<DataWytworzeniaFa>{_TEMPLATE_DAY.isoformat()}T08:00:00Z</DataWytworzeniaFa>\n"
        "\t</Naglowek>\n"
        f"\t<Podmiot1><DaneIdentyfikacyjne><NIP>{farmer.nip}</NIP>"
        f"<Nazwa>{farmer.name}</Nazwa></DaneIdentyfikacyjne></Podmiot1>\n"
        f"\t<Podmiot2><DaneIdentyfikacyjne><NIP>{purchaser.nip}</NIP>"
        f"<Nazwa>{purchaser.name}</Nazwa></DaneIdentyfikacyjne></Podmiot2>\n"
        "\t<FakturaRR>\n"
        "\t\t<KodWaluty>PLN</KodWaluty>\n"
        f"\t\t<P_4B>{_TEMPLATE_DAY.isoformat()}</P_4B>\n"
        f"\t\t<P_4C>{_NUMBER}</P_4C>\n"
        f"\t\t<P_11_1>{net:.2f}</P_11_1>\n"
        f"\t\t<P_11_2>{vat:.2f}</P_11_2>\n"
        f"\t\t<P_12_1>{net + vat:.2f}</P_12_1>\n"
        "\t\t<RodzajFaktury>VAT_RR</RodzajFaktury>\n"
        "\t</FakturaRR>\n"
        "</FakturaRR>\n"
    )
    facts = replace(invoice.facts(), kind="VAT_RR", gross_amount=net + vat, currency="PLN")
    return _Template(text, facts, FA_RR)
