"""Token and session-key encryption, AES-CBC, hashes and the Ministry public-key list."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ksef.crypto import (
    KSEF_TOKEN_ENCRYPTION,
    SYMMETRIC_KEY_ENCRYPTION,
    CryptoError,
    NoUsablePublicKeyError,
    PublicKeyCertificate,
    aes_decrypt,
    aes_encrypt,
    encrypt_ksef_token,
    encrypt_symmetric_key,
    generate_symmetric_key,
    public_key_id,
    select_public_key_certificate,
    sha256_b64,
)
from tests.ksef.keys import der, make_certificate, make_ec_key, make_ministry_key_json

OAEP_SHA256 = OAEP(mgf=MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)

# NIST SP 800-38A, F.2.5 CBC-AES256.Encrypt, first block.
NIST_KEY = bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
NIST_IV = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
NIST_PLAINTEXT = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
NIST_CIPHERTEXT = bytes.fromhex("f58c4c04d6e5f1ba779eabfb5f7bfbd6")


@pytest.fixture(scope="module")
def ministry() -> tuple[rsa.RSAPrivateKey, PublicKeyCertificate]:
    key, data = make_ministry_key_json(usage=[KSEF_TOKEN_ENCRYPTION, SYMMETRIC_KEY_ENCRYPTION])
    return key, PublicKeyCertificate.from_json(data)


def test_it_encrypts_token_and_millisecond_timestamp_for_the_ministry_key(
    ministry: tuple[rsa.RSAPrivateKey, PublicKeyCertificate],
) -> None:
    key, certificate = ministry
    encrypted = encrypt_ksef_token(
        "20251010-EC-ABCDEF|nip-5265877635|secret", 1761218198284, certificate.certificate_der
    )
    plaintext = key.decrypt(base64.b64decode(encrypted, validate=True), OAEP_SHA256)
    assert plaintext == b"20251010-EC-ABCDEF|nip-5265877635|secret|1761218198284"


def test_it_uses_sha256_for_mgf1_too(
    ministry: tuple[rsa.RSAPrivateKey, PublicKeyCertificate],
) -> None:
    key, certificate = ministry
    encrypted = base64.b64decode(encrypt_ksef_token("token", 1, certificate.certificate_der))
    mgf1_sha1 = OAEP(mgf=MGF1(hashes.SHA1()), algorithm=hashes.SHA256(), label=None)
    with pytest.raises(ValueError):
        key.decrypt(encrypted, mgf1_sha1)


def test_it_produces_standard_base64_that_differs_on_every_call(
    ministry: tuple[rsa.RSAPrivateKey, PublicKeyCertificate],
) -> None:
    _, certificate = ministry
    first = encrypt_ksef_token("token", 1, certificate.certificate_der)
    second = encrypt_ksef_token("token", 1, certificate.certificate_der)
    assert first != second
    assert len(base64.b64decode(first, validate=True)) == 256
    assert "-" not in first and "_" not in first


@pytest.mark.parametrize("timestamp", [True, -1, 1761218198.284, "1761218198284"])
def test_it_rejects_a_timestamp_that_is_not_integer_milliseconds(
    ministry: tuple[rsa.RSAPrivateKey, PublicKeyCertificate], timestamp: Any
) -> None:
    _, certificate = ministry
    with pytest.raises(ValueError) as error:
        encrypt_ksef_token("very-secret-token", timestamp, certificate.certificate_der)
    assert "very-secret-token" not in str(error.value)


def test_it_refuses_a_public_key_certificate_without_an_rsa_key() -> None:
    ec_key = make_ec_key()
    with pytest.raises(CryptoError):
        encrypt_ksef_token("token", 1, der(make_certificate(ec_key)))
    with pytest.raises(CryptoError):
        encrypt_symmetric_key(bytes(32), b"not a certificate")


def test_it_encrypts_the_session_key_so_the_ministry_can_recover_it(
    ministry: tuple[rsa.RSAPrivateKey, PublicKeyCertificate],
) -> None:
    key, certificate = ministry
    session_key, iv = generate_symmetric_key()
    encrypted = encrypt_symmetric_key(session_key, certificate.certificate_der)
    assert key.decrypt(base64.b64decode(encrypted), OAEP_SHA256) == session_key
    assert len(session_key) == 32 and len(iv) == 16


def test_it_refuses_a_session_key_that_is_not_aes_256(
    ministry: tuple[rsa.RSAPrivateKey, PublicKeyCertificate],
) -> None:
    _, certificate = ministry
    with pytest.raises(ValueError):
        encrypt_symmetric_key(bytes(16), certificate.certificate_der)


def test_it_generates_a_new_key_and_iv_every_time() -> None:
    assert generate_symmetric_key() != generate_symmetric_key()


def test_it_matches_the_nist_aes_256_cbc_vector_without_prefixing_the_iv() -> None:
    ciphertext = aes_encrypt(NIST_PLAINTEXT, NIST_KEY, NIST_IV)
    # One block of data plus one full block of PKCS#7 padding; no IV in front.
    assert len(ciphertext) == 32
    assert ciphertext[:16] == NIST_CIPHERTEXT


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 1000])
def test_it_pads_with_pkcs7_and_decrypts_back(size: int) -> None:
    key, iv = generate_symmetric_key()
    data = bytes(range(256)) * 4
    data = data[:size]
    ciphertext = aes_encrypt(data, key, iv)
    assert len(ciphertext) == (size // 16 + 1) * 16
    raw = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor().update(ciphertext)
    pad = 16 - size % 16
    assert raw == data + bytes([pad]) * pad
    assert aes_decrypt(ciphertext, key, iv) == data


def test_it_reports_a_wrong_key_as_a_crypto_error() -> None:
    ciphertext = aes_encrypt(b"<Faktura/>", NIST_KEY, NIST_IV)
    with pytest.raises(CryptoError):
        aes_decrypt(ciphertext, bytes(32), NIST_IV)


@pytest.mark.parametrize("ciphertext", [b"", b"x" * 15, b"x" * 17])
def test_it_rejects_ciphertext_that_is_not_whole_blocks(ciphertext: bytes) -> None:
    with pytest.raises(CryptoError):
        aes_decrypt(ciphertext, NIST_KEY, NIST_IV)


@pytest.mark.parametrize(("key", "iv"), [(bytes(16), bytes(16)), (bytes(32), bytes(8))])
def test_it_rejects_keys_and_ivs_of_the_wrong_size(key: bytes, iv: bytes) -> None:
    with pytest.raises(ValueError):
        aes_encrypt(b"data", key, iv)


def test_it_hashes_like_the_official_invoice_hash(ksef_data: Path) -> None:
    vectors = json.loads((ksef_data / "samples/test-vectors/ksef-test-vectors.json").read_text())
    derived = vectors["qrKodI"]["derived_example"]
    invoice = (ksef_data / derived["file"]).read_bytes()
    assert len(invoice) == derived["fileSizeBytes"]
    assert sha256_b64(invoice) == derived["sha256Base64"]
    assert sha256_b64(b"") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


def test_it_parses_the_contract_public_key_certificate_with_seven_fraction_digits() -> None:
    key, data = make_ministry_key_json(usage=[SYMMETRIC_KEY_ENCRYPTION])
    data["validFrom"] = "2024-07-11T12:23:56.0154302+00:00"
    data["validTo"] = "2028-07-11T14:23:56.0154302+02:00"
    data["somethingAddedInApi27"] = {"ignored": True}
    parsed = PublicKeyCertificate.from_json(data)
    assert parsed.valid_from == datetime(2024, 7, 11, 12, 23, 56, 15430, tzinfo=UTC)
    assert parsed.valid_to == datetime(2028, 7, 11, 12, 23, 56, 15430, tzinfo=UTC)
    assert parsed.usage == frozenset({SYMMETRIC_KEY_ENCRYPTION})
    assert parsed.public_key_id == data["publicKeyId"]
    assert base64.b64encode(hashlib.sha256(parsed.certificate_der).digest()).decode() == (
        parsed.certificate_id
    )
    assert public_key_id(parsed.certificate_der) == data["publicKeyId"]
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public_key_id(parsed.certificate_der) == sha256_b64(spki)
    assert len(parsed.public_key_id) == 44


def test_it_keeps_the_certificate_bytes_out_of_the_repr() -> None:
    _, data = make_ministry_key_json()
    parsed = PublicKeyCertificate.from_json(data)
    assert data["certificate"][:20] not in repr(parsed)
    assert "certificate_der" not in repr(parsed)


@pytest.mark.parametrize(
    "change",
    [
        {"certificate": None},
        {"usage": "KsefTokenEncryption"},
        {"validFrom": "2024-07-11T12:23:56"},
        {"validTo": "yesterday"},
        {"certificate": "not base64!"},
    ],
)
def test_it_rejects_a_malformed_public_key_certificate(change: dict[str, object]) -> None:
    _, data = make_ministry_key_json()
    data.update(change)
    with pytest.raises(ValueError):
        PublicKeyCertificate.from_json(data)


def test_it_names_the_missing_field_of_a_public_key_certificate() -> None:
    _, data = make_ministry_key_json()
    del data["publicKeyId"]
    with pytest.raises(ValueError, match="publicKeyId"):
        PublicKeyCertificate.from_json(data)


def _entry(usage: str, start_days: int, end_days: int, now: datetime) -> PublicKeyCertificate:
    _, data = make_ministry_key_json(
        usage=[usage],
        valid_from=now + timedelta(days=start_days),
        valid_to=now + timedelta(days=end_days),
    )
    return PublicKeyCertificate.from_json(data)


def test_it_selects_the_valid_certificate_with_the_latest_valid_from() -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    older = _entry(KSEF_TOKEN_ENCRYPTION, -300, 300, now)
    newer = _entry(KSEF_TOKEN_ENCRYPTION, -10, 300, now)
    future = _entry(KSEF_TOKEN_ENCRYPTION, 5, 300, now)
    expired = _entry(KSEF_TOKEN_ENCRYPTION, -300, -1, now)
    other_usage = _entry(SYMMETRIC_KEY_ENCRYPTION, -1, 300, now)
    chosen = select_public_key_certificate(
        [older, future, expired, newer, other_usage], KSEF_TOKEN_ENCRYPTION, now
    )
    assert chosen is newer
    assert (
        select_public_key_certificate([older, other_usage], SYMMETRIC_KEY_ENCRYPTION, now)
        is other_usage
    )


def test_it_explains_when_no_certificate_is_usable() -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    expired = _entry(KSEF_TOKEN_ENCRYPTION, -300, -1, now)
    with pytest.raises(NoUsablePublicKeyError, match="KsefTokenEncryption"):
        select_public_key_certificate([expired], KSEF_TOKEN_ENCRYPTION, now)
    with pytest.raises(NoUsablePublicKeyError):
        select_public_key_certificate([], SYMMETRIC_KEY_ENCRYPTION, now)


def test_it_rejects_an_unknown_usage_and_a_naive_now() -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    entry = _entry(KSEF_TOKEN_ENCRYPTION, -1, 1, now)
    with pytest.raises(ValueError):
        select_public_key_certificate([entry], "Signing", now)
    with pytest.raises(ValueError):
        select_public_key_certificate([entry], KSEF_TOKEN_ENCRYPTION, datetime(2026, 6, 1))
