"""Invoices for the list tests, stored the way the sync stores them (one Invoice row,
one ClientInvoice link per client and role), without going through KSeF."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from django.utils import timezone

from clients.models import Client
from invoices.models import ClientInvoice, Invoice
from ksef.crypto import sha256_b64
from tests.factories import valid_nip

_numbers = itertools.count(1)
WARSAW = timezone.get_default_timezone()


def make_invoice(
    client: Client,
    subject_type: str = "Subject2",
    *,
    counterparty_nip: str | None = None,
    counterparty_name: str = "Hurtownia Zbożowa Kłos sp. z o.o.",
    issue_date: dt.date = dt.date(2026, 3, 10),
    invoicing_date: dt.datetime | None = None,
    stored_at: dt.datetime | None = None,
    **fields: Any,
) -> ClientInvoice:
    """One invoice of `client` in the role `subject_type`; the other party is the counterparty."""
    n = next(_numbers)
    counterparty_nip = counterparty_nip or valid_nip(500_000 + n)
    if subject_type == "Subject1":
        parties = {
            "seller_nip": client.nip,
            "seller_name": client.name,
            "buyer_identifier": counterparty_nip,
            "buyer_name": counterparty_name,
        }
    else:
        parties = {
            "seller_nip": counterparty_nip,
            "seller_name": counterparty_name,
            "buyer_identifier": client.nip,
            "buyer_name": client.name,
        }
    xml = f"<Faktura><P_2>FV/{n}</P_2></Faktura>".encode()
    invoicing_date = invoicing_date or dt.datetime.combine(
        issue_date, dt.time(12, 0), tzinfo=WARSAW
    )
    values: dict[str, Any] = {
        "ksef_number": f"{parties['seller_nip']}-{issue_date:%Y%m%d}-{n:010X}-{n % 256:02X}",
        "invoice_number": f"FV/{n}/{issue_date:%m/%Y}",
        "form_code": "FA (3)",
        "invoice_type": "Vat",
        "invoicing_mode": "Online",
        "issue_date": issue_date,
        "invoicing_date": invoicing_date,
        "acquisition_date": invoicing_date,
        "permanent_storage_date": invoicing_date,
        "buyer_identifier_type": "Nip",
        "net_amount": Decimal("1000.00"),
        "vat_amount": Decimal("230.00"),
        "gross_amount": Decimal("1230.00"),
        "currency": "PLN",
        "invoice_hash": sha256_b64(xml),
        "xml": xml,
        "size": len(xml),
        **parties,
        **fields,
    }
    invoice = Invoice.objects.create(**values)
    link = ClientInvoice.objects.create(
        client=client, invoice=invoice, subject_type=subject_type, issue_date=issue_date
    )
    if stored_at is not None:  # auto_now_add: set afterwards
        ClientInvoice.objects.filter(pk=link.pk).update(stored_at=stored_at)
        link.stored_at = stored_at
    return link


def link_also(link: ClientInvoice, client: Client, subject_type: str) -> ClientInvoice:
    """The same invoice linked to a second client (an invoice between two clients)."""
    return ClientInvoice.objects.create(
        client=client,
        invoice=link.invoice,
        subject_type=subject_type,
        issue_date=link.invoice.issue_date,
    )


def make_invoices(client: Client, count: int, subject_type: str = "Subject2") -> None:
    """`count` invoices of one client at once (bulk inserts), spread over March 2026."""
    start = next(_numbers) * 100_000
    invoices = []
    for i in range(start, start + count):
        day = dt.date(2026, 3, 1 + i % 28)
        moment = dt.datetime.combine(day, dt.time(10, 0), tzinfo=WARSAW)
        nip = valid_nip(700_000 + i)
        xml = f"<Faktura><P_2>B/{i}</P_2></Faktura>".encode()
        invoices.append(
            Invoice(
                ksef_number=f"{nip}-{day:%Y%m%d}-{i:012X}-00",
                invoice_number=f"B/{i}/{day:%m/%Y}",
                form_code="FA (3)",
                invoice_type="Vat",
                invoicing_mode="Online",
                issue_date=day,
                invoicing_date=moment,
                acquisition_date=moment,
                permanent_storage_date=moment,
                seller_nip=nip,
                seller_name=f"Dostawca {i} sp. z o.o.",
                buyer_identifier_type="Nip",
                buyer_identifier=client.nip,
                buyer_name=client.name,
                net_amount=Decimal(100 + i % 900),
                vat_amount=Decimal(23),
                gross_amount=Decimal(123 + i % 900),
                currency="PLN",
                invoice_hash=sha256_b64(xml),
                xml=xml,
                size=len(xml),
            )
        )
    stored = Invoice.objects.bulk_create(invoices, batch_size=500)
    ClientInvoice.objects.bulk_create(
        [
            ClientInvoice(
                client=client,
                invoice=invoice,
                subject_type=subject_type,
                issue_date=invoice.issue_date,
            )
            for invoice in stored
        ],
        batch_size=500,
    )
