"""What KSeF checks in one decrypted invoice file, and how an accepted one is stored.

Online and batch sessions reach this point differently — an online invoice arrives in its
own request with a declared size and hash, a batch invoice comes out of the decrypted,
unpacked archive — but from the plain file on the rules are the same (digest §5.2):

1. size within the context's limit for that session type (430);
2. content rules and the FA(3) schema (450 for XSD and content, 430 for unreadable files);
3. the seller against the context: the context's own NIP, or a seller that granted it
   SelfInvoicing for a self-billed invoice (410);
4. the issue date `P_1` not after acceptance (450);
5. attachments: online never, batch only with the attachment consent (415);
6. the business duplicate rule seller NIP + RodzajFaktury + P_2 (440, with the original's
   KSeF number and session in `extensions`) — checked against everything stored so far,
   so a second copy inside the same batch is a duplicate too.

An accepted file gets exactly one KSeF number and lands in the invoice store, where the
metadata query, downloads and exports see it like any other invoice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from ksef_simulator.fa3xml import (
    InvoiceFacts,
    InvoiceRejected,
    extract_facts,
    fa3_schema,
    parse_and_validate,
)
from ksef_simulator.invoices import (
    WARSAW,
    StoredInvoice,
    find_duplicate,
    next_ksef_number,
    register_invoice,
)
from ksef_simulator.state import State


@dataclass(frozen=True)
class Rejection:
    """An invoice status code (SessionInvoiceStatusResponse.status) with its details."""

    code: int
    details: list[str]
    extensions: dict[str, str] | None = None


@dataclass(frozen=True)
class Verdict:
    """FACTS when the file could be read (even if rejected later: KSeF reports the
    invoice number of a duplicate); REJECTION is None for an accepted invoice."""

    facts: InvoiceFacts | None
    rejection: Rejection | None = None


@dataclass(frozen=True)
class Submission:
    """One plain invoice file as a session hands it over."""

    content: bytes
    context: tuple[str, str]
    session_kind: str  # "onlineSession" | "batchSession" (keys of the context limits)
    invoicing: datetime  # when KSeF accepted it for processing
    limits: dict[str, Any] = field(default_factory=dict)


def verify_invoice(state: State, submission: Submission) -> Verdict:
    """Run the checks above on a decrypted file, in KSeF's order."""
    content = submission.content
    limit_mb = submission.limits["maxInvoiceSizeInMB"]
    if len(content) > int(limit_mb * 1_000_000):
        return Verdict(None, Rejection(430, [f"Rozmiar faktury przekracza {limit_mb} MB."]))
    try:
        root = parse_and_validate(content, fa3_schema())
    except InvoiceRejected as rejected:
        return Verdict(None, Rejection(rejected.code, rejected.details))
    facts = extract_facts(root)
    problem = semantic_problem(state, submission.context, facts, submission.invoicing)
    if problem is None:
        problem = _attachment_problem(state, submission, facts)
    if problem is None:
        problem = duplicate_problem(state, facts)
    return Verdict(facts, problem)


def semantic_problem(
    state: State, context: tuple[str, str], facts: InvoiceFacts, invoicing: datetime
) -> Rejection | None:
    context_type, context_value = context
    seller_ok = context_type == "Nip" and context_value == facts.seller_nip
    if not seller_ok and facts.is_self_invoicing and context_type == "Nip":
        seller_ok = any(
            grant.permission == "SelfInvoicing"
            and grant.context.key == ("Nip", facts.seller_nip)
            and grant.authorized.value == context_value
            for grant in state.grants.values()
        )
    if not seller_ok:
        return Rejection(
            410,
            [
                f"Kontekst {context_value} nie jest uprawniony do wystawienia faktury w imieniu "
                f"sprzedawcy (NIP: {facts.seller_nip})"
            ],
        )
    if facts.issue_date > invoicing.astimezone(WARSAW).date():
        return Rejection(
            450,
            [
                f"Data wystawienia faktury (P_1: {facts.issue_date.isoformat()}) jest "
                "późniejsza niż data jej przyjęcia w KSeF."
            ],
        )
    return None


def _attachment_problem(
    state: State, submission: Submission, facts: InvoiceFacts
) -> Rejection | None:
    if not facts.has_attachment:
        return None
    if submission.session_kind == "onlineSession":
        return Rejection(415, ["Faktura z załącznikiem może być wysłana wyłącznie wsadowo."])
    subject = state.subjects.get(submission.context[1])
    if subject is None or not subject.attachments_allowed:
        return Rejection(415, ["Brak zgody na wysyłanie faktur z załącznikiem."])
    return None


def duplicate_problem(state: State, facts: InvoiceFacts) -> Rejection | None:
    duplicate = find_duplicate(state, facts)
    if duplicate is None:
        return None
    return Rejection(
        440,
        [
            f"Duplikat faktury. Faktura o numerze KSeF: {duplicate.ksef_number} została już "
            f"prawidłowo przesłana do systemu w sesji: {duplicate.session_reference}"
        ],
        {
            "originalSessionReferenceNumber": duplicate.session_reference,
            "originalKsefNumber": duplicate.ksef_number,
        },
    )


def invoicing_mode(offline: bool, issue_date: date, reference: datetime) -> str:
    """Offline when declared, or when P_1 is an earlier calendar day (Warsaw) than the
    reference moment — the sending for online invoices, the session's opening for batch
    ones (digest §5.2, auto-offline)."""
    if offline or issue_date < reference.astimezone(WARSAW).date():
        return "Offline"
    return "Online"


@dataclass(frozen=True)
class Acceptance:
    context: tuple[str, str]
    session_reference: str
    invoice_reference: str
    invoice_hash: str
    invoicing: datetime
    mode: str
    hash_of_corrected: str | None = None


def store_accepted(
    state: State, content: bytes, facts: InvoiceFacts, acceptance: Acceptance
) -> StoredInvoice:
    """Give the invoice its KSeF number and put it in the store (permanent storage follows
    after `permanent_storage_seconds`, always later than the acquisition)."""
    now = state.now()
    acquisition = now - timedelta(milliseconds=1)
    stored = StoredInvoice(
        ksef_number=next_ksef_number(state, facts.seller_nip, acquisition),
        content=content,
        invoice_hash=acceptance.invoice_hash,
        facts=facts,
        invoicing_date=acceptance.invoicing,
        acquisition_date=acquisition,
        permanent_storage_date=now + timedelta(seconds=state.config.permanent_storage_seconds),
        invoicing_mode=acceptance.mode,
        session_reference=acceptance.session_reference,
        invoice_reference=acceptance.invoice_reference,
        context=acceptance.context,
        hash_of_corrected=acceptance.hash_of_corrected,
    )
    register_invoice(state, stored)
    counts = assigned_ksef_numbers(state)
    counts[stored.invoice_hash] = counts.get(stored.invoice_hash, 0) + 1
    return stored


def assigned_ksef_numbers(state: State) -> dict[str, int]:
    """How many KSeF numbers sessions (online and batch) assigned per invoice hash — the
    ground truth of "every invoice ends with exactly one KSeF number" in fault tests
    (seeded invoices are not counted)."""
    return cast(dict[str, int], state.extra.setdefault("ksef_numbers_by_hash", {}))
