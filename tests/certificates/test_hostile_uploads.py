"""Hostile certificate and key files, against every upload path: never a 500, never a row.

Each case is posted to the staff upload, to the client's single-use upload link and to the
office's own credential upload. Every answer must be the form again (200) carrying the
case's specific message; no credential, secret or "credential.*" audit event may be
written; on the link the refusal counts against its cap. The files are made here: wrong
key algorithms, validity dates at the edges of what X.509 can carry, truncations and
garbage, and key files that ask for an absurd key-derivation cost.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.core.cache import cache
from django.urls import reverse

from certificates.models import Credential, CredentialSecret, UploadLink
from certificates.services import upload_link_create, upload_link_token_hash
from ksef.certificates import MAX_KDF_ITERATIONS
from portal.models import AuditEvent
from tests.certificates.conftest import PASSWORD, upload_file
from tests.ksef.keys import der, key_der, key_pem, make_certificate, make_ec_key, make_rsa_key, pem

UNREADABLE_CERTIFICATE = "Nie można odczytać certyfikatu"
UNREADABLE_KEY = "Nie można odczytać klucza prywatnego"
UNREADABLE_PKCS12 = "Nie można odczytać pliku .p12/.pfx"
UNSUPPORTED = "Nieobsługiwany rodzaj klucza"
OUT_OF_RANGE = "niewiarygodny okres ważności"
TOO_COSTLY = "nietypowo dużą liczbą powtórzeń"
WRONG_PASSWORD = "Hasło nie pasuje do klucza prywatnego"
# What a damaged encrypted key may honestly be reported as.
DAMAGED_KEY = (UNREADABLE_KEY, WRONG_PASSWORD, TOO_COSTLY, "Klucz prywatny nie pasuje")
DAMAGED_PKCS12 = (UNREADABLE_PKCS12, "Hasło nie otwiera tego pliku", TOO_COSTLY)


@dataclass(frozen=True)
class Owner:
    nip: str


Build = Callable[[Owner], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    id: str
    build: Build
    expected: tuple[str, ...]


def _pair(certificate: bytes, key: bytes, *, name: str = "cert.crt") -> dict[str, Any]:
    return {
        "certificate": upload_file(name, certificate),
        "private_key": upload_file("klucz.key", key),
        "password": PASSWORD,
    }


def _certificate_with(owner: Owner, key: Any = None, **options: Any) -> dict[str, Any]:
    key = key or make_ec_key()
    certificate = make_certificate(key, nip=owner.nip, organization=True, **options)
    return _pair(pem(certificate), key_pem(key, PASSWORD))


def _raw_validity(owner: Owner, not_before: datetime, not_after: datetime) -> dict[str, Any]:
    """A certificate with any dates X.509 can carry (the test builder refuses none)."""
    key = make_ec_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Firma (uwierzytelnienie)"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Firma sp. z o.o."),
            x509.NameAttribute(x509.ObjectIdentifier("2.5.4.97"), f"VATPL-{owner.nip}"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return _pair(pem(certificate), key_pem(key, PASSWORD))


def _foreign_key_certificate(owner: Owner, key: Any) -> dict[str, Any]:
    """A certificate for a key KSeF does not accept, signed by an accepted key."""
    signer = make_ec_key()
    certificate = make_certificate(
        key, nip=owner.nip, organization=True, issuer_key=signer, issuer_name="Wystawca"
    )
    encoded = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSWORD.encode()),
    )
    return _pair(pem(certificate), encoded)


def _unknown_key_algorithm(owner: Owner) -> dict[str, Any]:
    """The EC public-key OID of the certificate replaced by one nobody defines."""
    key = make_ec_key()
    raw = der(make_certificate(key, nip=owner.nip, organization=True))
    ec_public_key = bytes.fromhex("06072a8648ce3d0201")
    assert raw.count(ec_public_key) == 1
    raw = raw.replace(ec_public_key, bytes.fromhex("06072a8648ce3d0209"))
    return _pair(raw, key_pem(key, PASSWORD), name="cert.cer")


def _truncated_der_certificate(owner: Owner, fraction: float) -> dict[str, Any]:
    key = make_ec_key()
    raw = der(make_certificate(key, nip=owner.nip, organization=True))
    return _pair(raw[: max(1, int(len(raw) * fraction))], key_pem(key, PASSWORD), name="c.cer")


def _truncated_pem_certificate(owner: Owner, fraction: float) -> dict[str, Any]:
    key = make_ec_key()
    text = pem(make_certificate(key, nip=owner.nip, organization=True))
    return _pair(text[: int(len(text) * fraction)], key_pem(key, PASSWORD), name="c.pem")


def _garbage_certificate(owner: Owner, seed: int) -> dict[str, Any]:
    noise = random.Random(seed).randbytes(200 + 97 * seed)
    if seed % 2:
        noise = b"\x30\x82" + noise  # looks like the start of DER
    return _pair(noise, key_pem(make_ec_key(), PASSWORD), name="c.cer")


def _utf16_certificate(owner: Owner) -> dict[str, Any]:
    key = make_ec_key()
    text = pem(make_certificate(key, nip=owner.nip, organization=True)).decode("ascii")
    return _pair(text.encode("utf-16"), key_pem(key, PASSWORD), name="c.pem")


def _nul_in_pem_certificate(owner: Owner, position: int) -> dict[str, Any]:
    key = make_ec_key()
    text = pem(make_certificate(key, nip=owner.nip, organization=True))
    return _pair(text[:position] + b"\x00" + text[position:], key_pem(key, PASSWORD))


def _key_variant(owner: Owner, mutate: Callable[[bytes], bytes], *, as_der: bool) -> dict[str, Any]:
    key = make_ec_key()
    certificate = pem(make_certificate(key, nip=owner.nip, organization=True))
    encoded = key_der(key, PASSWORD) if as_der else key_pem(key, PASSWORD)
    return _pair(certificate, mutate(encoded))


def _cut(length: int) -> Callable[[bytes], bytes]:
    return lambda data: data[:length]


def _flip(position: int) -> Callable[[bytes], bytes]:
    def mutate(data: bytes) -> bytes:
        index = position % len(data)
        return data[:index] + bytes([data[index] ^ 0x5A]) + data[index + 1 :]

    return mutate


# --- DER by hand: key files whose derivation cost is written in them ------------------


def _tlv(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big") + content


def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _int(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes((value.bit_length() + 8) // 8, "big"))


def _seq(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _encrypted_pkcs8(kdf: bytes) -> bytes:
    """EncryptedPrivateKeyInfo with PBES2, the given KDF and AES-256-CBC (ciphertext noise)."""
    aes = _seq(_oid("2.16.840.1.101.3.4.1.42"), _tlv(0x04, os.urandom(16)))
    pbes2 = _seq(_oid("1.2.840.113549.1.5.13"), _seq(kdf, aes))
    return _seq(pbes2, _tlv(0x04, os.urandom(160)))


def _pbkdf2(iterations: int) -> bytes:
    prf = _seq(_oid("1.2.840.113549.2.9"), b"\x05\x00")
    return _seq(_oid("1.2.840.113549.1.5.12"), _seq(_tlv(0x04, b"s" * 16), _int(iterations), prf))


def _scrypt(n: int, r: int, p: int) -> bytes:
    return _seq(
        _oid("1.3.6.1.4.1.11591.4.11"), _seq(_tlv(0x04, b"s" * 16), _int(n), _int(r), _int(p))
    )


def _costly_key(owner: Owner, kdf: bytes, *, as_pem: bool) -> dict[str, Any]:
    key = make_ec_key()
    certificate = pem(make_certificate(key, nip=owner.nip, organization=True))
    raw = _encrypted_pkcs8(kdf)
    if as_pem:
        body = __import__("base64").encodebytes(raw)
        raw = (
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
            + body
            + b"-----END ENCRYPTED PRIVATE KEY-----\n"
        )
    return _pair(certificate, raw)


def _pkcs12_file(owner: Owner, *, rounds: int = 65536, legacy: bool = False) -> bytes:
    key = make_ec_key()
    certificate = make_certificate(key, nip=owner.nip, organization=True)
    builder = serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(rounds)
    if legacy:
        builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
    else:
        builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
    encryption = builder.hmac_hash(hashes.SHA256()).build(PASSWORD.encode())
    return pkcs12.serialize_key_and_certificates(b"ksef", key, certificate, None, encryption)


def _costly_pkcs12(owner: Owner, *, legacy: bool) -> dict[str, Any]:
    """Written with 65,536 rounds, then every round count raised to 8,388,607 in place."""
    raw = _pkcs12_file(owner, legacy=legacy)
    assert raw.count(b"\x02\x03\x01\x00\x00") >= 2
    raw = raw.replace(b"\x02\x03\x01\x00\x00", b"\x02\x03\x7f\xff\xff")
    return {"pkcs12": upload_file("cert.p12", raw), "password": PASSWORD}


def _pkcs12_truncated(owner: Owner, fraction: float) -> dict[str, Any]:
    raw = _pkcs12_file(owner)
    return {"pkcs12": upload_file("c.p12", raw[: int(len(raw) * fraction)]), "password": PASSWORD}


def _pkcs12_garbage(owner: Owner, seed: int) -> dict[str, Any]:
    noise = b"\x30\x82\x04\x00\x02\x01\x03" + random.Random(seed).randbytes(1017)
    return {"pkcs12": upload_file("c.pfx", noise), "password": PASSWORD}


def _pkcs12_of(owner: Owner, key: Any, certificate: Any) -> dict[str, Any]:
    raw = pkcs12.serialize_key_and_certificates(
        b"ksef", key, certificate, None, serialization.BestAvailableEncryption(PASSWORD.encode())
    )
    return {"pkcs12": upload_file("c.p12", raw), "password": PASSWORD}


def _pkcs12_certificate_only(owner: Owner) -> dict[str, Any]:
    certificate = make_certificate(make_ec_key(), nip=owner.nip, organization=True)
    raw = pkcs12.serialize_key_and_certificates(
        b"ksef", None, certificate, None, serialization.BestAvailableEncryption(PASSWORD.encode())
    )
    return {"pkcs12": upload_file("c.p12", raw), "password": PASSWORD}


NOW = datetime.now(UTC)
FAR = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)

CASES: list[Case] = [
    # Key algorithms KSeF does not accept, in the certificate and in the key.
    Case("rsa_1024", lambda o: _certificate_with(o, make_rsa_key(1024)), (UNSUPPORTED,)),
    Case("ec_secp256k1", lambda o: _certificate_with(o, make_ec_key("secp256k1")), (UNSUPPORTED,)),
    Case(
        "ec_p521",
        lambda o: _foreign_key_certificate(o, ec.generate_private_key(ec.SECP521R1())),
        (UNSUPPORTED,),
    ),
    Case(
        "ed25519",
        lambda o: _foreign_key_certificate(o, ed25519.Ed25519PrivateKey.generate()),
        (UNSUPPORTED,),
    ),
    Case(
        "ed448",
        lambda o: _foreign_key_certificate(o, ed448.Ed448PrivateKey.generate()),
        (UNSUPPORTED,),
    ),
    Case(
        "dsa_2048",
        lambda o: _foreign_key_certificate(o, dsa.generate_private_key(2048)),
        (UNSUPPORTED,),
    ),
    Case("unknown_public_key_oid", _unknown_key_algorithm, (UNSUPPORTED,)),
    # Validity at the edges of what a certificate can carry.
    Case(
        "no_expiry_9999", lambda o: _raw_validity(o, NOW - timedelta(days=1), FAR), (OUT_OF_RANGE,)
    ),
    Case(
        "starts_in_9999",
        lambda o: _raw_validity(o, datetime(9999, 1, 1, tzinfo=UTC), FAR),
        (OUT_OF_RANGE,),
    ),
    Case(
        "from_1950",
        lambda o: _raw_validity(o, datetime(1950, 1, 1, tzinfo=UTC), NOW + timedelta(days=9)),
        (OUT_OF_RANGE,),
    ),
    Case(
        "ended_in_1951",
        lambda o: _raw_validity(
            o, datetime(1950, 1, 1, tzinfo=UTC), datetime(1951, 1, 1, tzinfo=UTC)
        ),
        (OUT_OF_RANGE,),
    ),
    Case(
        "forty_years",
        lambda o: _raw_validity(o, NOW - timedelta(days=1), NOW + timedelta(days=365 * 40)),
        (OUT_OF_RANGE,),
    ),
    # Truncated, damaged and foreign certificate files.
    *[
        Case(
            f"der_certificate_cut_at_{int(f * 100)}pct",
            partial(_truncated_der_certificate, fraction=f),
            (UNREADABLE_CERTIFICATE,),
        )
        for f in (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.97)
    ],
    *[
        Case(
            f"pem_certificate_cut_at_{int(f * 100)}pct",
            partial(_truncated_pem_certificate, fraction=f),
            (UNREADABLE_CERTIFICATE, "Plik certyfikatu jest pusty"),
        )
        for f in (0.02, 0.2, 0.4, 0.6, 0.8, 0.98)
    ],
    *[
        Case(
            f"garbage_certificate_{seed}",
            partial(_garbage_certificate, seed=seed),
            (UNREADABLE_CERTIFICATE,),
        )
        for seed in range(1, 9)
    ],
    Case("utf16_pem_certificate", _utf16_certificate, (UNREADABLE_CERTIFICATE,)),
    *[
        Case(
            f"pem_certificate_with_nul_at_{position}",
            partial(_nul_in_pem_certificate, position=position),
            (UNREADABLE_CERTIFICATE,),
        )
        for position in (40, 200)
    ],
    # Damaged private keys, PEM and DER.
    *[
        Case(
            f"pem_key_cut_at_{cut}",
            partial(_key_variant, mutate=_cut(cut), as_der=False),
            DAMAGED_KEY,
        )
        for cut in (30, 60, 100, 150, 200, 250)
    ],
    *[
        Case(
            f"der_key_cut_at_{cut}",
            partial(_key_variant, mutate=_cut(cut), as_der=True),
            DAMAGED_KEY,
        )
        for cut in (2, 8, 20, 40, 70, 120)
    ],
    *[
        Case(
            f"der_key_byte_{position}_flipped",
            partial(_key_variant, mutate=_flip(position), as_der=True),
            DAMAGED_KEY,
        )
        for position in (0, 1, 3, 6, 12, 20, 30, 45)
    ],
    # Key derivation costs written into the file.
    Case(
        "pkcs8_pbkdf2_just_above_the_bound",
        lambda o: _costly_key(o, _pbkdf2(MAX_KDF_ITERATIONS + 1), as_pem=True),
        (TOO_COSTLY,),
    ),
    Case(
        "pkcs8_pbkdf2_50_million",
        lambda o: _costly_key(o, _pbkdf2(50_000_000), as_pem=True),
        (TOO_COSTLY,),
    ),
    Case(
        "pkcs8_pbkdf2_int_max",
        lambda o: _costly_key(o, _pbkdf2(2**31 - 1), as_pem=True),
        (TOO_COSTLY,),
    ),
    Case(
        "pkcs8_pbkdf2_2_to_70",
        lambda o: _costly_key(o, _pbkdf2(2**70), as_pem=False),
        (TOO_COSTLY,),
    ),
    Case(
        "pkcs8_der_pbkdf2_int_max",
        lambda o: _costly_key(o, _pbkdf2(2**31 - 1), as_pem=False),
        (TOO_COSTLY,),
    ),
    Case(
        "pkcs8_scrypt_1_gib",
        lambda o: _costly_key(o, _scrypt(2**20, 8, 1), as_pem=True),
        (TOO_COSTLY,),
    ),
    Case(
        "pkcs8_scrypt_parallel",
        lambda o: _costly_key(o, _scrypt(2**14, 8, 2**16), as_pem=True),
        (TOO_COSTLY,),
    ),
    Case("pkcs12_aes_8_million_rounds", lambda o: _costly_pkcs12(o, legacy=False), (TOO_COSTLY,)),
    Case("pkcs12_3des_8_million_rounds", lambda o: _costly_pkcs12(o, legacy=True), (TOO_COSTLY,)),
    # Damaged and odd PKCS#12 files.
    *[
        Case(
            f"pkcs12_cut_at_{int(f * 100)}pct",
            partial(_pkcs12_truncated, fraction=f),
            DAMAGED_PKCS12,
        )
        for f in (0.05, 0.25, 0.5, 0.75, 0.95)
    ],
    *[
        Case(f"pkcs12_garbage_{seed}", partial(_pkcs12_garbage, seed=seed), DAMAGED_PKCS12)
        for seed in range(1, 4)
    ],
    Case("pkcs12_without_key", _pkcs12_certificate_only, (UNREADABLE_PKCS12,)),
    Case(
        "pkcs12_rsa_1024",
        lambda o: (lambda k: _pkcs12_of(o, k, make_certificate(k, nip=o.nip, organization=True)))(
            make_rsa_key(1024)
        ),
        (UNSUPPORTED,),
    ),
    Case(
        "pkcs12_no_expiry",
        lambda o: (
            lambda k: _pkcs12_of(
                o, k, make_certificate(k, nip=o.nip, organization=True, not_after=FAR)
            )
        )(make_ec_key()),
        (OUT_OF_RANGE,),
    ),
]

PATHS = ("staff", "link", "office")
RAW_TOKEN = "hostile-upload-link-token-0123456789abcdefghijkl"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():  # type: ignore[no-untyped-def]
    cache.clear()
    yield
    cache.clear()


def _post(
    path: str, case: Case, *, login, client, accountant, admin_member, client_company, office
):  # type: ignore[no-untyped-def]
    if path == "staff":
        data = case.build(Owner(client_company.nip))
        return login(accountant).post(
            reverse("certificates:upload", args=[client_company.pk, "authentication"]), data
        ), None
    if path == "office":
        data = case.build(Owner(office.nip))
        return login(admin_member).post(reverse("certificates:office_upload"), data), None
    link = upload_link_create(
        actor=accountant.user,
        client=client_company,
        kind="authentication",
        recipient_email="ksiegowosc@klient.example",
    )
    UploadLink.objects.filter(pk=link.pk).update(token_hash=upload_link_token_hash(RAW_TOKEN))
    data = case.build(Owner(client_company.nip))
    return client.post(reverse("certificates:self_upload", args=[RAW_TOKEN]), data), link


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_hostile_file_is_refused_with_its_message_and_leaves_no_trace(
    case, path, login, client, accountant, admin_member, client_company, office
):
    response, link = _post(
        path,
        case,
        login=login,
        client=client,
        accountant=accountant,
        admin_member=admin_member,
        client_company=client_company,
        office=office,
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert any(message in page for message in case.expected), page[
        page.find("errorlist") - 100 : page.find("errorlist") + 500
    ]
    assert Credential.objects.count() == 0
    assert CredentialSecret.objects.count() == 0
    assert not AuditEvent.objects.filter(action__startswith="credential.").exists()
    if link is not None:
        link.refresh_from_db()
        assert (link.failed_attempts, link.used_at) == (1, None)


def test_the_hostile_suite_has_at_least_two_hundred_distinct_cases():
    assert len({case.id for case in CASES}) == len(CASES)
    assert len(CASES) * len(PATHS) >= 200


def test_a_key_exactly_at_the_derivation_bound_is_tried_not_refused(
    login, accountant, client_company
):
    """The bound refuses only what is above it: at the bound the password is tried."""
    data = _costly_key(Owner(client_company.nip), _pbkdf2(MAX_KDF_ITERATIONS), as_pem=True)
    response = login(accountant).post(
        reverse("certificates:upload", args=[client_company.pk, "authentication"]), data
    )
    page = response.content.decode()
    assert TOO_COSTLY not in page
    assert WRONG_PASSWORD in page  # the ciphertext is noise


def test_an_unprotected_key_is_stored_with_an_explicit_warning(login, manager, client_company):
    key = make_ec_key()
    certificate = pem(make_certificate(key, nip=client_company.nip, organization=True))
    data = _pair(certificate, key_pem(key, None)) | {"password": ""}
    response = login(manager).post(
        reverse("certificates:upload", args=[client_company.pk, "authentication"]),
        data,
        follow=True,
    )
    assert "Klucz prywatny nie był chroniony hasłem" in response.content.decode()
    assert Credential.objects.filter(status="active").count() == 1
