"""Invoices for the export tests: official samples (and simulator documents) stored the way
the sync stores them, with their real bytes and KSeF's hash of them."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

from clients.models import Client
from invoices.models import ClientInvoice
from ksef.crypto import sha256_b64
from ksef.identifiers import ksef_number_checksum
from tests.conftest import KSEF_DATA_DIR
from tests.invoices.browse.support import make_invoice

SAMPLES = KSEF_DATA_DIR / "samples" / "invoices"
_serial = itertools.count(1)


def ksef_number(nip: str, day: dt.date) -> str:
    """A checksum-valid KSeF number of an invoice of `nip` issued on `day`."""
    head = f"{nip}-{day:%Y%m%d}-{next(_serial):012X}"
    return f"{head}-{ksef_number_checksum(head)}"


def sample_xml(name: str, **placeholders: str) -> bytes:
    """A sample's bytes, its #placeholders# (templates) filled in."""
    text = (SAMPLES / name).read_text(encoding="utf-8")
    for key, value in placeholders.items():
        text = text.replace(f"#{key}#", value)
    return text.encode("utf-8")


def xml_link(
    client: Client, xml: bytes, subject_type: str = "Subject2", **fields: Any
) -> ClientInvoice:
    """An invoice with these bytes, linked to `client`."""
    day = fields.get("issue_date", dt.date(2026, 3, 10))
    fields.setdefault("ksef_number", ksef_number("5265877635", day))
    return make_invoice(
        client,
        subject_type,
        xml=xml,
        invoice_hash=sha256_b64(xml),
        size=len(xml),
        **fields,
    )


def sample_link(
    client: Client, name: str, subject_type: str = "Subject2", **fields: Any
) -> ClientInvoice:
    return xml_link(client, sample_xml(name), subject_type, **fields)


def path_of(name: str) -> Path:
    return SAMPLES / name
