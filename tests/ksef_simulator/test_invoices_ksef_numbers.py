"""KSeF numbers: the simulator's own CRC-8 against the official test vectors."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ksef_simulator import ksefnum


@pytest.fixture(scope="module")
def vectors(ksef_data: Path) -> dict[str, Any]:
    data = json.loads((ksef_data / "samples/test-vectors/ksef-test-vectors.json").read_text())
    return data["ksefNumber"]  # type: ignore[no-any-return]


def test_every_official_number_has_a_matching_checksum(vectors: dict[str, Any]) -> None:
    for vector in vectors["valid"]:
        value = vector["value"]
        assert ksefnum.checksum(value[:32]) == value[-2:], vector
        assert ksefnum.is_valid(value)


def test_the_invalid_vectors_are_rejected(vectors: dict[str, Any]) -> None:
    for vector in vectors["invalid"]:
        assert not ksefnum.is_valid(vector["value"]), vector


def test_the_crc_is_crc8_with_polynomial_07_and_no_reflection() -> None:
    # The catalogued check value of CRC-8 (poly 0x07, init 0, no reflection, no xorout).
    assert ksefnum.crc8(b"123456789") == 0xF4


def test_built_numbers_are_35_characters_with_the_acceptance_date() -> None:
    number = ksefnum.ksef_number("5265877635", date(2026, 3, 1), 0x0100001AF629)

    assert len(number) == 35
    assert number.startswith("5265877635-20260301-0100001AF629-")
    assert ksefnum.is_valid(number)


def test_a_number_with_an_impossible_date_is_not_valid() -> None:
    prefix = "5265877635-20250231-0100001AF629"

    assert not ksefnum.is_valid(f"{prefix}-{ksefnum.checksum(prefix)}")
