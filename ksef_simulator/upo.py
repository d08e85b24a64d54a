"""UPO (urzędowe poświadczenie odbioru) documents, schema v4-3.

Invoice-level UPO: one `Dokument`. Session-level UPO: pages of at most 10,000 documents
with `OpisPotwierdzenia` (page number, page count, document range, total).

Two deliberate differences from what TEST/DEMO return (digest Gotcha 25):

* `NazwaPodmiotuPrzyjmujacego` is exactly "Ministerstwo Finansów", the value the XSD fixes,
  instead of the environment-suffixed name TEST writes ("… - środowisko testowe (TE)"),
  so that strict validation of simulator UPOs succeeds;
* the document is not XAdES-signed: the v4-3 XSD has no place for `ds:Signature`, and the
  official samples in tests/data/ksef/samples/upo/ are unsigned as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from lxml import etree

from ksef.schemas import schema_dir
from ksef_simulator.fa3xml import load_schema

UPO_NAMESPACE = "http://upo.schematy.mf.gov.pl/KSeF/v4-3"
RECEIVER_NAME = "Ministerstwo Finansów"
PAGE_SIZE = 10_000
_WARSAW = ZoneInfo("Europe/Warsaw")

# Context identifier type (contract) -> UPO element.
_CONTEXT_ELEMENTS = {
    "Nip": "Nip",
    "InternalId": "IdWewnetrzny",
    "NipVatUe": "IdZlozonyVatUE",
    "PeppolId": "IdDostawcyUslugPeppol",
}


def upo_schema() -> etree.XMLSchema:
    return load_schema(schema_dir("upo") / "upo-v4-3.xsd")


@dataclass(frozen=True)
class UpoDocument:
    seller_nip: str
    ksef_number: str
    invoice_number: str
    issue_date: str  # YYYY-MM-DD
    sent: datetime  # invoicingDate
    numbered: datetime  # acquisitionDate
    invoice_hash: str
    mode: str  # Online | Offline


@dataclass(frozen=True)
class UpoHeader:
    session_reference: str
    context_type: str
    context_value: str
    # Exactly one: the KSeF token's reference number, or the SHA-256 (Base64) of the
    # signed AuthTokenRequest document used to authenticate.
    token_reference: str | None
    auth_document_hash: str | None
    structure: str = "Schemat_FA(3)_v1-0E.xsd"
    form_code: str = "FA (3)"


def _local(moment: datetime) -> str:
    """Warsaw local time with milliseconds and offset, as in the official samples."""
    local = moment.astimezone(_WARSAW)
    return (
        local.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{local.microsecond // 1000:03d}"
        + (local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:])
    )


def _leaf(out: list[str], indent: int, name: str, value: object) -> None:
    out.append(f"{chr(9) * indent}<{name}>{escape(str(value))}</{name}>\n")


def _document(out: list[str], doc: UpoDocument) -> None:
    out.append("\t<Dokument>\n")
    _leaf(out, 2, "NipSprzedawcy", doc.seller_nip)
    _leaf(out, 2, "NumerKSeFDokumentu", doc.ksef_number)
    _leaf(out, 2, "NumerFaktury", doc.invoice_number)
    _leaf(out, 2, "DataWystawieniaFaktury", doc.issue_date)
    _leaf(out, 2, "DataPrzeslaniaDokumentu", _local(doc.sent))
    _leaf(out, 2, "DataNadaniaNumeruKSeF", _local(doc.numbered))
    _leaf(out, 2, "SkrotDokumentu", doc.invoice_hash)
    _leaf(out, 2, "TrybWysylki", doc.mode)
    out.append("\t</Dokument>\n")


def render(
    header: UpoHeader,
    documents: list[UpoDocument],
    *,
    page: tuple[int, int, int, int, int] | None = None,
) -> bytes:
    """UPO XML. PAGE = (page, page count, first ordinal, last ordinal, total) for sessions."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n',
        f'<Potwierdzenie xmlns="{UPO_NAMESPACE}">\n',
    ]
    _leaf(out, 1, "NazwaPodmiotuPrzyjmujacego", RECEIVER_NAME)
    _leaf(out, 1, "NumerReferencyjnySesji", header.session_reference)
    out.append("\t<Uwierzytelnienie>\n\t\t<IdKontekstu>\n")
    _leaf(out, 3, _CONTEXT_ELEMENTS[header.context_type], header.context_value)
    out.append("\t\t</IdKontekstu>\n")
    if header.token_reference is not None:
        _leaf(out, 2, "NumerReferencyjnyTokenaKSeF", header.token_reference)
    else:
        _leaf(out, 2, "SkrotDokumentuUwierzytelniajacego", header.auth_document_hash or "")
    out.append("\t</Uwierzytelnienie>\n")
    if page is not None:
        out.append("\t<OpisPotwierdzenia>\n")
        names = ("Strona", "LiczbaStron", "ZakresDokumentowOd", "ZakresDokumentowDo")
        for name, value in zip((*names, "CalkowitaLiczbaDokumentow"), page, strict=True):
            _leaf(out, 2, name, value)
        out.append("\t</OpisPotwierdzenia>\n")
    _leaf(out, 1, "NazwaStrukturyLogicznej", header.structure)
    _leaf(out, 1, "KodFormularza", header.form_code)
    for doc in documents:
        _document(out, doc)
    out.append("</Potwierdzenie>")
    return "".join(out).encode("utf-8")


def invoice_upo(header: UpoHeader, document: UpoDocument) -> bytes:
    return render(header, [document])


def session_upo_pages(header: UpoHeader, documents: list[UpoDocument]) -> list[bytes]:
    """Session UPO split into pages of PAGE_SIZE documents (in ordinal order)."""
    total = len(documents)
    count = max(1, -(-total // PAGE_SIZE))
    pages = []
    for index in range(count):
        chunk = documents[index * PAGE_SIZE : (index + 1) * PAGE_SIZE]
        first = index * PAGE_SIZE + 1
        pages.append(
            render(header, chunk, page=(index + 1, count, first, first + len(chunk) - 1, total))
        )
    return pages
