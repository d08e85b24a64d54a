"""FA(3) invoice XML: offline schema loading and the facts KSeF reads out of an invoice.

The official FA(3) schema imports its base types by absolute URL
(`http://crd.gov.pl/xml/schematy/dziedzinowe/mf/2022/01/05/eD/DefinicjeTypy/...`); the
simulator never touches the network, so a resolver maps every crd.gov.pl schema URL to
the copies in `ksef/schemas/fa/bazowe/` (digest §9, Gotcha 26). Schemas are compiled once per
process: compiling FA(3) takes a noticeable fraction of a second, validating an invoice
with the compiled schema takes about a millisecond.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

from lxml import etree

from ksef.schemas import schema_dir

FA3_NAMESPACE = "http://crd.gov.pl/wzor/2025/06/25/13775/"
FA3_SCHEMA_FILE = "schemat_FA(3)_v1-0E.xsd"
_CRD_SCHEMA_PREFIX = "http://crd.gov.pl/"

# Content rules of ksef-docs `faktury/weryfikacja-faktury.md` (digest §5.2).
MAX_INVOICE_BYTES = 1_000_000
_UTF8_BOM = b"\xef\xbb\xbf"
_DECLARED_ENCODING = re.compile(rb"^<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_PROCESSING_INSTRUCTION = re.compile(rb"<\?(?!xml[\s?])")
_DISCOURAGED = re.compile(
    "[\x7f-\x84\x86-\x9f\ufdd0-\ufdef\ufffe\uffff"
    "\U0001fffe\U0001ffff\U0002fffe\U0002ffff\U0003fffe\U0003ffff\U0004fffe\U0004ffff"
    "\U0005fffe\U0005ffff\U0006fffe\U0006ffff\U0007fffe\U0007ffff\U0008fffe\U0008ffff"
    "\U0009fffe\U0009ffff\U000afffe\U000affff\U000bfffe\U000bffff\U000cfffe\U000cffff"
    "\U000dfffe\U000dffff\U000efffe\U000effff\U000ffffe\U000fffff\U0010fffe\U0010ffff]"
)


class _LocalCrdResolver(etree.Resolver):  # type: ignore[misc]
    """Serve http://crd.gov.pl/... schema imports from a local folder, refuse the rest."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self._folder = folder

    def resolve(self, system_url, public_id, context):  # type: ignore[no-untyped-def]
        if system_url and system_url.startswith(_CRD_SCHEMA_PREFIX):
            local = self._folder / system_url.rsplit("/", 1)[-1]
            if local.is_file():
                return self.resolve_filename(str(local), context)
            raise OSError(f"no local copy of {system_url} in {self._folder}")
        return None


_schemas: dict[tuple[Path, Path | None], etree.XMLSchema] = {}
_schemas_lock = threading.Lock()


def load_schema(xsd_path: Path, imports_folder: Path | None = None) -> etree.XMLSchema:
    """Compile (once) the XSD at XSD_PATH, resolving crd.gov.pl imports from IMPORTS_FOLDER."""
    key = (xsd_path.resolve(), imports_folder.resolve() if imports_folder else None)
    with _schemas_lock:
        schema = _schemas.get(key)
        if schema is None:
            parser = etree.XMLParser(no_network=True, resolve_entities=False)
            if imports_folder is not None:
                parser.resolvers.add(_LocalCrdResolver(imports_folder))
            document = etree.parse(str(xsd_path), parser)
            schema = etree.XMLSchema(document)
            _schemas[key] = schema
        return schema


@cache
def fa3_schema() -> etree.XMLSchema:
    # Cached: resolving the schema paths on every invoice cost a tenth of a batch's time.
    folder = schema_dir("fa")
    return load_schema(folder / FA3_SCHEMA_FILE, folder / "bazowe")


class InvoiceRejected(Exception):
    """The invoice file fails KSeF verification; CODE is the invoice status code."""

    def __init__(self, code: int, details: list[str]) -> None:
        super().__init__(f"{code}: {'; '.join(details)}")
        self.code = code
        self.details = details


def check_content_rules(content: bytes) -> None:
    """Reject what KSeF rejects before schema validation: size, BOM, encoding, PIs, characters."""
    if len(content) > MAX_INVOICE_BYTES:
        raise InvoiceRejected(
            430, [f"Rozmiar faktury {len(content)} B przekracza limit {MAX_INVOICE_BYTES} B."]
        )
    if content.startswith(_UTF8_BOM):
        raise InvoiceRejected(450, ["Nieprawidłowe kodowanie: plik zawiera znacznik BOM."])
    declared = _DECLARED_ENCODING.match(content)
    if declared and declared.group(1).decode("ascii").lower().replace("_", "-") != "utf-8":
        raise InvoiceRejected(
            450, [f"Nieprawidłowe kodowanie {declared.group(1).decode('ascii')}: wymagane UTF-8."]
        )
    if _PROCESSING_INSTRUCTION.search(content):
        raise InvoiceRejected(450, ["Dokument zawiera instrukcje przetwarzania."])
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise InvoiceRejected(450, ["Treść nie jest poprawnie zakodowana w UTF-8."]) from None
    bad = _DISCOURAGED.search(text)
    if bad:
        raise InvoiceRejected(
            450, [f"Dokument zawiera niedozwolony znak U+{ord(bad.group()):04X}."]
        )


def parse_and_validate(content: bytes, schema: etree.XMLSchema) -> etree._Element:
    """Parse exactly these bytes (no DTD, no network) and validate against SCHEMA."""
    check_content_rules(content)
    parser = etree.XMLParser(
        no_network=True, resolve_entities=False, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as error:
        raise InvoiceRejected(450, ["Nieprawidłowy XML", str(error)]) from None
    if not schema.validate(root):
        details = [f"Linia {e.line}: {e.message}" for e in list(schema.error_log)[:10]]
        raise InvoiceRejected(450, details or ["Dokument nie jest zgodny ze schemą (xsd)."])
    return root


@dataclass(frozen=True)
class PartyIdentifier:
    """`type` as in the contract's identifier enums: Nip, VatUe, InternalId, Other, None."""

    type: str
    value: str | None = None


@dataclass(frozen=True)
class ThirdSubject:
    identifier: PartyIdentifier
    name: str | None
    role: int


@dataclass(frozen=True)
class InvoiceFacts:
    """What the metadata index needs from an FA(3) document."""

    seller_nip: str
    seller_name: str | None
    buyer: PartyIdentifier
    buyer_name: str | None
    invoice_number: str
    issue_date: date
    kind: str  # RodzajFaktury: VAT, KOR, ZAL, ROZ, UPR, KOR_ZAL, KOR_ROZ
    currency: str
    net_amount: Decimal
    vat_amount_pln: Decimal
    gross_amount: Decimal
    is_self_invoicing: bool
    has_attachment: bool
    third_subjects: tuple[ThirdSubject, ...] = field(default=())
    authorized_nip: str | None = None
    authorized_name: str | None = None
    authorized_role: int | None = None


_NS = {"f": FA3_NAMESPACE}
_NET_FIELDS = (
    "P_13_1", "P_13_2", "P_13_3", "P_13_4", "P_13_5", "P_13_6_1", "P_13_6_2", "P_13_6_3",
    "P_13_7", "P_13_8", "P_13_9", "P_13_10", "P_13_11",
)  # fmt: skip
_VAT_FIELDS = ("P_14_1", "P_14_2", "P_14_3", "P_14_4", "P_14_5")

# Podmiot3/Rola in FA(3) (1..11) maps to the same integers in InvoiceMetadataThirdSubject;
# RolaInna ("other role") is 0 there.
_OTHER_ROLE = 0


def _text(node: etree._Element, path: str) -> str | None:
    found = node.find(path, _NS)
    return found.text.strip() if found is not None and found.text else None


def _children(node: etree._Element) -> dict[str, str]:
    """Text of the direct children by local name (one pass; much faster than find())."""
    prefix = len(FA3_NAMESPACE) + 2
    return {
        child.tag[prefix:]: (child.text or "").strip()
        for child in node
        if isinstance(child.tag, str)
    }


def _identifier(data: etree._Element) -> PartyIdentifier:
    if (nip := _text(data, "f:NIP")) is not None:
        return PartyIdentifier("Nip", nip)
    if (internal := _text(data, "f:IDWew")) is not None:
        return PartyIdentifier("InternalId", internal)
    if (vat_ue := _text(data, "f:NrVatUE")) is not None:
        return PartyIdentifier("VatUe", f"{_text(data, 'f:KodUE') or ''}{vat_ue}")
    if (other := _text(data, "f:NrID")) is not None:
        return PartyIdentifier("Other", f"{_text(data, 'f:KodKraju') or ''}{other}")
    return PartyIdentifier("None")


def extract_facts(root: etree._Element) -> InvoiceFacts:
    """Read the listing fields of a schema-valid FA(3) document (digest §9)."""
    fa = root.find("f:Fa", _NS)
    assert fa is not None, "a schema-valid FA(3) invoice has Fa"
    seller = root.find("f:Podmiot1/f:DaneIdentyfikacyjne", _NS)
    buyer = root.find("f:Podmiot2/f:DaneIdentyfikacyjne", _NS)
    assert seller is not None and buyer is not None
    fields = _children(fa)
    currency = fields.get("KodWaluty") or "PLN"
    net = sum((Decimal(fields[name]) for name in _NET_FIELDS if fields.get(name)), Decimal(0))
    vat = Decimal(0)
    for name in _VAT_FIELDS:
        # In foreign-currency invoices P_14_xW carries the VAT converted to PLN.
        value = fields.get(f"{name}W") or fields.get(name)
        if value:
            vat += Decimal(value)
    third = []
    for podmiot3 in root.findall("f:Podmiot3", _NS):
        data = podmiot3.find("f:DaneIdentyfikacyjne", _NS)
        assert data is not None
        role = _text(podmiot3, "f:Rola")
        third.append(
            ThirdSubject(
                _identifier(data), _text(data, "f:Nazwa"), int(role) if role else _OTHER_ROLE
            )
        )
    authorized = root.find("f:PodmiotUpowazniony", _NS)
    issued = fields["P_1"]
    return InvoiceFacts(
        seller_nip=_text(seller, "f:NIP") or "",
        seller_name=_text(seller, "f:Nazwa"),
        buyer=_identifier(buyer),
        buyer_name=_text(buyer, "f:Nazwa"),
        invoice_number=fields.get("P_2", ""),
        issue_date=date.fromisoformat(issued),
        kind=fields.get("RodzajFaktury") or "VAT",
        currency=currency,
        net_amount=net,
        vat_amount_pln=vat,
        gross_amount=Decimal(fields.get("P_15") or 0),
        # Adnotacje/P_17 = 1 marks self-billing (samofakturowanie).
        is_self_invoicing=_text(fa, "f:Adnotacje/f:P_17") == "1",
        has_attachment=root.find("f:Zalacznik", _NS) is not None,
        third_subjects=tuple(third),
        authorized_nip=(
            _text(authorized, "f:DaneIdentyfikacyjne/f:NIP") if authorized is not None else None
        ),
        authorized_name=(
            _text(authorized, "f:DaneIdentyfikacyjne/f:Nazwa") if authorized is not None else None
        ),
        authorized_role=(
            int(_text(authorized, "f:RolaPU") or 0) if authorized is not None else None
        ),
    )
