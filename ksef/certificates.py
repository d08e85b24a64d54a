"""Keys and certificates: loading, checking, describing, and requesting KSeF certificates.

Loading rules (one policy for every loader):

* Certificates: PEM or DER, or the bare Base64 DER that KSeF's ``/certificates/retrieve``
  returns. Text around a PEM block (``Bag Attributes``, comments, a trailing newline or
  other junk) is ignored, as RFC 7468 allows; a file with more than one certificate is
  rejected, because picking one silently could pick the CA. DER must be exact: trailing
  bytes after the DER structure are rejected.
* Private keys: encrypted PKCS#8 PEM (what the Ministry's web application saves),
  unencrypted PKCS#8 / traditional PEM, and the same in DER. A password given for an
  unencrypted key is ignored (users often type one anyway).
* Only RSA keys of at least 2048 bits and EC keys on P-256 or P-384 are supported.

Every failure is a :class:`CertificateError` subclass whose message never contains a
password or key material.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from ksef._der import DerError, key_derivation_costs
from ksef._der import der_oids as _der_oids

__all__ = [
    "ENROLLMENT_FIELD_OIDS",
    "CertificateEnvironment",
    "CertificateError",
    "CertificateInfo",
    "KeyDerivationTooCostlyError",
    "KeyMismatchError",
    "KsefCertificateKind",
    "OwnerIdentifierType",
    "PasswordRequiredError",
    "PrivateKey",
    "UnreadableFileError",
    "UnsupportedKeyTypeError",
    "WrongPasswordError",
    "build_csr",
    "certificate_fingerprint",
    "certificate_serial_hex",
    "check_key_derivation_cost",
    "check_key_matches_certificate",
    "check_supported_key",
    "csr_to_base64_der",
    "describe_certificate",
    "export_private_key",
    "generate_private_key",
    "load_certificate",
    "load_pkcs12",
    "load_private_key",
    "parse_owner_identifier",
    "private_key_is_encrypted",
]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_KeyLoader = Callable[[bytes, bytes | None], PrivateKeyTypes]

MIN_RSA_BITS = 2048
# Key-derivation cost an encrypted key file may ask for before anything is derived. OpenSSL
# writes 2,048 PBKDF2 rounds by default and password managers up to ~1,000,000; 3,000,000
# rounds of PBKDF2-SHA256 take about half a second here, 50,000,000 about eight.
MAX_KDF_ITERATIONS = 3_000_000
# scrypt needs 128 * N * r bytes of memory and N * r * p units of work.
MAX_SCRYPT_MEMORY_BYTES = 128 * 1024 * 1024
MAX_SCRYPT_WORK = 2**22
# The statement qcStatements carries in a qualified certificate (ETSI EN 319 412-5).
QC_STATEMENTS = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.3")
QC_COMPLIANCE = "0.4.0.1862.1.1"
SUPPORTED_CURVES = ("secp256r1", "secp384r1")

ORGANIZATION_IDENTIFIER = x509.ObjectIdentifier("2.5.4.97")

# GET /certificates/enrollments/data -> subject OIDs, in the contract's property order.
ENROLLMENT_FIELD_OIDS: dict[str, x509.ObjectIdentifier] = {
    "commonName": NameOID.COMMON_NAME,
    "countryName": NameOID.COUNTRY_NAME,
    "givenName": NameOID.GIVEN_NAME,
    "surname": NameOID.SURNAME,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "uniqueIdentifier": NameOID.X500_UNIQUE_IDENTIFIER,
    "organizationName": NameOID.ORGANIZATION_NAME,
    "organizationIdentifier": ORGANIZATION_IDENTIFIER,
}

# Readable names for RFC 4514 strings (cryptography prints these as dotted OIDs).
_RFC4514_NAMES = {
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.GIVEN_NAME: "GN",
    NameOID.SURNAME: "SN",
    NameOID.X500_UNIQUE_IDENTIFIER: "uniqueIdentifier",
    ORGANIZATION_IDENTIFIER: "organizationIdentifier",
}

# How issuers write the owner's identifier in `serialNumber` (2.5.4.5) and
# `organizationIdentifier` (2.5.4.97): ETSI EN 319 412-1 §5.1.3-5.1.4 semantics identifiers
# (VATPL- for a company's NIP, TINPL- for a person's NIP, PNOPL- for a PESEL) and the
# older Polish NIP- / PESEL-, upper case as every issuer writes them. KSeF's own patterns
# (§2.5) search with `.*?`, which would read "NIP-80010112345" (a PESEL under the wrong
# prefix) as NIP 8001011234; here the whole value must be the prefix, a hyphen and exactly
# the identifier's digits (ASCII only: `\d` would also take Arabic or full-width digits).
_OWNER_IDENTIFIER = re.compile(r"(VATPL|TINPL|NIP|PNOPL|PESEL)-([0-9]+)", re.ASCII)

_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN (?P<label>(?:X509 |TRUSTED )?CERTIFICATE)-----.*?-----END (?P=label)-----",
    re.DOTALL,
)
_PEM_PRIVATE_KEY = re.compile(
    rb"-----BEGIN (?P<label>(?:ENCRYPTED |RSA |EC )?PRIVATE KEY)-----"
    rb".*?-----END (?P=label)-----",
    re.DOTALL,
)

# KSeF issuer common names observed in issue threads (digest §3): PRD and TEST/DEMO.
KSEF_ISSUER_PRODUCTION = "CCK KSeF"
KSEF_ISSUER_TEST_AND_DEMO = "TEST CCK KSeF"
AUTHENTICATION_CN_SUFFIX = "(uwierzytelnienie)"
OFFLINE_CN_SUFFIX = "(offline)"


class CertificateError(Exception):
    """A key or certificate cannot be used; the message is safe to show."""


class UnreadableFileError(CertificateError):
    """The data is not a certificate/key in any supported format."""


class WrongPasswordError(CertificateError):
    """The password does not decrypt the key or PKCS#12 file."""


class PasswordRequiredError(CertificateError):
    """The key or PKCS#12 file is encrypted and no password was given."""


class KeyMismatchError(CertificateError):
    """The private key does not belong to the certificate."""


class UnsupportedKeyTypeError(CertificateError):
    """The key is neither RSA >= 2048 bits nor EC on P-256/P-384."""


class KeyDerivationTooCostlyError(CertificateError):
    """The file asks for a key derivation far costlier than any real key file uses."""


class KsefCertificateKind(StrEnum):
    """``KsefCertificateType`` of a KSeF certificate, or UNKNOWN for other certificates."""

    AUTHENTICATION = "Authentication"
    OFFLINE = "Offline"
    UNKNOWN = "Unknown"


class OwnerIdentifierType(StrEnum):
    """How KSeF identifies the certificate's owner (``CertificateSubjectIdentifierType``)."""

    NIP = "Nip"
    PESEL = "Pesel"
    FINGERPRINT = "Fingerprint"


class CertificateEnvironment(StrEnum):
    """Where a certificate is expected to work (a guess from the issuer, digest §3/§12.6).

    KSeF's TEST and DEMO both issue as "TEST CCK KSeF", so they cannot be told apart.
    Qualified certificates from trust-service providers are UNKNOWN: they work wherever
    they are genuinely qualified.
    """

    TEST = "test"
    TEST_OR_DEMO = "test_or_demo"
    PRODUCTION = "production"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """Facts about a certificate the portal shows and checks."""

    kind: KsefCertificateKind
    owner_identifier_type: OwnerIdentifierType
    owner_identifier: str
    is_personal: bool
    common_name: str | None
    serial_hex: str
    sha256_fingerprint: str
    valid_from: datetime
    valid_to: datetime
    subject: str
    issuer: str
    is_self_signed: bool
    is_ksef_issued: bool
    environment: CertificateEnvironment
    key_description: str
    is_qualified: bool = False  # carries the EU qualified-certificate statement

    @property
    def nip(self) -> str | None:
        return (
            self.owner_identifier if self.owner_identifier_type is OwnerIdentifierType.NIP else None
        )

    @property
    def pesel(self) -> str | None:
        if self.owner_identifier_type is OwnerIdentifierType.PESEL:
            return self.owner_identifier
        return None

    def is_valid_at(self, moment: datetime) -> bool:
        return self.valid_from <= moment <= self.valid_to


# --- loading -------------------------------------------------------------------------


def load_certificate(data: bytes) -> x509.Certificate:
    """One X.509 certificate from PEM, DER or bare Base64 DER (see module docstring)."""
    if not data:
        raise UnreadableFileError("the certificate file is empty")
    blocks = [m.group(0) for m in _PEM_CERTIFICATE.finditer(data)]
    if len(blocks) > 1:
        raise UnreadableFileError(
            f"the file holds {len(blocks)} certificates; provide only the KSeF certificate"
        )
    if blocks:
        try:
            certificate = x509.load_pem_x509_certificate(blocks[0])
        except ValueError:
            raise UnreadableFileError("the PEM certificate block is damaged") from None
        return _check_public_key(certificate)
    if b"-----BEGIN" in data:
        raise UnreadableFileError("the PEM file holds no certificate (a key, perhaps?)")
    der = data if data[:1] == b"\x30" else _bare_base64(data)
    if der is None:
        raise UnreadableFileError("the file is not a certificate (neither PEM nor DER)")
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        raise UnreadableFileError("the file is not a valid DER certificate") from None
    return _check_public_key(certificate)


def _check_public_key(certificate: x509.Certificate) -> x509.Certificate:
    """The certificate, if its public key is one KSeF accepts.

    cryptography parses the key lazily: a certificate whose key algorithm it does not know
    loads fine and raises only at ``public_key()``, deep inside a later check.
    """
    try:
        key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise UnsupportedKeyTypeError(
            "the certificate's public-key algorithm is not supported; use RSA or EC P-256"
        ) from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise UnsupportedKeyTypeError(
                f"RSA keys must have at least {MIN_RSA_BITS} bits (this one has {key.key_size})"
            )
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in SUPPORTED_CURVES:
            raise UnsupportedKeyTypeError(
                f"EC keys must use P-256 or P-384 (this one uses {key.curve.name})"
            )
    else:
        raise UnsupportedKeyTypeError(
            f"unsupported public key {type(key).__name__}; use RSA (2048+) or EC P-256"
        )
    return certificate


def _bare_base64(data: bytes) -> bytes | None:
    compact = b"".join(data.split())
    if not compact:
        return None
    try:
        decoded = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    return decoded if decoded[:1] == b"\x30" else None


def load_private_key(data: bytes, password: str | None = None) -> PrivateKey:
    """A supported private key from PEM (PKCS#8, encrypted PKCS#8, traditional) or DER."""
    if not data:
        raise UnreadableFileError("the private-key file is empty")
    if b"-----BEGIN" in data:
        block = _PEM_PRIVATE_KEY.search(data)
        if block is None:
            raise UnreadableFileError("the PEM file holds no private key")
        loader: _KeyLoader = serialization.load_pem_private_key
        raw = block.group(0)
        if block.group("label") == b"ENCRYPTED PRIVATE KEY":
            check_key_derivation_cost(_pem_body(raw))
    else:
        loader = serialization.load_der_private_key
        raw = data
        check_key_derivation_cost(raw, strict=False)
    try:
        key = loader(raw, None)
    except TypeError:
        key = _load_encrypted_key(loader, raw, password)
    except (ValueError, UnsupportedAlgorithm):
        raise UnreadableFileError("the file is not a readable private key") from None
    return check_supported_key(key)


def _pem_body(block: bytes) -> bytes:
    lines = block.strip().splitlines()[1:-1]
    body = b"".join(line.strip() for line in lines if b":" not in line)
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise UnreadableFileError("the PEM private-key block is damaged") from None


def private_key_is_encrypted(data: bytes) -> bool:
    """Whether a private-key file is protected by a password (PEM or DER)."""
    if b"-----BEGIN" in data:
        block = _PEM_PRIVATE_KEY.search(data)
        if block is None:
            return False
        return block.group("label") == b"ENCRYPTED PRIVATE KEY" or b"ENCRYPTED" in block.group(0)
    # EncryptedPrivateKeyInfo starts with an AlgorithmIdentifier SEQUENCE; PrivateKeyInfo
    # and the traditional formats start with an INTEGER version.
    return (
        len(data) > 4 and data[0] == 0x30 and 0x30 in data[2:6] and not _starts_with_integer(data)
    )


def _starts_with_integer(data: bytes) -> bool:
    first = data[1]
    offset = 2 if first < 0x80 else 2 + (first & 0x7F)
    return offset < len(data) and data[offset] == 0x02


def check_key_derivation_cost(der: bytes, *, strict: bool = True) -> None:
    """Refuse a PKCS#8/PKCS#12 file whose key derivation would tie up the process.

    ``strict=False`` lets bytes that are not DER through (the loader reports them).
    """
    try:
        costs = key_derivation_costs(der)
    except DerError:
        if strict:
            raise UnreadableFileError("the encrypted key structure is damaged") from None
        return
    for cost in costs:
        if cost.scheme == "scrypt":
            memory = 128 * cost.scrypt_n * cost.scrypt_r
            work = cost.scrypt_n * cost.scrypt_r * cost.scrypt_p
            if memory > MAX_SCRYPT_MEMORY_BYTES or work > MAX_SCRYPT_WORK:
                raise KeyDerivationTooCostlyError(
                    f"the file asks for scrypt N={cost.scrypt_n}, r={cost.scrypt_r}, "
                    f"p={cost.scrypt_p}, beyond the accepted cost"
                )
        elif cost.iterations > MAX_KDF_ITERATIONS:
            raise KeyDerivationTooCostlyError(
                f"the file asks for {min(cost.iterations, 2**63):,} key-derivation rounds "
                f"(accepted: at most {MAX_KDF_ITERATIONS:,})"
            )


def _load_encrypted_key(loader: _KeyLoader, raw: bytes, password: str | None) -> PrivateKeyTypes:
    # TypeError without a password means "encrypted": the only question left is the password.
    if not password:
        raise PasswordRequiredError("the private key is encrypted; enter its password")
    try:
        key: PrivateKeyTypes = loader(raw, password.encode("utf-8"))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise WrongPasswordError("the password does not decrypt this private key") from None
    return key


def check_supported_key(key: object) -> PrivateKey:
    """``key`` itself if it is RSA >= 2048 or EC P-256/P-384, else UnsupportedKeyTypeError."""
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise UnsupportedKeyTypeError(
                f"RSA keys must have at least {MIN_RSA_BITS} bits (this one has {key.key_size})"
            )
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in SUPPORTED_CURVES:
            raise UnsupportedKeyTypeError(
                f"EC keys must use P-256 or P-384 (this one uses {key.curve.name})"
            )
        return key
    raise UnsupportedKeyTypeError(
        f"unsupported key type {type(key).__name__}; use RSA (2048+) or EC P-256"
    )


def load_pkcs12(
    data: bytes, password: str | None = None
) -> tuple[PrivateKey, x509.Certificate, list[x509.Certificate]]:
    """``(key, certificate, extra_certificates)`` from a PKCS#12 (.p12/.pfx) file.

    The key must match the certificate. A password given for an unencrypted file is
    ignored.
    """
    if not data:
        raise UnreadableFileError("the PKCS#12 file is empty")
    check_key_derivation_cost(data)
    attempts: list[bytes | None] = [password.encode("utf-8")] if password else []
    attempts.append(None)
    loaded = None
    for attempt in attempts:
        try:
            loaded = pkcs12.load_key_and_certificates(data, attempt)
            break
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
    if loaded is None:
        if not _looks_like_pfx(data):
            raise UnreadableFileError("the file is not a PKCS#12 (.p12/.pfx) archive")
        if not password:
            raise PasswordRequiredError("the PKCS#12 file is encrypted; enter its password")
        raise WrongPasswordError("the password does not open this PKCS#12 file")
    key, certificate, extra = loaded
    if key is None:
        raise UnreadableFileError("the PKCS#12 file holds no private key")
    if certificate is None:
        raise UnreadableFileError("the PKCS#12 file holds no certificate")
    supported = check_supported_key(key)
    check_key_matches_certificate(supported, certificate)
    return supported, certificate, list(extra)


def _looks_like_pfx(data: bytes) -> bool:
    # PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo, macData ... }
    if len(data) < 5 or data[0] != 0x30:
        return False
    first = data[1]
    if first < 0x80:
        header, length = 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            return False
        header, length = 2 + count, int.from_bytes(data[2 : 2 + count], "big")
    return header + length == len(data) and data[header : header + 3] == b"\x02\x01\x03"


def check_key_matches_certificate(key: PrivateKey, certificate: x509.Certificate) -> None:
    """Raise :class:`KeyMismatchError` unless ``key`` is the certificate's private key."""
    expected = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    actual = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if expected != actual:
        raise KeyMismatchError("the private key does not belong to this certificate")


# --- describing ----------------------------------------------------------------------


def certificate_fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the certificate DER as 64 upper-case hex characters (KSeF's fingerprint)."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest().upper()


def certificate_serial_hex(certificate: x509.Certificate) -> str:
    """The serial number as upper-case hex, zero-padded to an even length of at least 16.

    KSeF prints its certificates' serials as exactly 16 hex characters (``01F20A5D352AE590``
    keeps its leading zero); longer serials from other issuers are printed in full.
    """
    digits = f"{certificate.serial_number:X}"
    width = max(16, len(digits) + len(digits) % 2)
    return digits.zfill(width)


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    for attribute in name.get_attributes_for_oid(oid):
        value = attribute.value
        return value if isinstance(value, str) else value.hex()
    return None


def parse_owner_identifier(value: str) -> tuple[OwnerIdentifierType, str] | None:
    """("Nip", "5265877635") from "VATPL-5265877635"; None unless the value is exactly a
    known prefix, a hyphen and the right number of digits (10 for a NIP, 11 for a PESEL)."""
    match = _OWNER_IDENTIFIER.fullmatch(value.strip())
    if match is None:
        return None
    prefix, digits = match.groups()
    kind = OwnerIdentifierType.PESEL if prefix in ("PNOPL", "PESEL") else OwnerIdentifierType.NIP
    expected = 11 if kind is OwnerIdentifierType.PESEL else 10
    return (kind, digits) if len(digits) == expected else None


def _identity_in(
    subject: x509.Name, oid: x509.ObjectIdentifier
) -> tuple[OwnerIdentifierType, str] | None:
    """The one identity the attribute names; None when it names none, or two different ones
    (a subject that names two owners is not guessed at)."""
    found = {
        parsed
        for attribute in subject.get_attributes_for_oid(oid)
        if isinstance(attribute.value, str)
        and (parsed := parse_owner_identifier(attribute.value)) is not None
    }
    return found.pop() if len(found) == 1 else None


def _owner(subject: x509.Name, fingerprint: str) -> tuple[OwnerIdentifierType, str]:
    """A person's certificate names its owner in serialNumber, a company seal in
    organizationIdentifier; serialNumber wins when both are present (a person's qualified
    certificate may also name the employer's NIP)."""
    for oid in (NameOID.SERIAL_NUMBER, ORGANIZATION_IDENTIFIER):
        if (identity := _identity_in(subject, oid)) is not None:
            return identity
    return OwnerIdentifierType.FINGERPRINT, fingerprint


def _key_usage(certificate: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


def _kind(
    certificate: x509.Certificate, common_name: str | None, ksef_issued: bool
) -> KsefCertificateKind:
    """The KSeF certificate type (digest §3).

    The Ministry marks the type in two places: keyUsage (Authentication = digitalSignature,
    Offline = nonRepudiation) and the subject CN suffix "(uwierzytelnienie)" / "(offline)".
    When they disagree the answer is UNKNOWN. Without a suffix, nonRepudiation alone is
    read as Offline only for KSeF-issued certificates: a qualified e-signature certificate
    also carries just nonRepudiation and is not an Offline certificate.
    """
    usage = _key_usage(certificate)
    by_usage = KsefCertificateKind.UNKNOWN
    if usage is not None and usage.digital_signature and not usage.content_commitment:
        by_usage = KsefCertificateKind.AUTHENTICATION
    elif usage is not None and usage.content_commitment and not usage.digital_signature:
        by_usage = KsefCertificateKind.OFFLINE
    cn = (common_name or "").strip().lower()
    if cn.endswith(AUTHENTICATION_CN_SUFFIX) or cn.endswith(OFFLINE_CN_SUFFIX):
        by_name = (
            KsefCertificateKind.AUTHENTICATION
            if cn.endswith(AUTHENTICATION_CN_SUFFIX)
            else KsefCertificateKind.OFFLINE
        )
        return by_name if usage is None or by_usage is by_name else KsefCertificateKind.UNKNOWN
    if by_usage is KsefCertificateKind.OFFLINE and not ksef_issued:
        return KsefCertificateKind.UNKNOWN
    return by_usage


def _is_self_signed(certificate: x509.Certificate) -> bool:
    if certificate.issuer != certificate.subject:
        return False
    try:
        certificate.verify_directly_issued_by(certificate)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        # InvalidSignature: the same name but another key signed it.
        return False
    return True


def _key_description(certificate: x509.Certificate) -> str:
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        curve = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
        return f"EC {curve.get(key.curve.name, key.curve.name)}"
    return type(key).__name__


def describe_certificate(certificate: x509.Certificate) -> CertificateInfo:
    """What the certificate is: KSeF type, owner, validity, issuer-based environment guess."""
    subject, issuer = certificate.subject, certificate.issuer
    fingerprint = certificate_fingerprint(certificate)
    common_name = _attribute(subject, NameOID.COMMON_NAME)
    issuer_cn = (_attribute(issuer, NameOID.COMMON_NAME) or "").strip()
    self_signed = _is_self_signed(certificate)
    ksef_issued = issuer_cn in (KSEF_ISSUER_PRODUCTION, KSEF_ISSUER_TEST_AND_DEMO)
    if self_signed:
        environment = CertificateEnvironment.TEST
    elif issuer_cn == KSEF_ISSUER_TEST_AND_DEMO:
        environment = CertificateEnvironment.TEST_OR_DEMO
    elif issuer_cn == KSEF_ISSUER_PRODUCTION:
        environment = CertificateEnvironment.PRODUCTION
    else:
        environment = CertificateEnvironment.UNKNOWN
    identifier_type, identifier = _owner(subject, fingerprint)
    has_person_names = bool(
        subject.get_attributes_for_oid(NameOID.GIVEN_NAME)
        or subject.get_attributes_for_oid(NameOID.SURNAME)
    )
    return CertificateInfo(
        kind=_kind(certificate, common_name, ksef_issued),
        owner_identifier_type=identifier_type,
        owner_identifier=identifier,
        is_personal=identifier_type is OwnerIdentifierType.PESEL or has_person_names,
        common_name=common_name,
        serial_hex=certificate_serial_hex(certificate),
        sha256_fingerprint=fingerprint,
        valid_from=certificate.not_valid_before_utc,
        valid_to=certificate.not_valid_after_utc,
        subject=subject.rfc4514_string(_RFC4514_NAMES),
        issuer=issuer.rfc4514_string(_RFC4514_NAMES),
        is_self_signed=self_signed,
        is_ksef_issued=ksef_issued,
        environment=environment,
        key_description=_key_description(certificate),
        is_qualified=_is_qualified(certificate),
    )


def _is_qualified(certificate: x509.Certificate) -> bool:
    """Whether the certificate states it is an EU qualified certificate (QcCompliance)."""
    try:
        extension = certificate.extensions.get_extension_for_oid(QC_STATEMENTS)
    except (x509.ExtensionNotFound, ValueError):
        return False
    value = extension.value
    raw = value.value if isinstance(value, x509.UnrecognizedExtension) else value.public_bytes()
    try:
        return QC_COMPLIANCE in _der_oids(raw)
    except DerError:
        return False


# --- requesting a KSeF certificate ---------------------------------------------------


def generate_private_key(kind: Literal["ec", "rsa"] = "ec") -> PrivateKey:
    """A new key for a KSeF certificate: EC P-256 (the Ministry's choice) or RSA-2048."""
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"kind must be 'ec' or 'rsa', not {kind!r}")


def build_csr(private_key: PrivateKey, enrollment_data: Mapping[str, object]) -> bytes:
    """A PEM PKCS#10 request whose subject copies ``GET /certificates/enrollments/data``.

    Every non-empty field of the response becomes one subject attribute, in the
    contract's property order, with exactly the returned value (e.g. ``TINPL-…``: KSeF
    rejects a changed DN with 25003). Unknown non-empty fields raise ``ValueError`` rather
    than being dropped, because a dropped field would be rejected by KSeF too.
    """
    check_supported_key(private_key)
    unknown = sorted(k for k, v in enrollment_data.items() if v and k not in ENROLLMENT_FIELD_OIDS)
    if unknown:
        raise ValueError(f"enrollment data has fields this library cannot map: {unknown}")
    attributes: list[x509.NameAttribute[str]] = []
    for field_name, oid in ENROLLMENT_FIELD_OIDS.items():
        value = enrollment_data.get(field_name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ValueError(f"enrollment data field {field_name} must be a string")
        attributes.append(x509.NameAttribute(oid, value))
    present = {a.oid for a in attributes}
    if NameOID.COMMON_NAME not in present or NameOID.COUNTRY_NAME not in present:
        raise ValueError("enrollment data must contain commonName and countryName")
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attributes))
    csr = builder.sign(private_key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def csr_to_base64_der(csr_pem: bytes) -> str:
    """The ``csr`` field of ``POST /certificates/enrollments``: Base64 of the DER request."""
    csr = x509.load_pem_x509_csr(csr_pem)
    return base64.b64encode(csr.public_bytes(serialization.Encoding.DER)).decode("ascii")


def export_private_key(key: PrivateKey, password: str) -> bytes:
    """The key as encrypted PKCS#8 PEM (PBES2, AES-256-CBC), like the Ministry's app saves."""
    if not password:
        raise ValueError("a password is required to export a private key")
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.BestAvailableEncryption(password.encode("utf-8")),
    )
