"""Forms of automatic renewal: the office's settings and a client's own choice."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from certificates.models import RenewalSettings

MIN_DAYS_BEFORE = 7
MAX_DAYS_BEFORE = 90


class RenewalSettingsForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = RenewalSettings
        fields = [
            "enabled_by_default",
            "renew_office_credentials",
            "days_before",
            "key_type",
            "revoke_previous",
        ]
        help_texts = {
            "enabled_by_default": _(
                "Dotyczy klientów, dla których nie wybrano inaczej na ich stronie. Portal "
                "wygeneruje wtedy i przechowa (zaszyfrowany) nowy klucz prywatny klienta."
            ),
            "days_before": _("Od 7 do 90 dni; domyślnie 30."),
            "key_type": _("KSeF przyjmuje klucze EC P-256 albo RSA 2048."),
            "revoke_previous": _(
                "Zwykle niepotrzebne: poprzedni certyfikat przestaje być używany po "
                "przełączeniu, a w dniu końca ważności sam wygasa i portal niszczy jego klucz."
            ),
        }

    def clean_days_before(self) -> int:
        value: int = self.cleaned_data["days_before"]
        if not MIN_DAYS_BEFORE <= value <= MAX_DAYS_BEFORE:
            raise forms.ValidationError(
                _("Podaj liczbę dni od %(min)d do %(max)d."),
                params={"min": MIN_DAYS_BEFORE, "max": MAX_DAYS_BEFORE},
            )
        return value

    def changed_values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class ClientRenewalChoiceForm(forms.Form):
    CHOICES = (
        ("default", _("Jak domyślnie w biurze")),
        ("enabled", _("Odnawiaj automatycznie")),
        ("disabled", _("Nie odnawiaj automatycznie")),
    )

    choice = forms.ChoiceField(label=_("Automatyczne odnawianie"), choices=CHOICES)

    def enabled(self) -> bool | None:
        return {"default": None, "enabled": True, "disabled": False}[self.cleaned_data["choice"]]

    @staticmethod
    def initial_for(enabled: bool | None) -> dict[str, str]:
        return {"choice": {None: "default", True: "enabled", False: "disabled"}[enabled]}
