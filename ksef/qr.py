"""KSeF verification links and their QR images (digest §7.2, §7.3).

* KOD I (every invoice shared outside KSeF)::

      https://{qr host}/invoice/{seller NIP}/{P_1 as DD-MM-YYYY}/{SHA-256 Base64URL, no padding}

  Label under the code: the KSeF number, or ``OFFLINE`` before one is assigned.
* KOD II (offline invoices only)::

      https://{qr host}/certificate/{ctx type}/{ctx value}/{seller NIP}/{serial}/{hash}/{sig}

  The signature covers the link without ``https://`` and without the last segment, made
  with the *Offline* KSeF certificate's key: RSASSA-PSS/SHA-256 with a 32-byte salt, or
  ECDSA P-256/SHA-256 as IEEE P1363 ``R||S``; the data is signed as is, never pre-hashed.
  Label: ``CERTYFIKAT``.

Images are made with segno; PNG labels use a built-in 5x7 bitmap font (digits, A-Z, ``-``).
"""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from collections.abc import Sequence
from datetime import date
from xml.sax.saxutils import escape

import segno
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ksef.certificates import (
    KsefCertificateKind,
    PrivateKey,
    certificate_serial_hex,
    check_key_matches_certificate,
    check_supported_key,
    describe_certificate,
)
from ksef.environments import Environment
from ksef.identifiers import CONTEXT_IDENTIFIER_TYPES, is_valid_context_identifier

__all__ = [
    "LABEL_CERTIFICATE",
    "LABEL_OFFLINE",
    "AuthenticationCertificateNotAllowedError",
    "OfflineCertificateRequiredError",
    "QrError",
    "certificate_verification_signed_string",
    "certificate_verification_url",
    "invoice_hash_b64url",
    "invoice_verification_url",
    "invoice_verification_url_for_hash",
    "render_png",
    "render_svg",
    "sign_certificate_verification",
]

LABEL_OFFLINE = "OFFLINE"
LABEL_CERTIFICATE = "CERTYFIKAT"
PSS_SALT_LENGTH = 32
QUIET_ZONE = 4


class QrError(ValueError):
    """A verification link cannot be built from the given values."""


class OfflineCertificateRequiredError(QrError):
    """KOD II must be signed with a KSeF certificate of type Offline."""


class AuthenticationCertificateNotAllowedError(OfflineCertificateRequiredError):
    """An Authentication certificate was given for KOD II; KSeF forbids that."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def invoice_hash_b64url(invoice_xml: bytes) -> str:
    """SHA-256 of the exact invoice bytes as Base64URL without ``=`` padding."""
    return _b64url(hashlib.sha256(invoice_xml).digest())


def _check_nip(seller_nip: str) -> None:
    if not is_valid_context_identifier("Nip", seller_nip):
        raise QrError(f"{seller_nip!r} is not a NIP (10 digits)")


def invoice_verification_url_for_hash(
    environment: Environment, seller_nip: str, issue_date: date, invoice_sha256: bytes
) -> str:
    """KOD I from an already computed SHA-256 digest (32 raw bytes)."""
    _check_nip(seller_nip)
    if len(invoice_sha256) != 32:
        raise QrError("the invoice hash must be the 32-byte SHA-256 digest")
    day = issue_date.strftime("%d-%m-%Y")
    return f"{environment.qr_base_url}/invoice/{seller_nip}/{day}/{_b64url(invoice_sha256)}"


def invoice_verification_url(
    environment: Environment, seller_nip: str, issue_date: date, invoice_xml: bytes
) -> str:
    """KOD I for the invoice file exactly as sent to KSeF; ``issue_date`` is ``P_1``."""
    return invoice_verification_url_for_hash(
        environment, seller_nip, issue_date, hashlib.sha256(invoice_xml).digest()
    )


def certificate_verification_signed_string(
    environment: Environment,
    context_type: str,
    context_value: str,
    seller_nip: str,
    certificate_serial: str,
    invoice_sha256: bytes,
) -> str:
    """The part of KOD II that is signed: the link without scheme and signature segment."""
    if context_type not in CONTEXT_IDENTIFIER_TYPES:
        raise QrError(f"unknown context type {context_type!r}")
    if not is_valid_context_identifier(context_type, context_value):
        raise QrError(f"{context_value!r} is not a valid {context_type} context identifier")
    _check_nip(seller_nip)
    if not certificate_serial or not all(c in "0123456789ABCDEF" for c in certificate_serial):
        raise QrError("the certificate serial must be upper-case hex")
    if len(invoice_sha256) != 32:
        raise QrError("the invoice hash must be the 32-byte SHA-256 digest")
    base = environment.qr_base_url.split("://", 1)[1]
    return (
        f"{base}/certificate/{context_type}/{context_value}/{seller_nip}/"
        f"{certificate_serial}/{_b64url(invoice_sha256)}"
    )


def sign_certificate_verification(private_key: PrivateKey, signed_string: str) -> str:
    """Base64URL signature of ``signed_string`` for the last segment of KOD II."""
    data = signed_string.encode("utf-8")
    if isinstance(private_key, rsa.RSAPrivateKey):
        signature = private_key.sign(
            data,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_LENGTH),
            hashes.SHA256(),
        )
    else:
        if private_key.curve.name != "secp256r1":
            raise QrError("KOD II with an EC key needs curve P-256")
        r, s = decode_dss_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return _b64url(signature)


def certificate_verification_url(
    environment: Environment,
    context_type: str,
    context_value: str,
    seller_nip: str,
    certificate: x509.Certificate,
    private_key: PrivateKey,
    invoice_xml: bytes,
) -> str:
    """KOD II for an offline invoice, signed with the *Offline* certificate's key.

    Raises :class:`AuthenticationCertificateNotAllowedError` for an Authentication
    certificate, :class:`OfflineCertificateRequiredError` for any other non-Offline one,
    and :class:`ksef.certificates.KeyMismatchError` when the key is not the certificate's.
    """
    kind = describe_certificate(certificate).kind
    if kind is KsefCertificateKind.AUTHENTICATION:
        raise AuthenticationCertificateNotAllowedError(
            "KOD II must be signed with an Offline KSeF certificate, not an Authentication one"
        )
    if kind is not KsefCertificateKind.OFFLINE:
        raise OfflineCertificateRequiredError(
            "KOD II must be signed with a KSeF certificate of type Offline"
        )
    check_supported_key(private_key)
    check_key_matches_certificate(private_key, certificate)
    signed_string = certificate_verification_signed_string(
        environment,
        context_type,
        context_value,
        seller_nip,
        certificate_serial_hex(certificate),
        hashlib.sha256(invoice_xml).digest(),
    )
    scheme = environment.qr_base_url.split("://", 1)[0]
    signature = sign_certificate_verification(private_key, signed_string)
    return f"{scheme}://{signed_string}/{signature}"


# --- images ---------------------------------------------------------------------------


def _qr(url: str) -> segno.QRCode:
    return segno.make_qr(url, error="m")


def render_svg(url: str, label: str, *, scale: int = 4) -> str:
    """An SVG document: the QR code of ``url`` with ``label`` centred underneath."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    qr = _qr(url)
    size = qr.symbol_size(scale=scale, border=QUIET_ZONE)[0]
    font_size = max(8, 3 * scale)
    height = size + font_size * 2
    inner = qr.svg_inline(scale=scale, border=QUIET_ZONE, dark="#000", light="#fff")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{height}" '
        f'viewBox="0 0 {size} {height}">'
        f'<rect width="{size}" height="{height}" fill="#fff"/>'
        f"{inner}"
        f'<text x="{size / 2:g}" y="{size + font_size * 1.25:g}" text-anchor="middle" '
        f'font-family="DejaVu Sans Mono, Consolas, monospace" font-size="{font_size}" '
        f'fill="#000">{escape(label)}</text></svg>'
    )


# 5x7 glyphs, one string of five "#"/"." cells per row.
_GLYPHS: dict[str, Sequence[str]] = {
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "B": ("####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "D": ("####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."),
    "E": ("#####", "#....", "#....", "####.", "#....", "#....", "#####"),
    "F": ("#####", "#....", "#....", "####.", "#....", "#....", "#...."),
    "G": (".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"),
    "H": ("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "I": (".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "J": ("..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."),
    "K": ("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),
    "N": ("#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
    "Q": (".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "S": (".####", "#....", "#....", ".###.", "....#", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "V": ("#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "W": ("#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."),
    "X": ("#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"),
    "Y": ("#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."),
    "Z": ("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),
    "-": (".....", ".....", ".....", "#####", ".....", ".....", "....."),
    " ": (".....", ".....", ".....", ".....", ".....", ".....", "....."),
}
_GLYPH_WIDTH, _GLYPH_HEIGHT, _GLYPH_GAP = 5, 7, 1


def _label_bitmap(label: str) -> list[list[bool]]:
    unsupported = sorted({c for c in label if c not in _GLYPHS})
    if unsupported:
        raise ValueError(
            f"PNG labels support digits, A-Z, '-' and space; not {''.join(unsupported)!r}"
        )
    rows: list[list[bool]] = [[] for _ in range(_GLYPH_HEIGHT)]
    for index, char in enumerate(label):
        for row, pattern in zip(rows, _GLYPHS[char], strict=True):
            if index:
                row.extend([False] * _GLYPH_GAP)
            row.extend(cell == "#" for cell in pattern)
    return rows


def _png(pixels: list[bytearray]) -> bytes:
    """An 8-bit greyscale PNG (0 = black, 255 = white) of equally long rows."""
    height, width = len(pixels), len(pixels[0])

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + bytes(row) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def render_png(url: str, label: str, *, scale: int = 4) -> bytes:
    """A PNG: the QR code of ``url`` (``scale`` px per module) with ``label`` underneath."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    modules = [[bool(v) for v in row] for row in _qr(url).matrix_iter(scale=1, border=QUIET_ZONE)]
    text = _label_bitmap(label.upper())
    qr_width = len(modules) * scale
    text_units = len(text[0]) if text[0] else 0
    text_scale = max(1, min(scale, (qr_width - 2 * QUIET_ZONE * scale) // max(text_units, 1)))
    width = max(qr_width, text_units * text_scale + 2 * scale)
    white = 255
    pixels: list[bytearray] = []
    left = (width - qr_width) // 2
    for row in modules:
        line = bytearray([white] * width)
        for x, dark in enumerate(row):
            if dark:
                line[left + x * scale : left + (x + 1) * scale] = bytes(scale)
        pixels.extend(bytearray(line) for _ in range(scale))
    text_left = (width - text_units * text_scale) // 2
    for row in text:
        line = bytearray([white] * width)
        for x, dark in enumerate(row):
            if dark:
                start = text_left + x * text_scale
                line[start : start + text_scale] = bytes(text_scale)
        pixels.extend(bytearray(line) for _ in range(text_scale))
    pixels.extend(bytearray([white] * width) for _ in range(QUIET_ZONE * scale // 2 + 1))
    return _png(pixels)
