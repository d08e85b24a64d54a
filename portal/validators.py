"""Form and model validators for Polish identifiers, with Polish messages."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ksef.identifiers import is_valid_nip, is_valid_pesel


def validate_nip(value: str) -> None:
    if not value.isdigit() or len(value) != 10:
        raise ValidationError(_("NIP musi mieć dokładnie 10 cyfr."), code="nip_format")
    if not is_valid_nip(value):
        raise ValidationError(
            _("NIP ma błędną cyfrę kontrolną — sprawdź, czy nie ma literówki."),
            code="nip_checksum",
        )


def validate_pesel(value: str) -> None:
    if not value.isdigit() or len(value) != 11:
        raise ValidationError(_("PESEL musi mieć dokładnie 11 cyfr."), code="pesel_format")
    if not is_valid_pesel(value):
        raise ValidationError(
            _("PESEL ma błędną cyfrę kontrolną lub datę urodzenia."), code="pesel_checksum"
        )


def normalize_identifier(value: str) -> str:
    """Strip what people type around identifiers: spaces, dashes, a leading 'PL'."""
    cleaned = value.strip().upper().replace(" ", "").replace("-", "")
    return cleaned[2:] if cleaned.startswith("PL") else cleaned
