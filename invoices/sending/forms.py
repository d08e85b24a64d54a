"""The upload form of "Wyślij faktury": one file, many, or a ZIP."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented recipe)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".xml,.zip"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class SendUploadForm(forms.Form):
    invoice_files = MultipleFileField(
        label=_("Pliki faktur FA (3) — XML lub archiwum ZIP"),
        help_text=_("Możesz wskazać kilka plików naraz albo jedno archiwum ZIP."),
    )
