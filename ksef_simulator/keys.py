"""The simulator's own "Ministry" keys and its KSeF certificate authority.

* Two RSA-2048 key pairs with certificates for the usages `KsefTokenEncryption` and
  `SymmetricKeyEncryption`, published at GET /security/public-key-certificates with
  publicKeyId = Base64(SHA-256(SPKI DER)) and certificateId = Base64(SHA-256(cert DER)).
* A CA ("TEST CCK KSeF", like TEST/DEMO) that issues KSeF certificates from CSRs.

Key generation costs ~0.1 s per key, so one set is made per process and shared by every
State created in it (tests build many apps); a --state snapshot carries its own keys.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

USAGES = ("KsefTokenEncryption", "SymmetricKeyEncryption")
CA_COMMON_NAME = "TEST CCK KSeF"


class DecryptionError(ValueError):
    """The ciphertext is not valid RSA-OAEP(SHA-256) for the key of that usage."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sha256_b64(data: bytes) -> str:
    return b64(hashlib.sha256(data).digest())


@dataclass
class MinistryKey:
    usage: str
    private_key_pem: bytes
    certificate_der: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.certificate_der)

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        return _load_rsa_key(self.private_key_pem)

    @property
    def public_key_id(self) -> str:
        spki = self.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return sha256_b64(spki)

    @property
    def certificate_id(self) -> str:
        return sha256_b64(self.certificate_der)


@dataclass
class KeyRing:
    ministry: dict[str, MinistryKey]
    ca_key_pem: bytes
    ca_certificate_der: bytes

    @classmethod
    def default(cls, now: datetime) -> KeyRing:
        return _default_keyring(now.replace(hour=0, minute=0, second=0, microsecond=0))

    @property
    def ca_certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.ca_certificate_der)

    @property
    def ca_key(self) -> rsa.RSAPrivateKey:
        return _load_rsa_key(self.ca_key_pem)

    def key_for(self, usage: str) -> MinistryKey:
        return self.ministry[usage]

    def usage_of_public_key_id(self, public_key_id: str) -> str | None:
        for usage, key in self.ministry.items():
            if key.public_key_id == public_key_id:
                return usage
        return None

    def decrypt_oaep(self, ciphertext_b64: str, usage: str) -> bytes:
        """RSAES-OAEP with SHA-256 and MGF1-SHA-256, empty label, as the docs require."""
        try:
            ciphertext = base64.b64decode(ciphertext_b64, validate=True)
            return self.ministry[usage].private_key.decrypt(
                ciphertext,
                padding.OAEP(
                    mgf=padding.MGF1(algorithm=hashes.SHA256()),
                    algorithm=hashes.SHA256(),
                    label=None,
                ),
            )
        except (ValueError, TypeError) as exc:
            raise DecryptionError(str(exc)) from exc

    def issue_certificate(
        self,
        csr: x509.CertificateSigningRequest,
        *,
        certificate_type: str,
        valid_from: datetime,
        valid_to: datetime,
    ) -> tuple[str, bytes]:
        """Sign the CSR's subject and key; returns (16-hex serial, certificate DER)."""
        serial_hex = secrets.token_hex(8).upper()
        if serial_hex[0] == "0":
            serial_hex = "1" + serial_hex[1:]
        public_key = csr.public_key()
        assert isinstance(public_key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey))
        authentication = certificate_type == "Authentication"
        builder = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.ca_certificate.subject)
            .public_key(public_key)
            .serial_number(int(serial_hex, 16))
            .not_valid_before(valid_from)
            .not_valid_after(valid_to)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    # Authentication certificates sign AuthTokenRequest documents;
                    # Offline certificates sign KOD II links (non-repudiation) only.
                    digital_signature=authentication,
                    content_commitment=not authentication,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                critical=False,
            )
        )
        if authentication:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
            )
        cert = builder.sign(self.ca_key, hashes.SHA256())
        return serial_hex, cert.public_bytes(serialization.Encoding.DER)

    def issued_by_ca(self, cert: x509.Certificate) -> bool:
        """True when `cert` carries a valid signature of the simulator CA."""
        try:
            cert.verify_directly_issued_by(self.ca_certificate)
        except (ValueError, TypeError, Exception):  # InvalidSignature is not a ValueError
            return False
        return True


@cache
def _load_rsa_key(pem: bytes) -> rsa.RSAPrivateKey:
    """Parse a key once: loading validates the RSA key (~0.15 s), and every session or
    export opening needs it. Cached by PEM at module level so the dataclasses stay
    picklable for --state snapshots."""
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ministerstwo Finansów (symulator)"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ]
    )


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@cache
def _default_keyring(day: datetime) -> KeyRing:
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = _name(CA_COMMON_NAME)
    valid_from = day - timedelta(days=365)
    valid_to = day + timedelta(days=3650)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ministry = {}
    for usage in USAGES:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name("Ministerstwo Finansów"))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid_from)
            .not_valid_after(day + timedelta(days=730))
            .sign(ca_key, hashes.SHA256())
        )
        ministry[usage] = MinistryKey(
            usage=usage,
            private_key_pem=_pem(key),
            certificate_der=cert.public_bytes(serialization.Encoding.DER),
        )
    return KeyRing(
        ministry=ministry,
        ca_key_pem=_pem(ca_key),
        ca_certificate_der=ca_cert.public_bytes(serialization.Encoding.DER),
    )


def decrypt_oaep(ciphertext_b64: str, usage: str) -> bytes:
    """Decrypt with the current app's Ministry key for `usage` (call inside a request)."""
    from ksef_simulator.state import current_state

    return current_state().keys.decrypt_oaep(ciphertext_b64, usage)
