"""Cryptography KSeF asks of a client (digest §2.3, §2.4, §5.1).

* KSeF-token authentication: RSAES-OAEP (SHA-256, MGF1-SHA-256, empty label) of
  ``"{token}|{timestampMs}"`` with the Ministry key whose usage is ``KsefTokenEncryption``.
* Sessions and exports: a random AES-256 key and IV, AES-256-CBC with PKCS#7 padding,
  the IV travelling separately (never prefixed), the key RSA-OAEP-encrypted with the
  ``SymmetricKeyEncryption`` key.
* Hashes: SHA-256 as standard Base64.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "KSEF_TOKEN_ENCRYPTION",
    "SYMMETRIC_KEY_ENCRYPTION",
    "CryptoError",
    "NoUsablePublicKeyError",
    "PublicKeyCertificate",
    "aes_decrypt",
    "aes_encrypt",
    "aes_encrypt_stream",
    "encrypt_ksef_token",
    "encrypt_symmetric_key",
    "generate_symmetric_key",
    "public_key_id",
    "select_public_key_certificate",
    "sha256_b64",
]

KSEF_TOKEN_ENCRYPTION = "KsefTokenEncryption"
SYMMETRIC_KEY_ENCRYPTION = "SymmetricKeyEncryption"

AES_KEY_BYTES = 32
AES_IV_BYTES = 16


class CryptoError(Exception):
    """A KSeF cryptographic operation could not be carried out."""


class NoUsablePublicKeyError(CryptoError):
    """No Ministry public-key certificate is valid now for the requested usage."""


def _oaep_sha256() -> OAEP:
    # Gotcha §12.2: MGF1 must use SHA-256 as well (some libraries default it to SHA-1).
    return OAEP(mgf=MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def _rsa_public_key(certificate_der: bytes) -> rsa.RSAPublicKey:
    try:
        certificate = x509.load_der_x509_certificate(certificate_der)
    except ValueError as exc:
        raise CryptoError("the Ministry public-key certificate is not valid DER") from exc
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise CryptoError("the Ministry public-key certificate does not hold an RSA key")
    return key


def encrypt_ksef_token(token: str, timestamp_ms: int, certificate_der: bytes) -> str:
    """Base64 of RSA-OAEP-SHA-256(``"{token}|{timestamp_ms}"``) for ``POST /auth/ksef-token``.

    ``timestamp_ms`` is the challenge's ``timestampMs`` (integer milliseconds), not the
    ISO ``timestamp`` — rounding that one gives an off-by-one and status 450.
    """
    if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, int) or timestamp_ms < 0:
        raise ValueError("timestamp_ms must be the challenge's non-negative integer timestampMs")
    if not token:
        raise ValueError("the KSeF token is empty")
    plaintext = f"{token}|{timestamp_ms}".encode()
    ciphertext = _rsa_public_key(certificate_der).encrypt(plaintext, _oaep_sha256())
    return base64.b64encode(ciphertext).decode("ascii")


def encrypt_symmetric_key(key: bytes, certificate_der: bytes) -> str:
    """Base64 of RSA-OAEP-SHA-256(``key``): ``EncryptionInfo.encryptedSymmetricKey``."""
    if len(key) != AES_KEY_BYTES:
        raise ValueError("the session key must be 32 bytes (AES-256)")
    ciphertext = _rsa_public_key(certificate_der).encrypt(key, _oaep_sha256())
    return base64.b64encode(ciphertext).decode("ascii")


def generate_symmetric_key() -> tuple[bytes, bytes]:
    """A fresh random ``(key, iv)``: 32 bytes for AES-256 and a 16-byte IV."""
    return os.urandom(AES_KEY_BYTES), os.urandom(AES_IV_BYTES)


def _aes_cbc(key: bytes, iv: bytes) -> Cipher[modes.CBC]:
    if len(key) != AES_KEY_BYTES:
        raise ValueError("the AES key must be 32 bytes (AES-256)")
    if len(iv) != AES_IV_BYTES:
        raise ValueError("the AES IV must be 16 bytes")
    return Cipher(algorithms.AES(key), modes.CBC(iv))


def aes_encrypt(data: bytes, key: bytes, iv: bytes) -> bytes:
    """AES-256-CBC with PKCS#7 padding; the IV is *not* prefixed to the result."""
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = _aes_cbc(key, iv).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def aes_encrypt_stream(chunks: Iterable[bytes], key: bytes, iv: bytes) -> Iterator[bytes]:
    """:func:`aes_encrypt` over a stream: yields the ciphertext as the chunks arrive, so a
    100 MB batch part never sits in memory whole. The joined output equals
    ``aes_encrypt(b"".join(chunks), key, iv)``."""
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    encryptor = _aes_cbc(key, iv).encryptor()
    for chunk in chunks:
        out = encryptor.update(padder.update(chunk))
        if out:
            yield out
    yield encryptor.update(padder.finalize()) + encryptor.finalize()


def aes_decrypt(data: bytes, key: bytes, iv: bytes) -> bytes:
    """Inverse of :func:`aes_encrypt`; raises :class:`CryptoError` on bad length or padding."""
    if len(data) == 0 or len(data) % AES_IV_BYTES:
        raise CryptoError("AES-CBC ciphertext length is not a positive multiple of 16 bytes")
    decryptor = _aes_cbc(key, iv).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise CryptoError("AES-CBC padding is invalid (wrong key or IV?)") from exc


def sha256_b64(data: bytes) -> str:
    """SHA-256 of the exact bytes as standard Base64 (44 chars), as in ``invoiceHash``."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def public_key_id(certificate_der: bytes) -> str:
    """Base64(SHA-256(SubjectPublicKeyInfo DER)) — the ``publicKeyId`` key selector."""
    try:
        certificate = x509.load_der_x509_certificate(certificate_der)
    except ValueError as exc:
        raise CryptoError("the certificate is not valid DER") from exc
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return sha256_b64(spki)


def _parse_datetime(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO 8601 string")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # KSeF prints 7 fractional digits; datetime accepts at most 6.
    head, sep, tail = text.partition(".")
    if sep:
        digits = len(tail) - len(tail.lstrip("0123456789"))
        tail = tail[:digits][:6] + tail[digits:]
        text = f"{head}.{tail}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{name} is not an ISO 8601 date-time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"{name} has no UTC offset: {value!r}")
    return parsed.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class PublicKeyCertificate:
    """One entry of ``GET /security/public-key-certificates``."""

    certificate_der: bytes = field(repr=False)
    certificate_id: str
    public_key_id: str
    valid_from: datetime
    valid_to: datetime
    usage: frozenset[str]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PublicKeyCertificate:
        """Parse the contract's ``PublicKeyCertificate`` object; unknown keys are ignored."""
        try:
            certificate_der = base64.b64decode(data["certificate"], validate=True)
            usage = data["usage"]
            certificate_id = data["certificateId"]
            key_id = data["publicKeyId"]
            valid_from = _parse_datetime(data["validFrom"], "validFrom")
            valid_to = _parse_datetime(data["validTo"], "validTo")
        except KeyError as exc:
            raise ValueError(f"PublicKeyCertificate is missing {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"PublicKeyCertificate is malformed: {exc}") from None
        if not isinstance(usage, list) or not all(isinstance(u, str) for u in usage):
            raise ValueError("PublicKeyCertificate usage must be a list of strings")
        if not isinstance(certificate_id, str) or not isinstance(key_id, str):
            raise ValueError("PublicKeyCertificate ids must be strings")
        return cls(
            certificate_der=certificate_der,
            certificate_id=certificate_id,
            public_key_id=key_id,
            valid_from=valid_from,
            valid_to=valid_to,
            usage=frozenset(usage),
        )

    def is_valid_at(self, moment: datetime) -> bool:
        """Whether ``moment`` (timezone-aware) falls within validFrom..validTo."""
        return self.valid_from <= moment <= self.valid_to


def select_public_key_certificate(
    certs: Iterable[PublicKeyCertificate], usage: str, now: datetime | None = None
) -> PublicKeyCertificate:
    """The certificate to use: right ``usage``, valid ``now``, latest ``validFrom`` (§2.3)."""
    if usage not in (KSEF_TOKEN_ENCRYPTION, SYMMETRIC_KEY_ENCRYPTION):
        raise ValueError(f"unknown public-key usage {usage!r}")
    moment = datetime.now(UTC) if now is None else now
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    candidates = [c for c in certs if usage in c.usage and c.is_valid_at(moment)]
    if not candidates:
        raise NoUsablePublicKeyError(
            f"no Ministry public key with usage {usage} is valid at {moment.isoformat()}; "
            "download GET /security/public-key-certificates again"
        )
    return max(candidates, key=lambda c: c.valid_from)
