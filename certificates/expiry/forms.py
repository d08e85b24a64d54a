"""Forms of the expiry audit: the office's reminder settings."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from certificates.expiry.reminders import parse_thresholds
from certificates.models import ReminderSettings


class ReminderSettingsForm(forms.Form):
    thresholds = forms.CharField(
        label=_("Progi przypomnień (dni przed wygaśnięciem)"),
        help_text=_(
            "Liczby całkowite oddzielone przecinkami, np. 60, 30, 14, 7, 1, 0 "
            "(0 = w dniu wygaśnięcia). Każdy próg wysyłamy najwyżej raz na poświadczenie."
        ),
        max_length=200,
        error_messages={"required": _("Podaj co najmniej jeden próg, np. 60, 30, 14, 7, 1, 0.")},
    )
    sender_email = forms.EmailField(
        label=_("Adres nadawcy"),
        required=False,
        help_text=_(
            "Puste: domyślny adres portalu. Podaj adres, z którego serwer poczty może wysyłać."
        ),
        error_messages={"invalid": _("Wpisz poprawny adres e-mail, np. biuro@example.pl.")},
    )
    weekly_digest = forms.BooleanField(
        label=_("Cotygodniowe podsumowanie dla kierowników i administratorów"),
        required=False,
        help_text=_("W poniedziałek rano: co wygasa w ciągu 30 dni."),
    )

    @classmethod
    def for_settings(cls, current: ReminderSettings, data: Any = None) -> ReminderSettingsForm:
        initial = {
            "thresholds": ", ".join(str(value) for value in current.thresholds),
            "sender_email": current.sender_email,
            "weekly_digest": current.weekly_digest,
        }
        return cls(data, initial=initial)

    def clean_thresholds(self) -> list[int]:
        return parse_thresholds(self.cleaned_data["thresholds"])
