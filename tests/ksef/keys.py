"""Keys, certificates and identifiers made inside tests (never files committed to the repo).

Reusable by every test package::

    from tests.ksef.keys import make_certificate, make_ec_key, make_rsa_key

Signatures:

* ``make_rsa_key(bits=2048) -> rsa.RSAPrivateKey``
* ``make_ec_key(curve="P-256") -> ec.EllipticCurvePrivateKey`` (also P-384, P-192, P-521)
* ``make_certificate(key, *, nip=None, pesel=None, organization=False,
  kind="Authentication", common_name=None, given_name="Jan", surname="Kowalski",
  organization_name="Biuro Rachunkowe Test sp. z o.o.", serial_prefix="TINPL",
  not_before=None, not_after=None, issuer_key=None, issuer_name=None, serial_number=None,
  cn_suffix=True, key_usage=None) -> x509.Certificate``

  - ``organization=True`` makes a seal: ``O``, ``organizationIdentifier=VATPL-<nip>``, no
    person names. Otherwise a person: ``GN``/``SN`` and ``serialNumber`` of
    ``PNOPL-<pesel>`` (when ``pesel``) or ``<serial_prefix>-<nip>`` (``TINPL``; pass
    ``"NIP"`` for the older form). Without ``nip``/``pesel`` the subject has no identifier
    (KSeF then identifies it by fingerprint).
  - ``kind`` ``"Authentication"`` sets keyUsage digitalSignature and the CN suffix
    ``(uwierzytelnienie)``; ``"Offline"`` sets nonRepudiation and ``(offline)``; ``None``
    adds no keyUsage/suffix. ``cn_suffix=False`` drops the suffix; ``key_usage`` (a
    ``x509.KeyUsage``) overrides the keyUsage.
  - Self-signed unless ``issuer_key`` is given; then ``issuer_name`` (a ``str`` CN or an
    ``x509.Name``, default ``"TEST CCK KSeF"``) is the issuer. Validity defaults to
    yesterday .. two years ahead; the serial to 16 hex digits like KSeF's.

* ``make_ca(name="TEST CCK KSeF", key=None) -> tuple[key, x509.Certificate]``
* ``pem(certificate) -> bytes``, ``der(certificate) -> bytes``
* ``key_pem(key, password=None) -> bytes`` (encrypted PKCS#8 when a password is given)
* ``key_der(key, password=None) -> bytes``
* ``make_pkcs12(key, certificate, password=None, extra=()) -> bytes``
* ``make_ministry_key_json(key=None, *, usage=("KsefTokenEncryption",), valid_from=None,
  valid_to=None) -> tuple[rsa.RSAPrivateKey, dict]`` — a ``PublicKeyCertificate`` JSON
  object as ``GET /security/public-key-certificates`` returns it, with its private key so
  a test can decrypt what the code encrypted.
* ``make_nip(seed) -> str``, ``make_pesel(seed, birth=date(1985, 3, 14)) -> str`` — valid
  identifiers, deterministic for a seed (independent checksum code, not ``ksef.identifiers``).
"""

from __future__ import annotations

import base64
import hashlib
import random
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
ORGANIZATION_IDENTIFIER = x509.ObjectIdentifier("2.5.4.97")

_CURVES: dict[str, ec.EllipticCurve] = {
    "P-192": ec.SECP192R1(),
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
    "secp256k1": ec.SECP256K1(),
}


def make_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def make_ec_key(curve: str = "P-256") -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(_CURVES[curve])


def _key_usage(*, digital_signature: bool, non_repudiation: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _subject(
    *,
    nip: str | None,
    pesel: str | None,
    organization: bool,
    common_name: str,
    given_name: str,
    surname: str,
    organization_name: str,
    serial_prefix: str,
) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization_name))
        if nip:
            attributes.append(x509.NameAttribute(ORGANIZATION_IDENTIFIER, f"VATPL-{nip}"))
    else:
        attributes.append(x509.NameAttribute(NameOID.GIVEN_NAME, given_name))
        attributes.append(x509.NameAttribute(NameOID.SURNAME, surname))
        if pesel:
            attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, f"PNOPL-{pesel}"))
        elif nip:
            attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, f"{serial_prefix}-{nip}"))
    attributes.append(x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"))
    return x509.Name(attributes)


def make_certificate(
    key: PrivateKey,
    *,
    nip: str | None = None,
    pesel: str | None = None,
    organization: bool = False,
    kind: str | None = "Authentication",
    common_name: str | None = None,
    given_name: str = "Jan",
    surname: str = "Kowalski",
    organization_name: str = "Biuro Rachunkowe Test sp. z o.o.",
    serial_prefix: str = "TINPL",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    issuer_key: PrivateKey | None = None,
    issuer_name: str | x509.Name | None = None,
    serial_number: int | None = None,
    cn_suffix: bool = True,
    key_usage: x509.KeyUsage | None = None,
) -> x509.Certificate:
    if kind not in ("Authentication", "Offline", None):
        raise ValueError(f"kind must be Authentication, Offline or None, not {kind!r}")
    base_name = common_name or (organization_name if organization else f"{given_name} {surname}")
    if cn_suffix and kind == "Authentication":
        base_name = f"{base_name} (uwierzytelnienie)"
    elif cn_suffix and kind == "Offline":
        base_name = f"{base_name} (offline)"
    subject = _subject(
        nip=nip,
        pesel=pesel,
        organization=organization,
        common_name=base_name,
        given_name=given_name,
        surname=surname,
        organization_name=organization_name,
        serial_prefix=serial_prefix,
    )
    if issuer_key is None:
        signer: PrivateKey = key
        issuer = subject if issuer_name is None else _name(issuer_name)
    else:
        signer = issuer_key
        issuer = _name(issuer_name or "TEST CCK KSeF")
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial_number or (secrets.randbits(59) | (1 << 60)))
        .not_valid_before(not_before or now - timedelta(days=1))
        .not_valid_after(not_after or now + timedelta(days=730))
    )
    if key_usage is None and kind is not None:
        key_usage = _key_usage(
            digital_signature=kind == "Authentication", non_repudiation=kind == "Offline"
        )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    return builder.sign(signer, hashes.SHA256())


def _name(value: str | x509.Name) -> x509.Name:
    if isinstance(value, x509.Name):
        return value
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, value),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ]
    )


def make_ca(
    name: str = "TEST CCK KSeF", key: PrivateKey | None = None
) -> tuple[PrivateKey, x509.Certificate]:
    ca_key = key or make_ec_key()
    ca_name = _name(name)
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=10))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return ca_key, certificate


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _encryption(password: str | None) -> serialization.KeySerializationEncryption:
    if password is None:
        return serialization.NoEncryption()
    return serialization.BestAvailableEncryption(password.encode())


def key_pem(key: PrivateKey, password: str | None = None) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, _encryption(password)
    )


def key_der(key: PrivateKey, password: str | None = None) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, _encryption(password)
    )


def make_pkcs12(
    key: PrivateKey,
    certificate: x509.Certificate,
    password: str | None = None,
    extra: Iterable[x509.Certificate] = (),
) -> bytes:
    return pkcs12.serialize_key_and_certificates(
        b"ksef", key, certificate, list(extra) or None, _encryption(password)
    )


def make_ministry_key_json(
    key: rsa.RSAPrivateKey | None = None,
    *,
    usage: Sequence[str] = ("KsefTokenEncryption",),
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
) -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    private_key = key or make_rsa_key()
    now = datetime.now(UTC)
    start = valid_from or now - timedelta(days=30)
    end = valid_to or now + timedelta(days=365)
    name = _name("Ministerstwo Finansów")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(_name("Test Qualified CA"))
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(private_key, hashes.SHA256())
    )
    certificate_der = der(certificate)
    spki = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_key, {
        "certificate": base64.b64encode(certificate_der).decode(),
        "certificateId": base64.b64encode(hashlib.sha256(certificate_der).digest()).decode(),
        "publicKeyId": base64.b64encode(hashlib.sha256(spki).digest()).decode(),
        # KSeF prints seven fractional digits and an explicit offset.
        "validFrom": start.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00",
        "validTo": end.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00",
        "usage": list(usage),
    }


def make_nip(seed: int) -> str:
    """A valid NIP (checksum per the KSeF digest §6), deterministic for ``seed``."""
    rng = random.Random(seed)
    while True:
        digits = [rng.randint(1, 9), rng.randint(1, 9), rng.randint(1, 9)]
        digits += [rng.randint(0, 9) for _ in range(6)]
        check = sum(d * w for d, w in zip(digits, (6, 5, 7, 2, 3, 4, 5, 6, 7), strict=True)) % 11
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def make_pesel(seed: int, birth: date = date(1985, 3, 14)) -> str:
    """A valid PESEL for ``birth`` (century-encoded month), deterministic for ``seed``."""
    rng = random.Random(seed)
    offset = {18: 80, 19: 0, 20: 20, 21: 40, 22: 60}[birth.year // 100]
    head = f"{birth.year % 100:02d}{birth.month + offset:02d}{birth.day:02d}"
    head += "".join(str(rng.randint(0, 9)) for _ in range(4))
    total = sum(int(d) * w for d, w in zip(head, (1, 3, 7, 9, 1, 3, 7, 9, 1, 3), strict=True))
    return head + str((10 - total % 10) % 10)
