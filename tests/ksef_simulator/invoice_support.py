"""Client-side helpers for the invoice tests: session keys, encryption, requests.

Encryption is done here with `cryptography` directly (never with our `ksef/` package), the
way the official clients do it: AES-256-CBC/PKCS#7 without an IV prefix, the key wrapped
with RSA-OAEP (SHA-256, MGF1-SHA-256) under the SymmetricKeyEncryption certificate.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from lxml import etree

from ksef.schemas import schema_dir
from tests.conftest import KSEF_DATA_DIR
from tests.ksef_simulator.helpers import bearer

FA3_FORM = {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"}
SAMPLE_SELLER = "9999999999"  # seller NIP of the MF examples (a valid checksum)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sha256_b64(data: bytes) -> str:
    return b64(hashlib.sha256(data).digest())


@dataclass
class SessionKey:
    key: bytes
    iv: bytes

    @classmethod
    def random(cls) -> SessionKey:
        return cls(os.urandom(32), os.urandom(16))

    def encrypt(self, data: bytes) -> bytes:
        padder = sym_padding.PKCS7(128).padder()
        padded = padder.update(data) + padder.finalize()
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.iv)).encryptor()
        return encryptor.update(padded) + encryptor.finalize()

    def decrypt(self, data: bytes) -> bytes:
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.iv)).decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        unpadder = sym_padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()


def another_key(key: SessionKey, data: bytes, *, unpads: bool) -> SessionKey:
    """A random key other than `key` whose encryption of `data`, decrypted with `key`, ends
    (unpads=True) or does not end (False) in a valid PKCS#7 padding. A wrong key gives
    garbage that by chance (about once in 256) still unpads; then only the declared size
    and hash of the plain content can tell — so each case is chosen, not left to luck."""
    while True:
        other = SessionKey.random()
        try:
            key.decrypt(other.encrypt(data))
            unpadded = True
        except ValueError:
            unpadded = False
        if unpadded == unpads:
            return other


def encryption_info(sim: httpx.Client, key: SessionKey) -> dict[str, str]:
    certificates = sim.get("/security/public-key-certificates").json()
    item = next(c for c in certificates if "SymmetricKeyEncryption" in c["usage"])
    public_key = x509.load_der_x509_certificate(base64.b64decode(item["certificate"])).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    wrapped = public_key.encrypt(
        key.key,
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )
    return {
        "encryptedSymmetricKey": b64(wrapped),
        "initializationVector": b64(key.iv),
        "publicKeyId": item["publicKeyId"],
    }


def open_session(sim: httpx.Client, access: str) -> tuple[str, SessionKey]:
    key = SessionKey.random()
    response = sim.post(
        "/sessions/online",
        json={"formCode": FA3_FORM, "encryption": encryption_info(sim, key)},
        headers=bearer(access),
    )
    assert response.status_code == 201, response.text
    return response.json()["referenceNumber"], key


def send_body(key: SessionKey, xml: bytes, **overrides: Any) -> dict[str, Any]:
    encrypted = key.encrypt(xml)
    data: dict[str, Any] = {
        "invoiceHash": sha256_b64(xml),
        "invoiceSize": len(xml),
        "encryptedInvoiceHash": sha256_b64(encrypted),
        "encryptedInvoiceSize": len(encrypted),
        "encryptedInvoiceContent": b64(encrypted),
        "offlineMode": False,
    }
    data.update(overrides)
    return data


def send(
    sim: httpx.Client, access: str, reference: str, key: SessionKey, xml: bytes, **overrides: Any
) -> httpx.Response:
    return sim.post(
        f"/sessions/online/{reference}/invoices",
        json=send_body(key, xml, **overrides),
        headers=bearer(access),
    )


def send_ok(
    sim: httpx.Client, access: str, reference: str, key: SessionKey, xml: bytes
) -> dict[str, Any]:
    """Send, then return the invoice's status (SessionInvoiceStatusResponse)."""
    response = send(sim, access, reference, key, xml)
    assert response.status_code == 202, response.text
    status = sim.get(
        f"/sessions/{reference}/invoices/{response.json()['referenceNumber']}",
        headers=bearer(access),
    )
    assert status.status_code == 200, status.text
    return status.json()  # type: ignore[no-any-return]


def sample(name: str = "mf-fa3-example-01.xml") -> bytes:
    return (KSEF_DATA_DIR / "samples" / "invoices" / name).read_bytes()


def renumbered(xml: bytes, old: str, new: str) -> bytes:
    """Byte replacement of P_2 (or the NIP) — the rest of the official file stays intact."""
    assert xml.count(old.encode()) >= 1
    return xml.replace(old.encode(), new.encode())


@cache
def upo_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(schema_dir("upo") / "upo-v4-3.xsd")))


def query(sim: httpx.Client, access: str, filters: dict[str, Any], **params: Any) -> httpx.Response:
    return sim.post("/invoices/query/metadata", json=filters, params=params, headers=bearer(access))


def date_filters(
    subject_type: str, start: date | str, end: date | str | None = None, date_type: str = "Issue"
) -> dict[str, Any]:
    date_range: dict[str, Any] = {"dateType": date_type, "from": _iso(start)}
    if end is not None:
        date_range["to"] = _iso(end, end_of_day=True)
    return {"subjectType": subject_type, "dateRange": date_range}


def _iso(value: date | str, end_of_day: bool = False) -> str:
    if isinstance(value, str):
        return value
    return f"{value.isoformat()}T{'23:59:59' if end_of_day else '00:00:00'}+01:00"
