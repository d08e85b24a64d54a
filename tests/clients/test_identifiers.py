"""NIP and PESEL validation as the client forms and the import apply it."""

from __future__ import annotations

import json
import random

import pytest
from django.core.exceptions import ValidationError

from clients.forms import PersonForm, clean_nip

NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)
PESEL_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)


@pytest.fixture(scope="module")
def vectors(ksef_data):
    return json.loads((ksef_data / "samples/test-vectors/ksef-test-vectors.json").read_text())


def _pesel_accepted(value: str) -> bool:
    form = PersonForm(
        {"first_name": "Jan", "last_name": "Nowak", "identifier_type": "pesel", "identifier": value}
    )
    return form.is_valid()


def _nip_accepted(value: str) -> bool:
    try:
        clean_nip(value)
    except ValidationError:
        return False
    return True


def test_every_official_nip_is_accepted_and_every_bad_checksum_rejected(vectors):
    assert vectors["nip"]["valid"] and vectors["nip"]["invalid_checksum"]
    for nip in vectors["nip"]["valid"]:
        assert _nip_accepted(nip), nip
    for nip in vectors["nip"]["invalid_checksum"]:
        assert not _nip_accepted(nip), nip


def test_every_official_pesel_is_accepted(vectors):
    assert vectors["pesel"]["valid"]
    for pesel in vectors["pesel"]["valid"]:
        assert _pesel_accepted(pesel), pesel


def test_a_nip_typed_with_spaces_dashes_and_the_pl_prefix_is_normalised(vectors):
    nip = vectors["nip"]["valid"][0]
    typed = f"PL {nip[:3]}-{nip[3:6]}-{nip[6:8]}-{nip[8:]}"
    assert clean_nip(typed) == nip
    assert clean_nip(f"pl{nip}") == nip


def _official_nip_rule(digits: str) -> bool:
    if len(digits) != 10 or not digits.isdigit() or digits[0] == "0" or digits[1:3] == "00":
        return False
    remainder = sum(int(d) * w for d, w in zip(digits, NIP_WEIGHTS, strict=False)) % 11
    return remainder != 10 and remainder == int(digits[9])


def _official_pesel_rule(digits: str) -> bool:
    if len(digits) != 11 or not digits.isdigit() or int(digits[2:4]) % 20 not in range(1, 13):
        return False
    total = sum(int(d) * w for d, w in zip(digits, PESEL_WEIGHTS, strict=False))
    return (10 - total % 10) % 10 == int(digits[10])


def test_the_nip_check_agrees_with_the_official_rule_on_generated_numbers():
    rng = random.Random(2026)
    candidates = [f"{rng.randrange(10**9, 10**10)}" for _ in range(2000)]
    # Every check digit of a few prefixes: exactly one (or none, remainder 10) is valid.
    candidates += [
        f"{prefix}{d}" for prefix in ("526587763", "123456789", "100000000") for d in range(10)
    ]
    accepted = 0
    for nip in candidates:
        assert _nip_accepted(nip) is _official_nip_rule(nip), nip
        accepted += _official_nip_rule(nip)
    assert accepted > 100  # the sample really contains valid numbers


def test_the_pesel_check_agrees_with_the_official_rule_on_generated_numbers():
    rng = random.Random(1980)
    candidates = [f"{rng.randrange(10**10):010d}{rng.randrange(10)}" for _ in range(1500)]
    accepted = 0
    for pesel in candidates:
        assert _pesel_accepted(pesel) is _official_pesel_rule(pesel), pesel
        accepted += _official_pesel_rule(pesel)
    assert accepted > 20


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("12345", "dokładnie 10 cyfr"),
        ("1234567890", "cyfrę kontrolną"),
        ("", "Podaj NIP"),
        ("abcdefghij", "dokładnie 10 cyfr"),
    ],
)
def test_a_bad_nip_is_explained_in_polish(typed, message):
    with pytest.raises(ValidationError) as error:
        clean_nip(typed)
    assert message in " ".join(error.value.messages)
