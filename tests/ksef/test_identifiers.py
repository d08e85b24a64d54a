"""NIP, PESEL, InternalId and KSeF-number checks against the official vectors and rules."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from ksef.identifiers import (
    is_valid_context_identifier,
    is_valid_internal_id,
    is_valid_ksef_number,
    is_valid_nip,
    is_valid_pesel,
    ksef_number_checksum,
    nip_normalize,
)
from tests.conftest import KSEF_DATA_DIR
from tests.ksef.keys import make_nip, make_pesel


def _vectors() -> dict[str, Any]:
    path = KSEF_DATA_DIR / "samples" / "test-vectors" / "ksef-test-vectors.json"
    vectors: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return vectors


VECTORS = _vectors()


def _crc8_by_polynomial_division(data: bytes) -> int:
    """CRC-8 (x^8 + x^2 + x + 1) as plain GF(2) long division, independent of the code."""
    remainder = int.from_bytes(data, "big") << 8
    generator = 0x107
    for shift in range(remainder.bit_length() - 9, -1, -1):
        if remainder & (1 << (shift + 8)):
            remainder ^= generator << shift
    return remainder


def _digit_substitutions(value: str) -> list[str]:
    return [
        value[:i] + str(d) + value[i + 1 :]
        for i, c in enumerate(value)
        if c.isdigit()
        for d in range(10)
        if str(d) != c
    ]


# --- vectors from the official material -------------------------------------------------


@pytest.mark.parametrize("entry", VECTORS["ksefNumber"]["valid"], ids=lambda e: e["value"])
def test_it_accepts_every_official_ksef_number(entry: dict[str, str]) -> None:
    value = entry["value"]
    assert is_valid_ksef_number(value)
    assert ksef_number_checksum(value[:32]) == value[33:]


@pytest.mark.parametrize("entry", VECTORS["ksefNumber"]["invalid"], ids=lambda e: e["reason"])
def test_it_rejects_every_invalid_ksef_number_vector(entry: dict[str, str]) -> None:
    assert not is_valid_ksef_number(entry["value"])


@pytest.mark.parametrize("nip", VECTORS["nip"]["valid"])
def test_it_accepts_every_official_nip(nip: str) -> None:
    assert is_valid_nip(nip)


@pytest.mark.parametrize("nip", VECTORS["nip"]["invalid_checksum"])
def test_it_rejects_the_nips_with_a_wrong_checksum(nip: str) -> None:
    assert not is_valid_nip(nip)


@pytest.mark.parametrize("pesel", VECTORS["pesel"]["valid"])
def test_it_accepts_every_official_pesel(pesel: str) -> None:
    assert is_valid_pesel(pesel)


def test_it_reproduces_the_official_internal_id_example() -> None:
    example = VECTORS["internalId"]["example"]
    digits = example["input_without_check_digit"].replace("-", "")
    weighted = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits))
    assert weighted == example["weighted_sum"]
    assert is_valid_internal_id(example["result"])
    assert not is_valid_internal_id(example["input_without_check_digit"] + "4")


# --- generated cases per the official rules ---------------------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_it_accepts_generated_nips_and_catches_every_single_digit_typo(seed: int) -> None:
    nip = make_nip(seed)
    assert is_valid_nip(nip)
    # Weights 2..7 and differences 1..9 are never multiples of 11: every typo is caught.
    assert not any(is_valid_nip(typo) for typo in _digit_substitutions(nip))


def test_it_rejects_every_nip_whose_weighted_remainder_is_ten() -> None:
    rng = random.Random(7)
    found = 0
    while found < 20:
        head = f"{rng.randint(1, 9)}{rng.randint(1, 9)}{rng.randint(1, 9)}"
        head += "".join(str(rng.randint(0, 9)) for _ in range(6))
        if (
            sum(int(d) * w for d, w in zip(head, (6, 5, 7, 2, 3, 4, 5, 6, 7), strict=True)) % 11
            != 10
        ):
            continue
        found += 1
        assert not any(is_valid_nip(head + str(d)) for d in range(10))


@pytest.mark.parametrize(
    "value",
    ["0265877635", "5005877635", "526587763", "52658776350", "526587763a", "", "５265877635"],
)
def test_it_rejects_nips_of_the_wrong_shape(value: str) -> None:
    assert not is_valid_nip(value)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("PL 526-587-76-35", "5265877635"),
        ("pl5265877635", "5265877635"),
        (" 526 58 77 635 ", "5265877635"),
        ("5265877635", "5265877635"),
    ],
)
def test_it_normalises_a_nip_as_users_type_it(typed: str, expected: str) -> None:
    assert nip_normalize(typed) == expected
    assert is_valid_nip(nip_normalize(typed))


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("year", [1885, 1950, 1999, 2005, 2150, 2230])
def test_it_accepts_generated_pesels_of_every_century(seed: int, year: int) -> None:
    from datetime import date

    pesel = make_pesel(seed, date(year, 1 + seed % 12, 1 + seed % 28))
    assert is_valid_pesel(pesel)
    # Weights 1,3,7,9 are units mod 10: a single wrong digit always breaks the checksum.
    assert not any(is_valid_pesel(typo) for typo in _digit_substitutions(pesel))


@pytest.mark.parametrize("month", ["00", "13", "19", "33", "99"])
def test_it_rejects_a_pesel_with_an_impossible_month(month: str) -> None:
    head = f"85{month}14123"
    head = head[:10].ljust(10, "0")
    total = sum(int(d) * w for d, w in zip(head, (1, 3, 7, 9, 1, 3, 7, 9, 1, 3), strict=True))
    assert not is_valid_pesel(head + str((10 - total % 10) % 10))


@pytest.mark.parametrize("value", ["3011220627", "301122062761", "3011220627X", ""])
def test_it_rejects_pesels_of_the_wrong_shape(value: str) -> None:
    assert not is_valid_pesel(value)


@pytest.mark.parametrize("seed", range(20))
def test_it_accepts_generated_internal_ids_and_rejects_other_check_digits(seed: int) -> None:
    nip = make_nip(seed)
    suffix = f"{seed * 37 % 10000:04d}"
    digits = nip + suffix
    check = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits)) % 10
    assert is_valid_internal_id(f"{nip}-{suffix}{check}")
    others = [d for d in range(10) if d != check]
    assert not any(is_valid_internal_id(f"{nip}-{suffix}{d}") for d in others)


@pytest.mark.parametrize("value", ["682451577212343", "6824515772-1234", "0824515772-12343", ""])
def test_it_rejects_internal_ids_of_the_wrong_shape(value: str) -> None:
    assert not is_valid_internal_id(value)


@pytest.mark.parametrize("seed", range(30))
def test_it_computes_the_ksef_crc8_like_a_plain_polynomial_division(seed: int) -> None:
    rng = random.Random(seed)
    head = f"{make_nip(seed)}-2025{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}-"
    head += "".join(rng.choice("0123456789ABCDEF") for _ in range(12))
    expected = f"{_crc8_by_polynomial_division(head.encode()):02X}"
    assert ksef_number_checksum(head) == expected
    number = f"{head}-{expected}"
    assert is_valid_ksef_number(number)
    # CRC-8 with a generator containing x^0 detects every single-character change.
    for i in range(len(head)):
        for replacement in "0123456789ABCDEF":
            if replacement != head[i] and head[i] != "-":
                changed = head[:i] + replacement + head[i + 1 :]
                assert not is_valid_ksef_number(f"{changed}-{expected}")


def test_it_refuses_to_checksum_anything_but_32_characters() -> None:
    with pytest.raises(ValueError):
        ksef_number_checksum("5265877635-20250826-0100001AF629-")


@pytest.mark.parametrize(
    "value",
    [
        "5265877635-20250826-0100001af629-AF",  # lower-case hex
        "5265877635-20250832-0100001AF629-AF",  # day 32
        "0265877635-20250826-0100001AF629-AF",  # leading zero NIP
        "5265877635-20190826-0100001AF629-AF",  # year before 2020
    ],
)
def test_it_rejects_ksef_numbers_outside_the_contract_pattern(value: str) -> None:
    assert not is_valid_ksef_number(value)


def test_it_accepts_a_36_character_ksef_1_0_number_by_pattern() -> None:
    assert is_valid_ksef_number("5265877635-20250826-010000-1AF629-AF")


@pytest.mark.parametrize(
    ("context_type", "value", "valid"),
    [
        ("Nip", "5265877635", True),
        ("Nip", "526587763", False),
        ("InternalId", "6824515772-12343", True),
        ("InternalId", "6824515772-12344", False),
        ("NipVatUe", "5265877635-ATU12345678", True),
        ("NipVatUe", "5265877635-DE12345678", False),
        ("NipVatUe", "5265877635-XX123456789", False),
        ("PeppolId", "PPL123456", True),
        ("PeppolId", "PPL12345", False),
        ("Pesel", "30112206276", False),
    ],
)
def test_it_checks_context_identifiers_like_the_auth_schema(
    context_type: str, value: str, valid: bool
) -> None:
    assert is_valid_context_identifier(context_type, value) is valid
