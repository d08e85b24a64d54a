"""KSeF numbers as the Ministry assigns them: `{seller NIP}-{YYYYMMDD}-{12 hex}-{CRC-8}`.

The checksum is CRC-8 with polynomial 0x07, initial value 0x00, no reflection and no
final XOR, computed over the ASCII bytes of the first 32 characters (hyphens included)
and printed as two upper-case hex digits (ksef-docs `faktury/numer-ksef.md`). This is an
implementation of its own, deliberately not shared with the `ksef/` client package.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

_POLYNOMIAL = 0x07

_KSEF_NUMBER = re.compile(
    r"^(?P<nip>[1-9](\d[1-9]|[1-9]\d)\d{7})-(?P<date>\d{8})-(?P<technical>[0-9A-F]{12})"
    r"-(?P<crc>[0-9A-F]{2})$"
)


def _crc8_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ _POLYNOMIAL) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


_TABLE = _crc8_table()


def crc8(data: bytes) -> int:
    """CRC-8/SMBUS: poly 0x07, init 0x00, no reflection, no final XOR."""
    crc = 0
    for byte in data:
        crc = _TABLE[crc ^ byte]
    return crc


def checksum(prefix: str) -> str:
    """The two hex digits that close a KSeF number whose first 32 characters are PREFIX."""
    return f"{crc8(prefix.encode('ascii')):02X}"


@lru_cache(maxsize=4096)
def _head_crc(head: str) -> int:
    return crc8(head.encode("ascii"))


def ksef_number(seller_nip: str, acceptance_date: date, sequence: int) -> str:
    """Build a KSeF number; SEQUENCE (< 16**12) fills the 12-hex technical part."""
    if not 0 <= sequence < 16**12:
        raise ValueError("sequence must fit in 12 hex digits")
    head = f"{seller_nip}-{acceptance_date:%Y%m%d}-"
    if len(head) != 20:
        raise ValueError(f"seller NIP must have 10 digits, got {seller_nip!r}")
    technical = f"{sequence:012X}"
    # CRC-8 runs byte by byte, so the value after "NIP-date-" (the same for a whole day of
    # a seller's invoices) is computed once: bulk seeding makes 100,000 numbers.
    crc = _head_crc(head)
    for byte in technical.encode("ascii"):
        crc = _TABLE[crc ^ byte]
    return f"{head}{technical}-{crc:02X}"


def is_valid(value: str) -> bool:
    """True for a well-formed 35-character KSeF 2.0 number with a matching checksum."""
    match = _KSEF_NUMBER.match(value)
    if match is None:
        return False
    try:
        date(int(value[11:15]), int(value[15:17]), int(value[17:19]))
    except ValueError:
        return False
    return checksum(value[:32]) == match["crc"]
