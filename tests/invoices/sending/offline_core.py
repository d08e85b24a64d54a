"""Set-up of the offline-core tests: a client's Offline certificate stored through the
credential service (or altered afterwards to be expired, or an Authentication one), a
checked job of drafts, and KOD II verified the way KSeF verifies it."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree

from certificates.models import Credential
from certificates.services import credential_upload
from certificates.validation import CertificateUpload, UploadedFile
from clients.models import Client
from invoices.models import SendJob
from invoices.sending import checks, services
from ksef import certificates as kc
from ksef.certificates import PrivateKey
from portal.models import Office
from tests.invoices.sending.support import example
from tests.ksef.keys import key_pem, make_certificate, make_ec_key, pem

PASSWORD = "offline-haslo-1"
KOD_II = re.compile(
    r"^https://(?P<host>qr(-test|-demo)?\.ksef\.mf\.gov\.pl)/certificate/(?P<ctx_type>Nip)/"
    r"(?P<ctx>\d{10})/(?P<seller>\d{10})/(?P<serial>[0-9A-F]+)/(?P<hash>[A-Za-z0-9_-]{43})/"
    r"(?P<signature>[A-Za-z0-9_-]+)$"
)


@dataclass(frozen=True)
class OfflineCert:
    credential: Credential
    key: PrivateKey
    certificate: x509.Certificate


def store_offline(
    office: Office, client: Client | None, *, key: PrivateKey | None = None, nip: str = ""
) -> OfflineCert:
    """An Offline KSeF certificate of the client (or, with client None, of the office)
    stored through the credential service, as staff upload it."""
    key = key or make_ec_key()
    nip = nip or (client.nip if client is not None else office.nip)
    certificate = make_certificate(key, nip=nip, organization=True, kind="Offline")
    upload = CertificateUpload(
        certificate=UploadedFile("offline.crt", pem(certificate)),
        private_key=UploadedFile("offline.key", key_pem(key, PASSWORD)),
        password=PASSWORD,
    )
    result = credential_upload(
        office=office, client=client, kind=Credential.Kind.OFFLINE, upload=upload, actor=None
    )
    return OfflineCert(result.credential, key, certificate)


def replace_certificate(stored: OfflineCert, **options: Any) -> x509.Certificate:
    """Swap the stored certificate for another of the same key (expired, or of another
    KSeF type): what an old row or a hand-made import could hold."""
    nip = stored.credential.owner_identifier
    certificate = make_certificate(stored.key, nip=nip, organization=True, **options)
    Credential.objects.filter(pk=stored.credential.pk).update(
        certificate_pem=pem(certificate).decode(),
        serial_number=kc.certificate_serial_hex(certificate),
        valid_to=certificate.not_valid_after_utc,
    )
    return certificate


def dated(xml: bytes, day: date) -> bytes:
    """The invoice with its issue date P_1 (and creation moment) on DAY."""
    root = etree.fromstring(xml)
    root.find("{*}Fa/{*}P_1").text = day.isoformat()
    root.find("{*}Naglowek/{*}DataWytworzeniaFa").text = f"{day.isoformat()}T00:00:00Z"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def checked_job(
    client: Client, numbers: list[str], actor: Any = None, *, day: date | None = None
) -> SendJob:
    files = [
        (
            f"{n.replace('/', '-')}.xml",
            dated(example(client, n), day) if day else example(client, n),
        )
        for n in numbers
    ]
    unpacked = checks.unpack([checks.InvoiceFile(name, content) for name, content in files])
    checked = checks.check_files(client, unpacked.files)
    assert all(file.ok for file in checked), [file.problems for file in checked]
    return services.send_job_create(actor=actor, client=client, checked=checked)


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_kod_ii(url: str, xml: bytes, certificate: x509.Certificate, nip: str) -> None:
    """KOD II checked as KSeF checks it: the template, the seller and context, the serial
    of the signing certificate, the hash of the exact bytes, and the signature over the
    link without scheme and signature (RSASSA-PSS SHA-256 MGF1 salt 32, or ECDSA P-256
    SHA-256 as IEEE P1363 R||S)."""
    match = KOD_II.match(url)
    assert match, url
    assert match["ctx"] == nip and match["seller"] == nip
    assert match["serial"] == kc.certificate_serial_hex(certificate)
    assert b64url_decode(match["hash"]) == hashlib.sha256(xml).digest()
    signed = url.removeprefix("https://").rsplit("/", 1)[0].encode()
    signature = b64url_decode(match["signature"])
    public_key = certificate.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(
            signature,
            signed,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        )
    else:
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        assert public_key.curve.name == "secp256r1" and len(signature) == 64
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        public_key.verify(der, signed, ec.ECDSA(hashes.SHA256()))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)
