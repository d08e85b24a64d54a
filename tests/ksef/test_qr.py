"""KOD I / KOD II links (official examples byte-exact), signatures, images, environments."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import zlib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import segno
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree

from ksef.certificates import KeyMismatchError, PrivateKey
from ksef.environments import DEMO, PRODUCTION, TEST, Environment
from ksef.qr import (
    LABEL_CERTIFICATE,
    LABEL_OFFLINE,
    AuthenticationCertificateNotAllowedError,
    OfflineCertificateRequiredError,
    QrError,
    certificate_verification_signed_string,
    certificate_verification_url,
    invoice_hash_b64url,
    invoice_verification_url,
    invoice_verification_url_for_hash,
    render_png,
    render_svg,
)
from tests.ksef.keys import make_certificate, make_ec_key, make_rsa_key


@pytest.fixture(scope="module")
def vectors(ksef_data: Path) -> dict[str, Any]:
    path = ksef_data / "samples/test-vectors/ksef-test-vectors.json"
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def invoice(ksef_data: Path) -> bytes:
    return (ksef_data / "samples/invoices/fa3-complete-example.xml").read_bytes()


def _b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


# --- environments -----------------------------------------------------------------------


def test_the_ministry_environments_use_the_hosts_from_the_digest(vectors: dict[str, Any]) -> None:
    hosts = vectors["qrKodI"]["qrBase"]
    assert (TEST.qr_base_url, DEMO.qr_base_url, PRODUCTION.qr_base_url) == (
        hosts["TEST"],
        hosts["DEMO"],
        hosts["PRD"],
    )
    assert TEST.api_base_url == "https://api-test.ksef.mf.gov.pl/v2"
    assert DEMO.api_base_url == "https://api-demo.ksef.mf.gov.pl/v2"
    assert PRODUCTION.api_base_url == "https://api.ksef.mf.gov.pl/v2"
    assert PRODUCTION.is_production and not TEST.is_production
    assert Environment.by_name("PRD") is PRODUCTION
    assert Environment.by_name("demo") is DEMO


def test_a_custom_environment_takes_any_base_url_and_its_own_qr_host() -> None:
    local = Environment.custom("http://127.0.0.1:8765/v2/", qr_base_url="http://127.0.0.1:8765")
    assert local.api_base_url == "http://127.0.0.1:8765/v2"
    assert local.qr_host == "127.0.0.1:8765"
    assert not local.is_production


@pytest.mark.parametrize("url", ["ftp://x/v2", "api.ksef.mf.gov.pl/v2", "https://x/v2?a=1"])
def test_a_custom_environment_refuses_urls_that_are_not_http(url: str) -> None:
    with pytest.raises(ValueError):
        Environment.custom(url, qr_base_url="https://qr.example")
    with pytest.raises(ValueError):
        Environment.by_name("staging")


# --- KOD I ------------------------------------------------------------------------------


def test_kod_i_reproduces_the_derived_example_byte_for_byte(
    vectors: dict[str, Any], invoice: bytes
) -> None:
    example = vectors["qrKodI"]["derived_example"]
    url = invoice_verification_url(TEST, example["sellerNip"], date(2025, 10, 31), invoice)
    assert url == example["url_TEST"]
    assert invoice_hash_b64url(invoice) == example["sha256Base64Url"]


def test_kod_i_reproduces_the_official_example(vectors: dict[str, Any]) -> None:
    example = vectors["qrKodI"]["official_example"]
    digest = _b64url_decode(example["hashBase64Url"])
    url = invoice_verification_url_for_hash(TEST, example["sellerNip"], date(2026, 2, 1), digest)
    assert url == example["url"]


def test_kod_i_hashes_the_exact_bytes_so_reserialising_changes_the_link(invoice: bytes) -> None:
    original = invoice_verification_url(PRODUCTION, "5265877635", date(2025, 10, 31), invoice)
    with_bom = invoice_verification_url(
        PRODUCTION, "5265877635", date(2025, 10, 31), b"\xef\xbb\xbf" + invoice
    )
    assert original.startswith("https://qr.ksef.mf.gov.pl/invoice/5265877635/31-10-2025/")
    assert original != with_bom
    assert "=" not in original


@pytest.mark.parametrize("nip", ["526587763", "PL5265877635", "0265877635"])
def test_kod_i_refuses_a_seller_nip_of_the_wrong_shape(nip: str) -> None:
    with pytest.raises(QrError):
        invoice_verification_url(TEST, nip, date(2026, 2, 1), b"<Faktura/>")
    with pytest.raises(QrError):
        invoice_verification_url_for_hash(TEST, "5265877635", date(2026, 2, 1), b"short")


# --- KOD II -----------------------------------------------------------------------------


def test_kod_ii_signed_string_reproduces_the_official_example(vectors: dict[str, Any]) -> None:
    example = vectors["qrKodII"]["official_example"]
    digest = _b64url_decode(vectors["qrKodI"]["official_example"]["hashBase64Url"])
    signed = certificate_verification_signed_string(
        TEST, "Nip", "1111111111", "1111111111", "01F20A5D352AE590", digest
    )
    assert signed == example["signedString"]
    assert f"https://{signed}/{example['signatureBase64Url']}" == example["url"]
    # The official RSA-2048 signature is 256 bytes = 342 Base64URL characters.
    assert len(example["signatureBase64Url"]) == 342


def _offline(key: PrivateKey, **kwargs: Any) -> x509.Certificate:
    return make_certificate(
        key, nip="5265877635", kind="Offline", serial_number=0x01F20A5D352AE590, **kwargs
    )


def _split(url: str) -> tuple[str, bytes]:
    assert url.startswith("https://")
    signed, _, signature = url[len("https://") :].rpartition("/")
    return signed, _b64url_decode(signature)


def test_kod_ii_with_an_rsa_offline_certificate_is_pss_sha256_with_a_32_byte_salt(
    invoice: bytes,
) -> None:
    key = make_rsa_key()
    url = certificate_verification_url(
        TEST, "Nip", "5265877635", "5265877635", _offline(key), key, invoice
    )
    signed, signature = _split(url)
    assert signed == (
        "qr-test.ksef.mf.gov.pl/certificate/Nip/5265877635/5265877635/01F20A5D352AE590/"
        + invoice_hash_b64url(invoice)
    )
    assert len(signature) == 256
    pss32 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    key.public_key().verify(signature, signed.encode(), pss32, hashes.SHA256())
    # Not "max" salt, and not a signature over a pre-hashed string.
    for other_salt in (20, 222):  # 222 = the "max" salt of RSA-2048 with SHA-256
        other = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=other_salt)
        with pytest.raises(InvalidSignature):
            key.public_key().verify(signature, signed.encode(), other, hashes.SHA256())
    prehashed = hashlib.sha256(signed.encode()).digest()
    with pytest.raises(InvalidSignature):
        key.public_key().verify(signature, prehashed, pss32, hashes.SHA256())


def test_kod_ii_with_an_ec_offline_certificate_is_ieee_p1363_ecdsa(invoice: bytes) -> None:
    key = make_ec_key()
    url = certificate_verification_url(
        DEMO, "InternalId", "6824515772-12343", "5265877635", _offline(key), key, invoice
    )
    signed, signature = _split(url)
    assert signed.startswith("qr-demo.ksef.mf.gov.pl/certificate/InternalId/6824515772-12343/")
    assert len(signature) == 64
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    key.public_key().verify(encode_dss_signature(r, s), signed.encode(), ec.ECDSA(hashes.SHA256()))


def test_kod_ii_refuses_an_authentication_certificate(invoice: bytes) -> None:
    key = make_ec_key()
    authentication = make_certificate(key, nip="5265877635", kind="Authentication")
    with pytest.raises(AuthenticationCertificateNotAllowedError):
        certificate_verification_url(
            TEST, "Nip", "5265877635", "5265877635", authentication, key, invoice
        )


def test_kod_ii_refuses_a_certificate_that_is_not_an_offline_one(invoice: bytes) -> None:
    key = make_ec_key()
    untyped = make_certificate(key, nip="5265877635", kind=None)
    with pytest.raises(OfflineCertificateRequiredError) as error:
        certificate_verification_url(TEST, "Nip", "5265877635", "5265877635", untyped, key, invoice)
    assert not isinstance(error.value, AuthenticationCertificateNotAllowedError)


def test_kod_ii_refuses_a_key_that_is_not_the_certificates(invoice: bytes) -> None:
    certificate = _offline(make_ec_key())
    with pytest.raises(KeyMismatchError):
        certificate_verification_url(
            TEST, "Nip", "5265877635", "5265877635", certificate, make_ec_key(), invoice
        )


def test_kod_ii_refuses_an_ec_key_on_another_curve(invoice: bytes) -> None:
    key = make_ec_key("P-384")
    with pytest.raises(QrError, match="P-256"):
        certificate_verification_url(
            TEST, "Nip", "5265877635", "5265877635", _offline(key), key, invoice
        )


@pytest.mark.parametrize(
    ("context_type", "value"),
    [("Pesel", "30112206276"), ("Nip", "12345"), ("InternalId", "6824515772-12344")],
)
def test_kod_ii_refuses_an_invalid_context(context_type: str, value: str) -> None:
    with pytest.raises(QrError):
        certificate_verification_signed_string(
            TEST, context_type, value, "5265877635", "01F20A5D352AE590", bytes(32)
        )


def test_kod_ii_for_a_custom_environment_signs_its_host_without_the_scheme(invoice: bytes) -> None:
    local = Environment.custom("http://127.0.0.1:8765/v2", qr_base_url="http://127.0.0.1:8765")
    key = make_ec_key()
    url = certificate_verification_url(
        local, "Nip", "5265877635", "5265877635", _offline(key), key, invoice
    )
    assert url.startswith("http://127.0.0.1:8765/certificate/Nip/")
    signed = url[len("http://") :].rpartition("/")[0]
    assert signed.startswith("127.0.0.1:8765/certificate/")


# --- images -----------------------------------------------------------------------------

URL = "https://qr-test.ksef.mf.gov.pl/invoice/5265877635/31-10-2025/OmE5U9cjvIU6pc3yL3bxV0D96hteDTCwMdB0gaJ5KhM"


def _decode_png(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert zlib.crc32(kind + body) == crc
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert (depth, colour) == (8, 0)
    raw = zlib.decompress(idat)
    rows = [raw[y * (width + 1) : (y + 1) * (width + 1)] for y in range(height)]
    assert all(row[0] == 0 for row in rows)
    return [row[1:] for row in rows]


@pytest.mark.parametrize("label", [LABEL_OFFLINE, "5265877635-20250826-0100001AF629-AF"])
def test_the_png_carries_exactly_segnos_symbol_and_a_label_underneath(label: str) -> None:
    scale = 3
    rows = _decode_png(render_png(URL, label, scale=scale))
    matrix = [list(r) for r in segno.make_qr(URL, error="m").matrix_iter(scale=1, border=4)]
    qr_px = len(matrix) * scale
    left = (len(rows[0]) - qr_px) // 2
    for y, module_row in enumerate(matrix):
        for x, dark in enumerate(module_row):
            pixel = rows[y * scale + 1][left + x * scale + 1]
            assert pixel == (0 if dark else 255)
    label_rows = rows[qr_px:]
    assert any(0 in row for row in label_rows)


def test_the_label_is_drawn_below_the_symbol() -> None:
    def label_ink(label: str) -> int:
        rows = _decode_png(render_png(URL, label, scale=2))
        qr_rows = len(segno.make_qr(URL, error="m").matrix) * 2 + 8 * 2
        return sum(row.count(0) for row in rows[qr_rows:])

    assert label_ink(" ") == 0
    assert label_ink(LABEL_OFFLINE) > 0
    assert label_ink(LABEL_CERTIFICATE) > 0


def test_the_png_label_refuses_characters_it_cannot_draw() -> None:
    with pytest.raises(ValueError):
        render_png(URL, "Faktura nr 1/2026")


def test_the_svg_is_xml_with_segnos_symbol_and_the_escaped_label() -> None:
    svg = render_svg(URL, "A&B <OFFLINE>")
    root = etree.fromstring(svg.encode())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts == ["A&B <OFFLINE>"]
    expected_paths = etree.fromstring(
        segno.make_qr(URL, error="m").svg_inline(scale=4, border=4).encode()
    ).iter("path")
    ours = [
        p.get("d")
        for p in root.iter("{http://www.w3.org/2000/svg}path")
        if p.get("class") == "qrline"
    ]
    assert ours == [p.get("d") for p in expected_paths]
    assert len(ours) == 1


def test_the_labels_are_the_ministrys_words() -> None:
    assert (LABEL_OFFLINE, LABEL_CERTIFICATE) == ("OFFLINE", "CERTYFIKAT")
    assert "CERTYFIKAT" in render_svg(URL, LABEL_CERTIFICATE)
