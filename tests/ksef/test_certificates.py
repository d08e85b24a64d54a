"""Loading keys and certificates, describing KSeF certificates, and building CSRs."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from ksef.certificates import (
    CertificateEnvironment,
    CertificateError,
    KeyMismatchError,
    KsefCertificateKind,
    OwnerIdentifierType,
    PasswordRequiredError,
    PrivateKey,
    UnreadableFileError,
    UnsupportedKeyTypeError,
    WrongPasswordError,
    build_csr,
    check_key_matches_certificate,
    csr_to_base64_der,
    describe_certificate,
    export_private_key,
    generate_private_key,
    load_certificate,
    load_pkcs12,
    load_private_key,
    parse_owner_identifier,
)
from tests.contract import contract as official_contract
from tests.ksef.keys import (
    der,
    key_der,
    key_pem,
    make_ca,
    make_certificate,
    make_ec_key,
    make_pkcs12,
    make_rsa_key,
    pem,
)

PASSWORD = "Tajne-hasło-123"
ORGANIZATION_IDENTIFIER = x509.ObjectIdentifier("2.5.4.97")


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return make_ec_key()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return make_rsa_key()


@pytest.fixture(scope="module")
def certificate(ec_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    return make_certificate(ec_key, nip="5265877635")


# --- certificates ------------------------------------------------------------------------


def test_it_loads_a_certificate_from_pem_der_and_bare_base64(
    certificate: x509.Certificate,
) -> None:
    bare = base64.b64encode(der(certificate))
    for data in (pem(certificate), der(certificate), bare, bare + b"\n"):
        assert load_certificate(data) == certificate


def test_it_ignores_text_around_a_pem_certificate(certificate: x509.Certificate) -> None:
    data = b"Bag Attributes\n    friendlyName: ksef\n" + pem(certificate) + b"\ntrailing junk\x00"
    assert load_certificate(data) == certificate


def test_it_rejects_a_file_with_several_certificates(certificate: x509.Certificate) -> None:
    _, ca = make_ca()
    with pytest.raises(UnreadableFileError, match="2 certificates"):
        load_certificate(pem(ca) + pem(certificate))


def test_it_rejects_trailing_bytes_after_a_der_certificate(certificate: x509.Certificate) -> None:
    with pytest.raises(UnreadableFileError):
        load_certificate(der(certificate) + b"junk")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello world",
        b"\x30\x03\x01\x02\x03",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ],
)
def test_it_reports_unreadable_certificate_files(data: bytes) -> None:
    with pytest.raises(UnreadableFileError):
        load_certificate(data)


def test_it_says_so_when_a_key_is_given_instead_of_a_certificate(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    with pytest.raises(UnreadableFileError, match="no certificate"):
        load_certificate(key_pem(ec_key))


# --- private keys ------------------------------------------------------------------------


def _same_key(a: object, b: object) -> bool:
    def spki(key: object) -> bytes:
        return key.public_key().public_bytes(  # type: ignore[attr-defined,no-any-return]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    return spki(a) == spki(b)


@pytest.mark.parametrize("make_key", [make_ec_key, make_rsa_key])
def test_it_loads_an_encrypted_pkcs8_pem_key_with_its_password(
    make_key: Callable[[], PrivateKey],
) -> None:
    key = make_key()
    data = key_pem(key, PASSWORD)
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert _same_key(load_private_key(data, PASSWORD), key)


def test_it_loads_unencrypted_pem_and_der_and_encrypted_der(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    assert _same_key(load_private_key(key_pem(ec_key)), ec_key)
    assert _same_key(load_private_key(key_der(ec_key)), ec_key)
    assert _same_key(load_private_key(key_der(ec_key, PASSWORD), PASSWORD), ec_key)


def test_it_loads_a_traditional_openssl_key_among_other_pem_blocks(
    rsa_key: rsa.RSAPrivateKey, certificate: x509.Certificate
) -> None:
    traditional = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(PASSWORD.encode()),
    )
    assert _same_key(load_private_key(pem(certificate) + traditional, PASSWORD), rsa_key)


def test_it_ignores_a_password_given_for_an_unencrypted_key(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    assert _same_key(load_private_key(key_pem(ec_key), "typed anyway"), ec_key)


@pytest.mark.parametrize("encoding", [key_pem, key_der])
def test_it_tells_a_wrong_password_from_a_missing_one(
    ec_key: ec.EllipticCurvePrivateKey, encoding: Callable[..., bytes]
) -> None:
    data = encoding(ec_key, PASSWORD)
    with pytest.raises(WrongPasswordError) as wrong:
        load_private_key(data, "Zle-haslo-456")
    with pytest.raises(PasswordRequiredError):
        load_private_key(data, None)
    with pytest.raises(PasswordRequiredError):
        load_private_key(data, "")
    assert "Zle-haslo-456" not in str(wrong.value)
    assert PASSWORD not in repr(wrong.value)


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", b"\x30\x03abc", b"-----BEGIN PUBLIC KEY-----\nAA\n-----END PUBLIC KEY-----"],
)
def test_it_reports_unreadable_key_files(data: bytes) -> None:
    with pytest.raises(UnreadableFileError):
        load_private_key(data, PASSWORD)


@pytest.mark.parametrize(
    "key_factory",
    [
        lambda: make_rsa_key(1024),
        lambda: make_ec_key("P-192"),
        lambda: make_ec_key("secp256k1"),
        ed25519.Ed25519PrivateKey.generate,
    ],
    ids=["rsa-1024", "p-192", "secp256k1", "ed25519"],
)
def test_it_rejects_keys_ksef_does_not_support(key_factory: Callable[[], Any]) -> None:
    key = key_factory()
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(UnsupportedKeyTypeError):
        load_private_key(data)


def test_it_accepts_an_ec_p384_key() -> None:
    key = make_ec_key("P-384")
    assert _same_key(load_private_key(key_pem(key)), key)


def test_every_error_is_a_certificate_error() -> None:
    for error in (
        UnreadableFileError,
        WrongPasswordError,
        PasswordRequiredError,
        KeyMismatchError,
        UnsupportedKeyTypeError,
    ):
        assert issubclass(error, CertificateError)


def test_it_rejects_a_key_that_does_not_match_the_certificate(
    certificate: x509.Certificate,
) -> None:
    with pytest.raises(KeyMismatchError):
        check_key_matches_certificate(make_ec_key(), certificate)


def test_it_accepts_the_key_that_matches_the_certificate(
    ec_key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate
) -> None:
    check_key_matches_certificate(ec_key, certificate)


# --- PKCS#12 -----------------------------------------------------------------------------


def test_it_opens_a_pkcs12_file_with_its_chain(rsa_key: rsa.RSAPrivateKey) -> None:
    ca_key, ca = make_ca()
    leaf = make_certificate(rsa_key, pesel="30112206276", issuer_key=ca_key)
    key, certificate, extra = load_pkcs12(make_pkcs12(rsa_key, leaf, PASSWORD, [ca]), PASSWORD)
    assert _same_key(key, rsa_key)
    assert certificate == leaf
    assert extra == [ca]


def test_it_opens_an_unencrypted_pkcs12_file_even_when_a_password_is_typed(
    ec_key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate
) -> None:
    data = make_pkcs12(ec_key, certificate)
    assert load_pkcs12(data, None)[1] == certificate
    assert load_pkcs12(data, "typed anyway")[1] == certificate


def test_it_tells_pkcs12_password_problems_from_unreadable_files(
    ec_key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate
) -> None:
    data = make_pkcs12(ec_key, certificate, PASSWORD)
    with pytest.raises(WrongPasswordError):
        load_pkcs12(data, "wrong")
    with pytest.raises(PasswordRequiredError):
        load_pkcs12(data, None)
    with pytest.raises(UnreadableFileError):
        load_pkcs12(b"definitely not a pfx", PASSWORD)
    with pytest.raises(UnreadableFileError):
        load_pkcs12(data[:-10], PASSWORD)


def test_it_rejects_a_pkcs12_file_without_a_key_or_a_certificate(
    ec_key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate
) -> None:
    from cryptography.hazmat.primitives.serialization import pkcs12

    only_chain = pkcs12.serialize_key_and_certificates(
        b"x", None, None, [certificate], serialization.BestAvailableEncryption(PASSWORD.encode())
    )
    with pytest.raises(UnreadableFileError, match="no private key"):
        load_pkcs12(only_chain, PASSWORD)
    only_key = pkcs12.serialize_key_and_certificates(
        b"x", ec_key, None, None, serialization.BestAvailableEncryption(PASSWORD.encode())
    )
    with pytest.raises(UnreadableFileError, match="no certificate"):
        load_pkcs12(only_key, PASSWORD)


# --- describing --------------------------------------------------------------------------


def test_it_describes_a_self_signed_authentication_certificate_of_a_person(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    not_before = datetime(2026, 1, 1, 8, tzinfo=UTC)
    certificate = make_certificate(
        ec_key,
        nip="5265877635",
        serial_number=0x01F20A5D352AE590,
        not_before=not_before,
        not_after=not_before + timedelta(days=730),
    )
    info = describe_certificate(certificate)
    assert info.kind is KsefCertificateKind.AUTHENTICATION
    assert info.owner_identifier_type is OwnerIdentifierType.NIP
    assert info.nip == "5265877635" and info.pesel is None
    assert info.is_personal
    assert info.serial_hex == "01F20A5D352AE590"
    assert info.sha256_fingerprint == hashlib.sha256(der(certificate)).hexdigest().upper()
    assert info.valid_from == not_before and info.valid_from.tzinfo is not None
    assert info.valid_to == not_before + timedelta(days=730)
    assert info.is_self_signed and not info.is_ksef_issued
    assert info.environment is CertificateEnvironment.TEST
    assert "serialNumber=TINPL-5265877635" in info.subject
    assert info.common_name == "Jan Kowalski (uwierzytelnienie)"
    assert info.key_description == "EC P-256"


@pytest.mark.parametrize(
    ("kwargs", "identifier_type", "identifier", "personal"),
    [
        ({"pesel": "30112206276"}, OwnerIdentifierType.PESEL, "30112206276", True),
        (
            {"nip": "5265877635", "serial_prefix": "NIP"},
            OwnerIdentifierType.NIP,
            "5265877635",
            True,
        ),
        ({"nip": "7980332920", "organization": True}, OwnerIdentifierType.NIP, "7980332920", False),
    ],
)
def test_it_reads_the_owner_identity_like_ksef(
    ec_key: ec.EllipticCurvePrivateKey,
    kwargs: dict[str, Any],
    identifier_type: OwnerIdentifierType,
    identifier: str,
    personal: bool,
) -> None:
    info = describe_certificate(make_certificate(ec_key, **kwargs))
    assert info.owner_identifier_type is identifier_type
    assert info.owner_identifier == identifier
    assert info.is_personal is personal


def test_it_reads_a_pesel_written_with_the_older_prefix(ec_key: ec.EllipticCurvePrivateKey) -> None:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Anna Nowak"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "PESEL-38092277125"),
        ]
    )
    certificate = make_certificate(ec_key, kind=None)
    rebuilt = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(ec_key.public_key())
        .serial_number(5)
        .not_valid_before(certificate.not_valid_before_utc)
        .not_valid_after(certificate.not_valid_after_utc)
        .sign(ec_key, hashes.SHA256())
    )
    info = describe_certificate(rebuilt)
    assert info.pesel == "38092277125"
    assert info.is_personal
    assert info.serial_hex == "0000000000000005"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("VATPL-5265877635", (OwnerIdentifierType.NIP, "5265877635")),
        ("TINPL-5265877635", (OwnerIdentifierType.NIP, "5265877635")),
        ("NIP-5265877635", (OwnerIdentifierType.NIP, "5265877635")),
        ("PNOPL-38092277125", (OwnerIdentifierType.PESEL, "38092277125")),
        ("PESEL-38092277125", (OwnerIdentifierType.PESEL, "38092277125")),
        (" VATPL-5265877635 ", (OwnerIdentifierType.NIP, "5265877635")),
    ],
)
def test_it_reads_an_identifier_written_as_a_prefix_and_exactly_its_digits(
    value: str, expected: tuple[OwnerIdentifierType, str]
) -> None:
    assert parse_owner_identifier(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "NIP-38092277125",  # a PESEL under a NIP prefix is neither
        "TINPL-38092277125",
        "PNOPL-5265877635",  # ten digits are no PESEL
        "VATPL-52658776351",
        "VATPL-5265877635-01",
        "XVATPL-5265877635",
        "VATPL5265877635",
        "vatpl-5265877635",
        "NIP: 5265877635",
        "NIP klienta 5265877635",
        "VATPL-\uff15\uff12\uff16\uff15\uff18\uff17\uff17\uff16\uff13\uff15",
        "VATPL-\u0665\u0662\u0666\u0665\u0668\u0667\u0667\u0666\u0663\u0665",
        "",
    ],
)
def test_it_reads_nothing_from_digits_that_are_not_exactly_an_identifier(value: str) -> None:
    assert parse_owner_identifier(value) is None


def test_it_falls_back_to_the_fingerprint_for_a_certificate_without_nip_or_pesel(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    certificate = make_certificate(ec_key, organization=True)
    info = describe_certificate(certificate)
    assert info.owner_identifier_type is OwnerIdentifierType.FINGERPRINT
    assert info.owner_identifier == info.sha256_fingerprint
    assert len(info.owner_identifier) == 64


def test_it_recognises_an_offline_certificate(ec_key: ec.EllipticCurvePrivateKey) -> None:
    info = describe_certificate(make_certificate(ec_key, nip="5265877635", kind="Offline"))
    assert info.kind is KsefCertificateKind.OFFLINE


def test_it_reads_the_type_from_key_usage_when_the_name_has_no_suffix(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    ca_key, _ = make_ca("CCK KSeF")
    authentication = make_certificate(ec_key, nip="5265877635", cn_suffix=False)
    offline_from_ksef = make_certificate(
        ec_key,
        nip="5265877635",
        kind="Offline",
        cn_suffix=False,
        issuer_key=ca_key,
        issuer_name="CCK KSeF",
    )
    assert describe_certificate(authentication).kind is KsefCertificateKind.AUTHENTICATION
    assert describe_certificate(offline_from_ksef).kind is KsefCertificateKind.OFFLINE


def test_it_does_not_take_a_qualified_signature_certificate_for_an_offline_one(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    ca_key, _ = make_ca("Certum QCA 2017")
    qualified = make_certificate(
        ec_key,
        pesel="30112206276",
        kind="Offline",
        cn_suffix=False,
        issuer_key=ca_key,
        issuer_name="Certum QCA 2017",
    )
    info = describe_certificate(qualified)
    assert info.kind is KsefCertificateKind.UNKNOWN
    assert info.environment is CertificateEnvironment.UNKNOWN


def test_it_distrusts_a_name_suffix_that_contradicts_the_key_usage(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    contradictory = make_certificate(
        ec_key,
        nip="5265877635",
        kind="Offline",
        common_name="Jan (uwierzytelnienie)",
        cn_suffix=False,
    )
    assert describe_certificate(contradictory).kind is KsefCertificateKind.UNKNOWN


@pytest.mark.parametrize(
    ("issuer", "environment"),
    [
        ("TEST CCK KSeF", CertificateEnvironment.TEST_OR_DEMO),
        ("CCK KSeF", CertificateEnvironment.PRODUCTION),
        ("Some Qualified CA", CertificateEnvironment.UNKNOWN),
    ],
)
def test_it_guesses_the_environment_from_the_issuer(
    ec_key: ec.EllipticCurvePrivateKey, issuer: str, environment: CertificateEnvironment
) -> None:
    ca_key, _ = make_ca(issuer)
    certificate = make_certificate(ec_key, nip="5265877635", issuer_key=ca_key, issuer_name=issuer)
    info = describe_certificate(certificate)
    assert info.environment is environment
    assert info.is_ksef_issued is (issuer != "Some Qualified CA")
    assert not info.is_self_signed
    assert f"CN={issuer}" in info.issuer


def test_it_does_not_call_a_certificate_self_signed_when_another_key_signed_its_name(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    impostor = make_certificate(ec_key, nip="5265877635")
    same_name = make_certificate(
        make_ec_key(), nip="5265877635", issuer_key=ec_key, issuer_name=impostor.subject
    )
    assert same_name.issuer == same_name.subject
    assert not describe_certificate(same_name).is_self_signed


def test_it_describes_an_rsa_key_and_a_long_serial(rsa_key: rsa.RSAPrivateKey) -> None:
    serial = 0x00ABCDEF0123456789ABCDEF0123456789ABCDEF
    info = describe_certificate(make_certificate(rsa_key, serial_number=serial))
    assert info.key_description == "RSA 2048"
    assert info.serial_hex == "ABCDEF0123456789ABCDEF0123456789ABCDEF"


# --- requesting a certificate ------------------------------------------------------------


def test_it_generates_ec_p256_by_default_and_rsa_2048_on_request() -> None:
    ec_default = generate_private_key()
    assert isinstance(ec_default, ec.EllipticCurvePrivateKey)
    assert ec_default.curve.name == "secp256r1"
    rsa_key = generate_private_key("rsa")
    assert isinstance(rsa_key, rsa.RSAPrivateKey) and rsa_key.key_size == 2048
    with pytest.raises(ValueError):
        generate_private_key("dsa")  # type: ignore[arg-type]


ENROLLMENT_PERSON = {
    "commonName": "Jan Kowalski",
    "countryName": "PL",
    "givenName": "Jan",
    "surname": "Kowalski",
    "serialNumber": "TINPL-5265877635",
    "uniqueIdentifier": None,
    "organizationName": None,
    "organizationIdentifier": None,
}


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_it_builds_a_csr_whose_subject_copies_the_enrollment_data_exactly(kind: str) -> None:
    key = generate_private_key(kind)  # type: ignore[arg-type]
    csr = x509.load_pem_x509_csr(build_csr(key, ENROLLMENT_PERSON))
    assert csr.is_signature_valid
    assert [(a.oid, a.value) for a in csr.subject] == [
        (NameOID.COMMON_NAME, "Jan Kowalski"),
        (NameOID.COUNTRY_NAME, "PL"),
        (NameOID.GIVEN_NAME, "Jan"),
        (NameOID.SURNAME, "Kowalski"),
        (NameOID.SERIAL_NUMBER, "TINPL-5265877635"),
    ]
    assert _same_key(csr, key)
    assert isinstance(csr.signature_hash_algorithm, hashes.SHA256)


def test_it_reproduces_the_subject_of_the_contracts_example_csr() -> None:
    contract = official_contract()
    data_example = contract["paths"]["/certificates/enrollments/data"]["get"]["responses"]["200"][
        "content"
    ]["application/json"]["example"]
    enrol = contract["paths"]["/certificates/enrollments"]["post"]["requestBody"]["content"][
        "application/json"
    ]["example"]
    official = x509.load_der_x509_csr(base64.b64decode(enrol["csr"])).subject
    ours = x509.load_pem_x509_csr(build_csr(generate_private_key(), data_example)).subject

    def attributes(name: x509.Name) -> set[tuple[str, object, _ASN1Type]]:
        return {(a.oid.dotted_string, a.value, a._type) for a in name}

    assert attributes(ours) == attributes(official)


def test_it_puts_the_organisation_fields_under_their_oids() -> None:
    data = {
        "commonName": "Biuro Rachunkowe Sp. z o.o.",
        "countryName": "PL",
        "organizationName": "Biuro Rachunkowe Sp. z o.o.",
        "organizationIdentifier": "VATPL-5265877635",
        "uniqueIdentifier": "d9d22724-4696-460c-9e5e-b9e3aafb0af3",
    }
    csr = x509.load_pem_x509_csr(build_csr(generate_private_key(), data))
    by_oid = {a.oid: a.value for a in csr.subject}
    assert by_oid[ORGANIZATION_IDENTIFIER] == "VATPL-5265877635"
    assert by_oid[NameOID.ORGANIZATION_NAME] == "Biuro Rachunkowe Sp. z o.o."
    assert by_oid[NameOID.X500_UNIQUE_IDENTIFIER] == "d9d22724-4696-460c-9e5e-b9e3aafb0af3"


def test_it_refuses_enrollment_data_it_cannot_copy_faithfully() -> None:
    key = generate_private_key()
    with pytest.raises(ValueError, match="localityName"):
        build_csr(key, {**ENROLLMENT_PERSON, "localityName": "Warszawa"})
    with pytest.raises(ValueError, match="commonName"):
        build_csr(key, {"countryName": "PL"})
    with pytest.raises(UnsupportedKeyTypeError):
        build_csr(make_rsa_key(1024), ENROLLMENT_PERSON)


def test_it_encodes_the_csr_as_the_enrollment_request_wants_it() -> None:
    csr_pem = build_csr(generate_private_key(), ENROLLMENT_PERSON)
    decoded = x509.load_der_x509_csr(base64.b64decode(csr_to_base64_der(csr_pem)))
    assert decoded == x509.load_pem_x509_csr(csr_pem)


def test_it_exports_the_key_as_encrypted_pkcs8_that_loads_back() -> None:
    key = generate_private_key()
    exported = export_private_key(key, PASSWORD)
    assert exported.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert _same_key(load_private_key(exported, PASSWORD), key)
    with pytest.raises(WrongPasswordError):
        load_private_key(exported, "wrong")
    with pytest.raises(ValueError):
        export_private_key(key, "")


def test_a_csr_signature_verifies_with_the_rsa_public_key() -> None:
    key = generate_private_key("rsa")
    assert isinstance(key, rsa.RSAPrivateKey)
    csr = x509.load_pem_x509_csr(build_csr(key, ENROLLMENT_PERSON))
    key.public_key().verify(
        csr.signature, csr.tbs_certrequest_bytes, padding.PKCS1v15(), hashes.SHA256()
    )
