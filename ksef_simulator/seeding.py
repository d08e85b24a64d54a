"""Seed the simulator with subjects, owners, grants and a history of invoices.

`python -m ksef_simulator --seed "subjects=20,invoices=200,from=2026-01-01,to=2026-11-01,seed=1"`
(or `SimulatorConfig(seed=...)`) creates, deterministically from `seed`:

* `subjects` companies with valid NIPs, each owned by a person (a PESEL linked to the NIP,
  as `POST /testdata/person` does); the first one is an accounting office to which every
  other company gave the entity grants `InvoiceRead` and `InvoiceWrite` (delegable), the
  pattern the Ministry recommends for offices (digest §4.4);
* `invoices` schema-valid FA(3) invoices per company, issued on days spread over
  [`from`, `to`] (clamped to the simulated "now"), from the fa3gen templates — domestic
  VAT with several rates, foreign currency, intra-EU supply, advances and corrections of
  earlier invoices — sold mostly to the other seeded companies (so both sales and
  purchases can be queried) and sometimes with a third party (Podmiot3);
* the online sessions they were "sent" in (one per company and day, closed, with UPO).

Every invoice gets a KSeF number with a valid checksum, invoicing/acquisition/permanent
storage dates on its issue day, and is indexed exactly as an invoice sent online would be.
Seeding 20 × 200 takes a few seconds: the generator's output is schema-valid by
construction and its facts equal what the parser reads from it (both tested), so the
XML is neither validated nor parsed here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from ksef_simulator.fa3gen import Fa3Generator, GeneratedInvoice, Party, random_nip
from ksef_simulator.identifiers import permission_id
from ksef_simulator.invoices import (
    WARSAW,
    StoredInvoice,
    next_ksef_number,
    register_invoice,
    sha256_b64,
)
from ksef_simulator.sessions import OnlineSession, SessionInvoice
from ksef_simulator.state import Grant, Identifier, Person, State, Subject

_TEMPLATE_WEIGHTS = (("vat", 55), ("foreign", 12), ("eu", 8), ("kor", 15), ("zal", 10))
_PESEL_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)


@dataclass(frozen=True)
class SeedSpec:
    subjects: int = 5
    invoices: int = 50
    start: date | None = None
    end: date | None = None
    seed: int = 0


@dataclass
class SeededSubject:
    nip: str
    pesel: str
    name: str
    is_office: bool


@dataclass
class SeedResult:
    subjects: list[SeededSubject] = field(default_factory=list)
    invoice_count: int = 0

    @property
    def office(self) -> SeededSubject:
        return self.subjects[0]


def parse_spec(spec: str) -> SeedSpec:
    """`subjects=20,invoices=200,from=2026-01-01,to=2026-11-01,seed=1` (all optional)."""
    values: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, value = item.partition("=")
        if not sep or name.strip() not in ("subjects", "invoices", "from", "to", "seed"):
            raise ValueError(
                f"--seed: unknown item {item!r}; expected subjects=N,invoices=M,"
                "from=YYYY-MM-DD,to=YYYY-MM-DD,seed=S"
            )
        values[name.strip()] = value.strip()
    try:
        parsed = SeedSpec(
            subjects=int(values.get("subjects", 5)),
            invoices=int(values.get("invoices", 50)),
            start=date.fromisoformat(values["from"]) if "from" in values else None,
            end=date.fromisoformat(values["to"]) if "to" in values else None,
            seed=int(values.get("seed", 0)),
        )
    except ValueError as exc:
        raise ValueError(f"--seed: {exc}") from None
    if parsed.subjects < 1 or parsed.invoices < 0:
        raise ValueError("--seed: subjects must be >= 1 and invoices >= 0")
    if parsed.start and parsed.end and parsed.end < parsed.start:
        raise ValueError("--seed: 'to' is earlier than 'from'")
    return parsed


def seed_from_spec(state: State, spec: str) -> SeedResult:
    return seed(state, parse_spec(spec))


def random_pesel(rng: random.Random) -> str:
    born = date(1960, 1, 1) + timedelta(days=rng.randint(0, 14_000))
    month = born.month + (20 if born.year >= 2000 else 0)
    digits = f"{born.year % 100:02d}{month:02d}{born.day:02d}{rng.randint(0, 9999):04d}"
    check = (10 - sum(int(d) * w for d, w in zip(digits, _PESEL_WEIGHTS, strict=True)) % 10) % 10
    return digits + str(check)


def _register_subject(state: State, party: Party, pesel: str, now: datetime, office: bool) -> None:
    assert party.nip is not None
    description = f"{'Biuro rachunkowe' if office else 'Klient'} {party.name} (seed)"
    state.subjects[party.nip] = Subject(
        nip=party.nip, subject_type="Person", description=description, created=now
    )
    state.persons[pesel] = Person(
        nip=party.nip,
        pesel=pesel,
        is_bailiff=False,
        is_deceased=False,
        description=description,
        created=now,
    )


def _grant_office(state: State, client: Party, office: Party, now: datetime) -> None:
    """Pattern A: the client's delegable entity grants to the office (digest §4.4)."""
    assert client.nip is not None and office.nip is not None
    for permission in ("InvoiceRead", "InvoiceWrite"):
        grant = Grant(
            id=permission_id(),
            kind="entity",
            context=Identifier("Nip", client.nip),
            authorized=Identifier("Nip", office.nip),
            permission=permission,
            description=f"Obsługa księgowa {client.name}",
            author=Identifier("Nip", client.nip),
            start_date=now,
            can_delegate=True,
            subject_details={"fullName": office.name},
        )
        state.grants[grant.id] = grant


def _issue_days(rng: random.Random, start: date, end: date, count: int) -> list[date]:
    span = (end - start).days
    return sorted(start + timedelta(days=rng.randint(0, span)) for _ in range(count))


def seed(state: State, spec: SeedSpec) -> SeedResult:
    now = state.now()
    today = now.astimezone(WARSAW).date()
    end = min(spec.end or today, today)
    start = min(spec.start or end - timedelta(days=90), end)
    generator = Fa3Generator(spec.seed)
    rng = random.Random(spec.seed + 1)  # noqa: S311 - test data, not security
    result = SeedResult()
    parties: list[Party] = []
    known = set(state.subjects)
    for index in range(spec.subjects):
        nip = random_nip(rng)
        while nip in known:
            nip = random_nip(rng)
        known.add(nip)
        party = generator.party(nip)
        if index == 0:
            party = Party(**{**party.__dict__, "name": f"Biuro Rachunkowe {party.name}"})
        pesel = random_pesel(rng)
        while pesel in state.persons:
            pesel = random_pesel(rng)
        _register_subject(state, party, pesel, now, office=index == 0)
        if index > 0:
            _grant_office(state, party, parties[0], now)
        parties.append(party)
        result.subjects.append(SeededSubject(nip, pesel, party.name, index == 0))
    templates = [name for name, _ in _TEMPLATE_WEIGHTS]
    weights = [weight for _, weight in _TEMPLATE_WEIGHTS]
    for seller in parties:
        history: list[tuple[GeneratedInvoice, str]] = []
        sessions: dict[date, OnlineSession] = {}
        for day in _issue_days(rng, start, end, spec.invoices):
            template = rng.choices(templates, weights)[0]
            others = [p for p in parties if p is not seller]
            buyer = rng.choice(others) if others and rng.random() < 0.7 else None
            third = generator.party() if rng.random() < 0.05 else None
            corrects = None
            if template == "kor" and history:
                corrects = rng.choice(history[-20:])
            invoice = generator.invoice(
                template,
                seller=seller,
                buyer=buyer,
                issue_date=day,
                number=f"{'FK' if template == 'kor' else 'FZ' if template == 'zal' else 'FV'}"
                f"/{day:%Y/%m}/{len(history) + 1:05d}",
                corrects=corrects[0] if corrects else None,
                corrects_ksef_number=corrects[1] if corrects else None,
                third_party=third,
            )
            ksef_number = _store(state, rng, sessions, seller, invoice, now)
            history.append((invoice, ksef_number))
            result.invoice_count += 1
        for session in sessions.values():
            _close_seeded(rng, session)
    return result


def _reference(rng: random.Random, kind: str, moment: datetime) -> str:
    """A reference number like identifiers.reference_number, but from the seeded stream."""
    token = f"{rng.getrandbits(88):022X}"
    return f"{moment:%Y%m%d}-{kind}-{token[:10]}-{token[10:20]}-{token[20:]}"


def _moment(rng: random.Random, day: date, now: datetime) -> datetime:
    local = datetime.combine(day, time(8), tzinfo=WARSAW) + timedelta(
        seconds=rng.randint(0, 10 * 3600), milliseconds=rng.randint(0, 999)
    )
    return min(local, now - timedelta(minutes=5))


def _store(
    state: State,
    rng: random.Random,
    sessions: dict[date, OnlineSession],
    seller: Party,
    invoice: GeneratedInvoice,
    now: datetime,
) -> str:
    assert seller.nip is not None
    # Most invoices are sent the day they are issued; some a day later (offline24).
    late = rng.random() < 0.05
    sent = _moment(rng, invoice.issue_date + timedelta(days=1 if late else 0), now)
    session = _session_for(state, rng, sessions, seller.nip, sent)
    acquisition = sent + timedelta(milliseconds=rng.randint(150, 900))
    storage = acquisition + timedelta(milliseconds=rng.randint(500, 4000))
    facts = invoice.facts()
    mode = "Offline" if facts.issue_date < sent.astimezone(WARSAW).date() else "Online"
    record = SessionInvoice(
        reference_number=_reference(rng, "EE", sent),
        ordinal=len(session.invoices) + 1,
        invoice_hash=sha256_b64(invoice.xml),
        invoicing_date=sent,
        status_code=200,
        invoice_number=facts.invoice_number,
        invoicing_mode=mode,
    )
    stored = StoredInvoice(
        ksef_number=next_ksef_number(state, seller.nip, acquisition),
        content=invoice.xml,
        invoice_hash=record.invoice_hash,
        facts=facts,
        invoicing_date=sent,
        acquisition_date=acquisition,
        permanent_storage_date=min(storage, now - timedelta(minutes=1)),
        invoicing_mode=mode,
        session_reference=session.reference_number,
        invoice_reference=record.reference_number,
        context=("Nip", seller.nip),
    )
    record.ksef_number = stored.ksef_number
    register_invoice(state, stored)
    session.invoices[record.reference_number] = record
    session.updated = max(session.updated, storage)
    return stored.ksef_number


def _session_for(
    state: State, rng: random.Random, sessions: dict[date, OnlineSession], nip: str, sent: datetime
) -> OnlineSession:
    # One session per company and day: a real online session lives 12 hours.
    key = sent.astimezone(WARSAW).date()
    session = sessions.get(key)
    if session is None:
        session = OnlineSession(
            reference_number=_reference(rng, "SO", sent),
            context=("Nip", nip),
            subject=("Nip", nip),
            token_reference=None,
            auth_document_hash=sha256_b64(f"seed-{nip}-{key}".encode()),
            form_code=("FA (3)", "1-0E", "FA"),
            key=bytes(32),
            iv=bytes(16),
            created=sent - timedelta(seconds=5),
            updated=sent,
            valid_until=sent - timedelta(seconds=5) + timedelta(hours=12),
        )
        sessions[key] = session
        state.sessions[session.reference_number] = session
    return session


def _close_seeded(rng: random.Random, session: OnlineSession) -> None:
    """Seeded sessions end as the real ones would: closed, processed, with a session UPO."""
    session.closed = session.updated
    session.processed_at = session.updated + timedelta(seconds=2)
    session.status_code = 200
    session.updated = session.processed_at
    pages = -(-len(session.invoices) // 10_000)
    session.upo_pages = [_reference(rng, "EU", session.processed_at) for _ in range(pages)]
