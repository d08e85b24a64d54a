"""Offline invoices for the presentation tests, made as the offline issuance leaves them:
the exact bytes, KOD II signed with a test offline certificate of the client, the mode,
the moment of issue and the deadline."""

from __future__ import annotations

import base64
import datetime
import hashlib
import itertools
from dataclasses import dataclass

from cryptography import x509
from django.utils import timezone
from lxml import etree

from clients.models import Client
from invoices.documents.render import qr_environment
from invoices.models import OutgoingInvoice, SendJob
from ksef import qr
from ksef.certificates import PrivateKey
from tests.invoices.sending.support import example
from tests.ksef.keys import make_certificate, make_ec_key

_numbers = itertools.count(1)


@dataclass(frozen=True)
class OfflineKey:
    key: PrivateKey
    certificate: x509.Certificate


def offline_key(client: Client, key: PrivateKey | None = None) -> OfflineKey:
    key = key or make_ec_key()
    return OfflineKey(key, make_certificate(key, nip=client.nip, organization=True, kind="Offline"))


def offline_invoice(
    client: Client,
    *,
    deadline: datetime.date | None,
    number: str | None = None,
    mode: str = OutgoingInvoice.Mode.OFFLINE24,
    state: str = OutgoingInvoice.State.QUEUED,
    signer: OfflineKey | None = None,
    job: SendJob | None = None,
) -> OutgoingInvoice:
    number = number or f"FV/OFF/{next(_numbers)}"
    xml = example(client, number)
    signer = signer or offline_key(client)
    issue_date = datetime.date.fromisoformat(etree.fromstring(xml).find("{*}Fa/{*}P_1").text)
    url = qr.certificate_verification_url(
        qr_environment(), "Nip", client.nip, client.nip, signer.certificate, signer.key, xml
    )
    job = job or SendJob.objects.create(client=client, state=SendJob.State.QUEUED, file_count=1)
    return OutgoingInvoice.objects.create(
        client=client,
        job=job,
        file_name=f"{number.replace('/', '-')}.xml",
        xml=xml,
        invoice_hash=base64.b64encode(hashlib.sha256(xml).digest()).decode(),
        size=len(xml),
        invoice_number=number,
        issue_date=issue_date,
        invoicing_mode=mode,
        state=state,
        issued_offline_at=timezone.now(),
        offline_deadline=deadline,
        certificate_url=url,
    )
