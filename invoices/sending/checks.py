"""What the portal checks in a client's FA(3) files before anything goes to KSeF.

Staff upload one file, many, or a ZIP from the client's invoicing program. `unpack` turns
the upload into invoice files (a ZIP opened one level deep, with bounds on the number of
files and the bytes read, so an archive bomb costs nothing), and `check_files` checks each
the way KSeF would, in the order a person fixes them: size, well-formed XML, the FA(3)
form, the official XSD (each violation worded in Polish with its line and element), seller
= the client, and duplicates — of an invoice KSeF already holds for the client (same bytes
or same number) and of another file of the same upload. A file with no problem may be sent;
the others are shown with every problem found, and nothing is sent for them.

Problems are `portal.messages.StoredText`: the Polish source with its parameters, rendered
in the reader's language wherever they are shown later.
"""

from __future__ import annotations

import io
import lzma
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import PurePosixPath

from django.db.models import Q
from django.utils.translation import gettext_noop
from lxml import etree

from clients.models import Client
from invoices.documents.render import FA2_NAMESPACE, FA_RR_NAMESPACE
from invoices.models import Invoice, OutgoingInvoice
from ksef import fa3
from ksef.crypto import sha256_b64
from ksef.errors import (
    InvoiceParseError,
    InvoiceTooLargeError,
    MalformedXmlError,
    UnsafeXmlError,
)
from portal.messages import StoredText, deferred

__all__ = [
    "MAX_FILES",
    "MAX_PROBLEMS_PER_FILE",
    "MAX_UPLOAD_BYTES",
    "CheckedFile",
    "InvoiceFile",
    "Unpacked",
    "check_files",
    "unpack",
]

# KSeF takes at most 10,000 invoices in one session (digest §5.6), so one upload may not
# hold more; and the portal reads at most 1 GB of invoices out of one upload.
MAX_FILES = 10_000
MAX_UPLOAD_BYTES = 1_000_000_000
# A broken file can break hundreds of rules; the first ones are what a person fixes first.
MAX_PROBLEMS_PER_FILE = 20
_SHOWN_VALUE = 60  # characters of an offending value quoted back


@dataclass(frozen=True, slots=True)
class InvoiceFile:
    """One file as uploaded (`name` as the person knows it: "faktury.zip/FV-1.xml")."""

    name: str
    content: bytes


@dataclass(slots=True)
class Unpacked:
    """The invoice files of an upload, and what could not become one (name, problem)."""

    files: list[InvoiceFile] = field(default_factory=list)
    problems: list[tuple[str, StoredText]] = field(default_factory=list)


@dataclass(slots=True)
class CheckedFile:
    """One file after the checks; `ok` when it may be sent."""

    name: str
    content: bytes
    invoice_hash: str
    number: str = ""
    issue_date: date | None = None
    seller_nip: str = ""
    buyer_name: str = ""
    gross_total: Decimal | None = None
    currency: str = ""
    problems: list[StoredText] = field(default_factory=list)
    # The invoice KSeF already holds that this file repeats (the page links to it).
    duplicate_of: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


# --------------------------------------------------------------------------- unpacking


def unpack(uploads: Iterable[InvoiceFile]) -> Unpacked:
    """XML files as they are, ZIP archives opened (their XML members; folders are flattened
    into the name), everything else refused by name. Stops reading at `MAX_FILES` files or
    `MAX_UPLOAD_BYTES` bytes, and never reads a member past KSeF's largest invoice."""
    result = Unpacked()
    budget = [MAX_UPLOAD_BYTES]
    for upload in uploads:
        if _is_zip(upload):
            _unpack_zip(upload, result, budget)
        elif _is_xml_name(upload.name) or upload.content.lstrip()[:1] == b"<":
            _take(result, upload, budget)
        else:
            result.problems.append(
                (upload.name, deferred(gettext_noop("To nie plik XML ani archiwum ZIP.")))
            )
    return result


def _is_zip(upload: InvoiceFile) -> bool:
    return upload.content[:4] == b"PK\x03\x04" or (
        upload.name.lower().endswith(".zip") and upload.content.lstrip()[:1] != b"<"
    )


def _is_xml_name(name: str) -> bool:
    return name.lower().endswith(".xml")


def _take(result: Unpacked, file: InvoiceFile, budget: list[int]) -> bool:
    """Add FILE unless a bound is reached (then say so once and refuse the rest)."""
    if len(result.files) >= MAX_FILES or budget[0] < len(file.content):
        if not any(name == "" for name, _ in result.problems):
            result.problems.append(
                (
                    "",
                    deferred(
                        gettext_noop(
                            "Za dużo faktur naraz: przyjęto pierwsze %(count)s (limit: "
                            "%(limit)s plików lub 1 GB). Resztę wyślij osobno."
                        ),
                        {"count": len(result.files), "limit": MAX_FILES},
                    ),
                )
            )
        return False
    budget[0] -= len(file.content)
    result.files.append(file)
    return True


def _unpack_zip(upload: InvoiceFile, result: Unpacked, budget: list[int]) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(upload.content))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        result.problems.append(
            (
                upload.name,
                deferred(gettext_noop("Archiwum ZIP jest uszkodzone albo niepełne.")),
            )
        )
        return
    limit = fa3.MAX_INVOICE_WITH_ATTACHMENT_BYTES
    for member in members:
        if member.is_dir():
            continue
        name = f"{upload.name}/{member.filename}"
        base = PurePosixPath(member.filename).name
        if base.startswith(".") or member.filename.startswith("__MACOSX/"):
            continue  # metadata a Mac or an editor leaves in archives
        if not _is_xml_name(base):
            result.problems.append(
                (name, deferred(gettext_noop("Pominięto: w archiwum liczą się tylko pliki XML.")))
            )
            continue
        if member.flag_bits & 0x1:
            result.problems.append(
                (
                    name,
                    deferred(
                        gettext_noop("Plik jest zaszyfrowany hasłem: spakuj faktury bez hasła.")
                    ),
                )
            )
            continue
        if member.file_size > limit:
            result.problems.append((name, _too_large(member.file_size, limit)))
            continue
        try:
            with archive.open(member) as stream:
                content = stream.read(limit + 1)
        except _BROKEN_MEMBER:
            result.problems.append(
                (name, deferred(gettext_noop("Nie udało się rozpakować tego pliku z archiwum.")))
            )
            continue
        if len(content) > limit:  # the archive's header lied about the size
            result.problems.append((name, _too_large(len(content), limit)))
            continue
        if not _take(result, InvoiceFile(name, content), budget):
            return


# What reading a damaged member raises: a CRC or header mismatch (BadZipFile), corrupt
# deflate / LZMA data (zlib.error, LZMAError), corrupt bzip2 or truncated data (OSError,
# EOFError), a compression method Python lacks (NotImplementedError), and a password the
# flag check above missed (RuntimeError).
_BROKEN_MEMBER = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    OSError,
    EOFError,
    NotImplementedError,
    RuntimeError,
)


def _too_large(size: int, limit: int) -> StoredText:
    return deferred(
        gettext_noop(
            "Plik ma %(size)s kB, a KSeF przyjmuje fakturę do %(limit)s kB (z załącznikiem do "
            "%(limit_attachment)s kB)."
        ),
        {
            "size": -(-size // 1000),
            "limit": fa3.MAX_INVOICE_BYTES // 1000,
            "limit_attachment": fa3.MAX_INVOICE_WITH_ATTACHMENT_BYTES // 1000,
        },
    )


# --------------------------------------------------------------------------- checks


def check_files(client: Client, files: Sequence[InvoiceFile]) -> list[CheckedFile]:
    """Check every file for sending as CLIENT's invoice (three queries, whatever the count)."""
    checked = [_check_one(client, file) for file in files]
    _mark_repeats_within(checked)
    _mark_known_to_ksef(client, checked)
    _mark_sent_by_portal(client, checked)
    return checked


def _check_one(client: Client, file: InvoiceFile) -> CheckedFile:
    result = CheckedFile(file.name, file.content, sha256_b64(file.content))
    if not file.content.strip():
        result.problems.append(deferred(gettext_noop("Plik jest pusty.")))
        return result
    try:
        fa3.check_size(file.content)
    except InvoiceTooLargeError as too_large:
        result.problems.append(_too_large(too_large.size, too_large.limit))
        return result
    form_problem = _form_problem(file.content)
    if form_problem is not None:
        result.problems.append(form_problem)
        return result
    problems = fa3.schema_problems(file.content)
    result.problems.extend(_schema_message(problem) for problem in problems[:MAX_PROBLEMS_PER_FILE])
    if len(problems) > MAX_PROBLEMS_PER_FILE:
        result.problems.append(
            deferred(
                gettext_noop("Dalsze niezgodności ze schematem pominięto (razem: %(total)s)."),
                {"total": len(problems)},
            )
        )
    try:
        summary = fa3.parse(file.content)
    except InvoiceParseError:
        if not result.problems:  # the XSD passed but the listing parser cannot read it
            result.problems.append(
                deferred(gettext_noop("Nie udało się odczytać danych faktury z pliku."))
            )
        return result
    result.number = summary.number
    result.issue_date = summary.issue_date
    result.seller_nip = summary.seller.identifier.value or ""
    result.buyer_name = summary.buyer.name or ""
    result.gross_total = summary.gross_total
    result.currency = summary.currency
    if result.seller_nip != client.nip:
        result.problems.append(
            deferred(
                gettext_noop(
                    "Sprzedawcą w pliku jest NIP %(seller)s, a klient ma NIP %(nip)s: portal "
                    "wysyła tylko faktury wystawione przez tego klienta."
                ),
                {"seller": result.seller_nip or "—", "nip": client.nip},
            )
        )
    return result


def _form_problem(content: bytes) -> StoredText | None:
    """Not XML, a DOCTYPE, or not an FA(3) `Faktura`: said before the XSD is tried."""
    try:
        root = fa3.document_root(content)
    except MalformedXmlError as malformed:
        return deferred(
            gettext_noop("To nie jest poprawny dokument XML (wiersz %(line)s): %(detail)s"),
            {"line": malformed.line, "detail": malformed.detail},
        )
    except UnsafeXmlError:
        return deferred(
            gettext_noop("Plik zawiera deklarację DOCTYPE, której faktury KSeF nie mogą mieć.")
        )
    except InvoiceParseError as error:
        return deferred(
            gettext_noop("Nie udało się odczytać pliku: %(detail)s"), {"detail": str(error)}
        )
    name = etree.QName(root)
    if name.localname == "Faktura" and name.namespace == FA2_NAMESPACE:
        return deferred(
            gettext_noop(
                "To faktura w schemacie FA (2); od 1 lutego 2026 KSeF przyjmuje tylko FA (3)."
            )
        )
    if name.localname == "Faktura" and name.namespace == FA_RR_NAMESPACE:
        return deferred(
            gettext_noop("To faktura VAT RR (FA_RR); portal wysyła na razie tylko faktury FA (3).")
        )
    if name.localname != "Faktura" or name.namespace != fa3.FA3_NAMESPACE:
        return deferred(
            gettext_noop("To nie jest faktura FA (3): element główny to %(root)s."),
            {"root": name.localname},
        )
    return None


_SCHEMA_MESSAGES = {
    fa3.ProblemKind.UNEXPECTED: gettext_noop(
        "Wiersz %(line)s, %(element)s: ten element jest tu niedozwolony; schemat FA (3) oczekuje "
        "w tym miejscu: %(expected)s."
    ),
    fa3.ProblemKind.MISSING: gettext_noop(
        "Wiersz %(line)s, %(element)s: brakuje wymaganego elementu %(expected)s."
    ),
    fa3.ProblemKind.PATTERN: gettext_noop(
        "Wiersz %(line)s, %(element)s: wartość „%(value)s” ma niedozwolony format."
    ),
    fa3.ProblemKind.ENUMERATION: gettext_noop(
        "Wiersz %(line)s, %(element)s: wartości „%(value)s” nie ma na liście dozwolonych."
    ),
    fa3.ProblemKind.LENGTH: gettext_noop(
        "Wiersz %(line)s, %(element)s: wartość „%(value)s” jest za krótka albo za długa."
    ),
    fa3.ProblemKind.VALUE: gettext_noop(
        "Wiersz %(line)s, %(element)s: wartość „%(value)s” jest niedozwolona (na przykład zły "
        "zapis daty lub kwoty)."
    ),
    fa3.ProblemKind.OTHER: gettext_noop(
        "Wiersz %(line)s, %(element)s: niezgodność ze schematem FA (3): %(detail)s"
    ),
}
_UNEXPECTED_AT_END = gettext_noop("Wiersz %(line)s, %(element)s: ten element jest tu niedozwolony.")


def _schema_message(problem: fa3.SchemaProblem) -> StoredText:
    element = problem.element.removeprefix("Faktura/") or problem.element or "Faktura"
    value = problem.value if problem.value is not None else ""
    if len(value) > _SHOWN_VALUE:
        value = value[: _SHOWN_VALUE - 1] + "…"
    kind = problem.kind
    if kind in (fa3.ProblemKind.PATTERN, fa3.ProblemKind.LENGTH, fa3.ProblemKind.VALUE) and (
        problem.value is None
    ):
        kind = fa3.ProblemKind.OTHER
    msgid = _SCHEMA_MESSAGES[kind]
    if kind is fa3.ProblemKind.UNEXPECTED and not problem.expected:
        msgid = _UNEXPECTED_AT_END
    return deferred(
        msgid,
        {
            "line": problem.line,
            "element": element,
            "value": value,
            "expected": ", ".join(problem.expected),
            "detail": problem.message,
        },
    )


def _mark_repeats_within(checked: Sequence[CheckedFile]) -> None:
    """The second file with the bytes or the number of an earlier one is a repeat."""
    by_hash: dict[str, str] = {}
    by_number: dict[str, str] = {}
    for file in checked:
        if file.invoice_hash in by_hash:
            file.problems.append(
                deferred(
                    gettext_noop("To ten sam plik co %(other)s."),
                    {"other": by_hash[file.invoice_hash]},
                )
            )
            continue
        by_hash[file.invoice_hash] = file.name
        if not file.number:
            continue
        if file.number in by_number:
            file.problems.append(
                deferred(
                    gettext_noop("Numer faktury %(number)s ma już plik %(other)s."),
                    {"number": file.number, "other": by_number[file.number]},
                )
            )
            continue
        by_number[file.number] = file.name


def _mark_known_to_ksef(client: Client, checked: Sequence[CheckedFile]) -> None:
    """A file whose bytes or number KSeF already holds as the client's sale (one query)."""
    hashes = {file.invoice_hash for file in checked}
    numbers = {file.number for file in checked if file.number}
    if not checked:
        return
    known = Invoice.objects.filter(seller_nip=client.nip).filter(
        Q(invoice_hash__in=hashes) | Q(invoice_number__in=numbers)
    )
    by_hash: dict[str, tuple[int, str]] = {}
    by_number: dict[str, tuple[int, str]] = {}
    for pk, invoice_hash, number, ksef_number in known.values_list(
        "pk", "invoice_hash", "invoice_number", "ksef_number"
    ):
        by_hash.setdefault(invoice_hash, (pk, ksef_number))
        by_number.setdefault(number, (pk, ksef_number))
    for file in checked:
        if file.invoice_hash in by_hash:
            pk, ksef_number = by_hash[file.invoice_hash]
            file.duplicate_of = pk
            file.problems.append(
                deferred(
                    gettext_noop("Ta faktura jest już w KSeF pod numerem %(ksef_number)s."),
                    {"ksef_number": ksef_number},
                )
            )
        elif file.number in by_number:
            pk, ksef_number = by_number[file.number]
            file.duplicate_of = pk
            file.problems.append(
                deferred(
                    gettext_noop(
                        "Faktura o numerze %(number)s jest już w KSeF (numer KSeF "
                        "%(ksef_number)s): nadaj tej fakturze inny numer albo wyślij korektę."
                    ),
                    {"number": file.number, "ksef_number": ksef_number},
                )
            )


_IN_FLIGHT = ("queued", "sending", "sent")


def _mark_sent_by_portal(client: Client, checked: Sequence[CheckedFile]) -> None:
    """A file the portal is already sending or has sent for the client (same bytes or
    number) that the sync has not brought back yet: refused too (one query)."""
    fresh = [file for file in checked if file.duplicate_of is None]
    if not fresh:
        return
    hashes = {file.invoice_hash for file in fresh}
    numbers = {file.number for file in fresh if file.number}
    rows = OutgoingInvoice.objects.filter(client=client, state__in=_IN_FLIGHT).filter(
        Q(invoice_hash__in=hashes) | Q(invoice_number__in=numbers)
    )
    by_hash: dict[str, str] = {}
    by_number: dict[str, str] = {}
    for invoice_hash, number, file_name in rows.values_list(
        "invoice_hash", "invoice_number", "file_name"
    ):
        by_hash.setdefault(invoice_hash, file_name)
        by_number.setdefault(number, file_name)
    for file in fresh:
        if file.invoice_hash in by_hash:
            file.problems.append(
                deferred(
                    gettext_noop("Ten plik portal już wysyła albo wysłał (%(other)s)."),
                    {"other": by_hash[file.invoice_hash]},
                )
            )
        elif file.number in by_number:
            file.problems.append(
                deferred(
                    gettext_noop(
                        "Fakturę o numerze %(number)s portal już wysyła albo wysłał (%(other)s): "
                        "nadaj tej fakturze inny numer albo wyślij korektę."
                    ),
                    {"number": file.number, "other": by_number[file.number]},
                )
            )
