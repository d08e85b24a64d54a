"""Forms of the sync screens: the office's settings and one client's sync choices."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from invoices.models import DEFAULT_BACKFILL_FROM, OfficeSyncSettings, SubjectType


def validate_backfill_from(day: dt.date) -> None:
    """A history start KSeF can serve: not in the future, not before KSeF began."""
    if day > timezone.localdate():
        raise ValidationError(
            _("Data początku historii nie może być w przyszłości."), code="future"
        )
    if day < DEFAULT_BACKFILL_FROM:
        raise ValidationError(
            _(
                "KSeF działa od %(start)s — wcześniejszych faktur w nim nie ma. Podaj datę "
                "od %(start)s."
            )
            % {"start": date_format(DEFAULT_BACKFILL_FROM, "SHORT_DATE_FORMAT")},
            code="before_ksef",
        )


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


DATE_ERRORS = {"invalid": _("Podaj datę w formacie RRRR-MM-DD, np. 2026-02-01.")}


class OfficeSyncSettingsForm(forms.Form):
    subject_types = forms.MultipleChoiceField(
        label=_("Pobieraj faktury"),
        choices=SubjectType.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Sprzedaż: faktury wystawione przez klienta. Zakupy: faktury, w których klient "
            "jest nabywcą. Podmiot trzeci i upoważniony: faktury, na których klient występuje "
            "w innej roli."
        ),
        error_messages={"required": _("Wybierz co najmniej jeden rodzaj faktur.")},
    )
    backfill_from = forms.DateField(
        label=_("Pobieraj historię od"),
        widget=DateInput(),
        validators=[validate_backfill_from],
        help_text=_(
            "Domyślny początek historii dla klientów, którzy nie mają własnej daty. "
            "Portal pobiera ją w oknach po 90 dni, od najnowszych."
        ),
        error_messages={**DATE_ERRORS, "required": _("Podaj datę początku historii.")},
    )

    @classmethod
    def for_settings(cls, current: OfficeSyncSettings, data: Any = None) -> OfficeSyncSettingsForm:
        initial = {"subject_types": current.subject_types, "backfill_from": current.backfill_from}
        return cls(data, initial=initial)


class ClientSyncSettingsForm(forms.Form):
    paused = forms.BooleanField(
        label=_("Wstrzymaj synchronizację"),
        required=False,
        help_text=_("Wstrzymany klient nie jest pobierany ani według harmonogramu, ani ręcznie."),
    )
    backfill_from = forms.DateField(
        label=_("Własny początek historii"),
        required=False,
        widget=DateInput(),
        validators=[validate_backfill_from],
        help_text=_("Puste: domyślna data biura."),
        error_messages=DATE_ERRORS,
    )
