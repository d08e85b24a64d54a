"""Invoices for the document tests: the vendored official samples (template placeholders
filled in, in memory) and simulator-generated ones of every form, stored like the sync
stores them."""

from __future__ import annotations

import base64
import hashlib
import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from clients.models import Client
from invoices.models import ClientInvoice, Invoice
from tests.conftest import KSEF_DATA_DIR

SAMPLES = KSEF_DATA_DIR / "samples" / "invoices"
SELLER_NIP = "5265877635"
BUYER_NIP = "7980332920"
# The csharp/java templates' placeholders (the "#compliant#" inside PEF's CustomizationID
# URN is part of the URN, not a placeholder).
PLACEHOLDERS = {
    b"#nip#": SELLER_NIP.encode(),
    b"#supplier_nip#": SELLER_NIP.encode(),
    b"#buyer_nip#": BUYER_NIP.encode(),
    b"#nipOdbiorca#": BUYER_NIP.encode(),
    b"#selfInvocingNip#": BUYER_NIP.encode(),
    b"#invoice_number#": b"FV/2026/02/0042",
    b"#issue_date#": b"2026-02-16",
    b"#invoicing_date#": b"2026-02-16",
    b"#due_date#": b"2026-03-02",
    b"#buyer_reference#": b"ZAM-7781",
    b"#iban#": b"PL61109010140000071219812874",
    b"#ksef_number#": b"5265877635-20260210-0100001AF629-AF",
}
# Per sample: KSeF's form code and invoiceType, as the metadata would say.
FORMS = {
    "invoice-template-fa-3-pef.xml": ("PEF (3)", "VatPef"),
    "invoice-template-fa-3-pef-correction.xml": ("PEF_KOR (3)", "KorPef"),
    "invoice-template-fa-rr-1.xml": ("FA_RR (1)", "VatRr"),
    "mf-fa3-example-02.xml": ("FA (3)", "Kor"),
    "mf-fa3-example-07.xml": ("FA (3)", "Kor"),
    "mf-fa3-example-10.xml": ("FA (3)", "Zal"),
}
_serial = itertools.count(1)


def sample_names() -> list[str]:
    return sorted(path.name for path in SAMPLES.glob("*.xml"))


def sample_bytes(name: str) -> bytes:
    data = (SAMPLES / name).read_bytes()
    for placeholder, value in PLACEHOLDERS.items():
        data = data.replace(placeholder, value)
    return data


def ksef_number(nip: str, day: date) -> str:
    """A well-formed KSeF number (the CRC-8 of the official algorithm)."""
    body = f"{nip}-{day:%Y%m%d}-{next(_serial):012X}"
    crc = 0
    for byte in body.encode("ascii"):
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return f"{body}-{crc:02X}"


@dataclass(frozen=True)
class Stored:
    invoice: Invoice
    xml: bytes


def store(
    client: Client,
    xml: bytes,
    *,
    seller_nip: str,
    issue_date: date,
    number: str = "FV/1",
    form_code: str = "FA (3)",
    invoice_type: str = "Vat",
    subject_type: str = "Subject2",
    ksef: str | None = None,
) -> Invoice:
    now = datetime(2026, 2, 16, 10, 0, tzinfo=UTC)
    invoice = Invoice.objects.create(
        ksef_number=ksef or ksef_number(seller_nip, issue_date),
        invoice_number=number,
        form_code=form_code,
        invoice_type=invoice_type,
        invoicing_mode="Online",
        issue_date=issue_date,
        invoicing_date=now,
        acquisition_date=now,
        permanent_storage_date=now,
        seller_nip=seller_nip,
        seller_name="Sprzedawca",
        buyer_identifier=BUYER_NIP,
        buyer_name="Nabywca",
        net_amount=Decimal("100.00"),
        vat_amount=Decimal("23.00"),
        gross_amount=Decimal("123.00"),
        currency="PLN",
        invoice_hash=base64.b64encode(hashlib.sha256(xml).digest()).decode(),
        metadata={},
        xml=xml,
        size=len(xml),
    )
    ClientInvoice.objects.create(
        client=client, invoice=invoice, subject_type=subject_type, issue_date=issue_date
    )
    return invoice


def store_sample(client: Client, name: str, **fields: object) -> Stored:
    from lxml import etree

    xml = sample_bytes(name)
    root = etree.fromstring(xml)
    local = {
        etree.QName(e).localname: (e.text or "").strip()
        for e in root.iter()
        if isinstance(e.tag, str)
    }
    seller = SELLER_NIP
    seller_node = root.find("{*}Podmiot1/{*}DaneIdentyfikacyjne/{*}NIP")
    if seller_node is not None:
        seller = seller_node.text.strip()
    issued = local.get("P_1") or local.get("P_4B") or local.get("IssueDate") or "2026-02-16"
    form_code, invoice_type = FORMS.get(name, ("FA (3)", "Vat"))
    number = local.get("P_2") or local.get("P_4C") or local.get("ID") or "?"
    invoice = store(
        client,
        xml,
        seller_nip=seller,
        issue_date=date.fromisoformat(issued[:10]),
        number=number,
        form_code=form_code,
        invoice_type=invoice_type,
        **fields,  # type: ignore[arg-type]
    )
    return Stored(invoice, xml)


def path_of(name: str) -> Path:
    return SAMPLES / name
