"""Identifiers used by KSeF: NIP, PESEL, InternalId and KSeF numbers.

The checksum rules are the ones quoted in the KSeF technical digest (§6): NIP weights
6,5,7,2,3,4,5,6,7 (sum mod 11, remainder 10 never valid), PESEL weights 1,3,7,9,...
(check = (10 - sum mod 10) mod 10), InternalId alternating weights 1,3 over the first
14 digits (check = sum mod 10) and the KSeF number's CRC-8 (poly 0x07, init 0x00, no
reflection, no final XOR) over the ASCII bytes of the first 32 characters.
"""

from __future__ import annotations

import re

__all__ = [
    "CONTEXT_IDENTIFIER_TYPES",
    "internal_id_check_digit",
    "is_valid_context_identifier",
    "is_valid_internal_id",
    "is_valid_ksef_number",
    "is_valid_nip",
    "is_valid_pesel",
    "ksef_number_checksum",
    "nip_check_digit",
    "nip_normalize",
    "pesel_check_digit",
]

NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)
PESEL_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)

# The contract's NIP pattern: no leading 0 and not "00" in positions 2-3.
_NIP_RE = re.compile(r"[1-9]((\d[1-9])|([1-9]\d))\d{7}")
_PESEL_RE = re.compile(r"\d{11}")
_INTERNAL_ID_RE = re.compile(r"([1-9]((\d[1-9])|([1-9]\d))\d{7})-(\d{5})")
# The contract's KsefNumber pattern (35-char KSeF 2.0 numbers and 36-char 1.0 numbers).
_KSEF_NUMBER_RE = re.compile(
    r"([1-9](\d[1-9]|[1-9]\d)\d{7})-(20[2-9][0-9]|2[1-9]\d{2}|[3-9]\d{3})"
    r"(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])-([0-9A-F]{6})-?([0-9A-F]{6})-([0-9A-F]{2})"
)
_NIP_SEPARATORS = re.compile(r"[\s\-]")

_NIP_SHAPE = r"[1-9]((\d[1-9])|([1-9]\d))\d{7}"
# The AuthTokenRequest 2.1 XSD's TNipVatUE pattern (VIES formats), without its stray "$".
_EU_VAT = (
    r"(AT)(U\d{8})|(BE)([01]{1}\d{9})|(BG)(\d{9,10})|(CY)(\d{8}[A-Z])|(CZ)(\d{8,10})"
    r"|(DE)(\d{9})|(DK)(\d{8})|(EE)(\d{9})|(EL)(\d{9})"
    r"|(ES)([A-Z]\d{8}|\d{8}[A-Z]|[A-Z]\d{7}[A-Z])"
    r"|(FI)(\d{8})|(FR)[A-Z0-9]{2}\d{9}|(HR)(\d{11})|(HU)(\d{8})"
    r"|(IE)(\d{7}[A-Z]{2}|\d[A-Z0-9+*]\d{5}[A-Z])|(IT)(\d{11})|(LT)(\d{9}|\d{12})|(LU)(\d{8})"
    r"|(LV)(\d{11})|(MT)(\d{8})|(NL)([A-Z0-9+*]{12})|(PT)(\d{9})|(RO)(\d{2,10})|(SE)(\d{12})"
    r"|(SI)(\d{8})|(SK)(\d{10})|(XI)((\d{9}|(\d{12}))|(GD|HA)(\d{3}))"
)
_CONTEXT_PATTERNS: dict[str, re.Pattern[str]] = {
    "Nip": re.compile(_NIP_SHAPE),
    "InternalId": re.compile(_NIP_SHAPE + r"-\d{5}"),
    "NipVatUe": re.compile(_NIP_SHAPE + r"-(" + _EU_VAT + r")"),
    "PeppolId": re.compile(r"P[A-Z]{2}[0-9]{6}"),
}
CONTEXT_IDENTIFIER_TYPES = tuple(_CONTEXT_PATTERNS)


def nip_check_digit(first_nine: str) -> int | None:
    """The NIP check digit for nine digits, or ``None`` when no digit can be valid."""
    if len(first_nine) != 9 or not first_nine.isascii() or not first_nine.isdigit():
        raise ValueError("NIP check digit needs exactly nine ASCII digits")
    remainder = sum(int(d) * w for d, w in zip(first_nine, NIP_WEIGHTS, strict=True)) % 11
    return None if remainder == 10 else remainder


def is_valid_nip(value: str) -> bool:
    """True for a 10-digit NIP with the right check digit and the contract's shape."""
    if not isinstance(value, str) or not value.isascii() or not _NIP_RE.fullmatch(value):
        return False
    return nip_check_digit(value[:9]) == int(value[9])


def nip_normalize(value: str) -> str:
    """Strip spaces and dashes and an optional ``PL`` prefix, as users type a NIP.

    ``"PL 526-587-76-35"`` becomes ``"5265877635"``. The result is not validated: pass
    it to :func:`is_valid_nip`.
    """
    compact = _NIP_SEPARATORS.sub("", value)
    if compact[:2].upper() == "PL":
        compact = compact[2:]
    return compact


def pesel_check_digit(first_ten: str) -> int:
    """The PESEL check digit for the first ten digits."""
    if len(first_ten) != 10 or not first_ten.isascii() or not first_ten.isdigit():
        raise ValueError("PESEL check digit needs exactly ten ASCII digits")
    total = sum(int(d) * w for d, w in zip(first_ten, PESEL_WEIGHTS, strict=True))
    return (10 - total % 10) % 10


def _pesel_month_is_valid(value: str) -> bool:
    # Months are encoded with the century: +80 (1800s), +0, +20, +40, +60 (2200s).
    return int(value[2:4]) % 20 in range(1, 13)


def is_valid_pesel(value: str) -> bool:
    """True for an 11-digit PESEL with a valid month encoding and check digit."""
    if not isinstance(value, str) or not value.isascii() or not _PESEL_RE.fullmatch(value):
        return False
    if not _pesel_month_is_valid(value):
        return False
    return pesel_check_digit(value[:10]) == int(value[10])


def internal_id_check_digit(first_fourteen: str) -> int:
    """The InternalId check digit for NIP + four digits (hyphen optional)."""
    digits = first_fourteen.replace("-", "")
    if len(digits) != 14 or not digits.isascii() or not digits.isdigit():
        raise ValueError("InternalId check digit needs NIP plus four digits")
    return sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits)) % 10


def is_valid_internal_id(value: str) -> bool:
    """True for ``{NIP}-{5 digits}`` whose last digit is the InternalId checksum.

    The NIP part must have the contract's shape; its own NIP checksum is not required
    (KSeF validates only the InternalId check digit).
    """
    if not isinstance(value, str) or not value.isascii():
        return False
    if not _INTERNAL_ID_RE.fullmatch(value):
        return False
    return internal_id_check_digit(value[:15]) == int(value[15])


def ksef_number_checksum(first_32_chars: str) -> str:
    """CRC-8 (poly 0x07, init 0, no reflection, no final XOR) as two upper-case hex digits."""
    if len(first_32_chars) != 32 or not first_32_chars.isascii():
        raise ValueError("the KSeF-number checksum covers exactly 32 ASCII characters")
    crc = 0
    for byte in first_32_chars.encode("ascii"):
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return f"{crc:02X}"


def is_valid_ksef_number(value: str) -> bool:
    """True for a KSeF number matching the contract's pattern and, for 35-char, its CRC-8.

    36-character KSeF 1.0 numbers (an extra hyphen inside the technical part) are
    accepted by the contract's pattern; their checksum covers the first 33 characters
    of the 1.0 format, which the 2.0 digest does not define, so only the pattern is
    checked for them.
    """
    if not isinstance(value, str) or not value.isascii():
        return False
    if not _KSEF_NUMBER_RE.fullmatch(value):
        return False
    if len(value) != 35:
        return len(value) == 36
    return ksef_number_checksum(value[:32]) == value[33:]


def is_valid_context_identifier(context_type: str, value: str) -> bool:
    """Whether ``value`` fits the ``ContextIdentifier`` of ``context_type`` (XSD 2.1 shapes).

    ``Nip`` is checked for shape only (KSeF TEST accepts fake NIPs), ``InternalId`` also
    for its check digit, ``NipVatUe`` as NIP + ``-`` + an EU VAT number in VIES format,
    ``PeppolId`` as ``P`` + two letters + six digits.
    """
    pattern = _CONTEXT_PATTERNS.get(context_type)
    if pattern is None or not isinstance(value, str) or not value.isascii():
        return False
    if not pattern.fullmatch(value):
        return False
    return context_type != "InternalId" or is_valid_internal_id(value)
