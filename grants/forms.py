"""Forms of the grant screen: who receives which permissions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.models import Membership

PERMISSION_CHOICES = [
    ("InvoiceWrite", _("Wystawianie faktur (InvoiceWrite)")),
    ("InvoiceRead", _("Przeglądanie faktur (InvoiceRead)")),
]


class _StaffChoice(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        identifier = f"PESEL {obj.pesel}" if obj.pesel else f"NIP {obj.nip}"
        return f"{obj.display_name} ({identifier})"


class _GrantForm(forms.Form):
    permissions = forms.MultipleChoiceField(
        label=_("Uprawnienia"),
        choices=PERMISSION_CHOICES,
        initial=[value for value, _label in PERMISSION_CHOICES],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Wybierz co najmniej jedno uprawnienie.")},
    )

    def __init__(self, *args: Any, staff: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["staff"] = _StaffChoice(
            label=_("Pracownicy"),
            queryset=staff,
            required=False,
            widget=forms.CheckboxSelectMultiple,
        )
        self.order_fields(["staff", "include_office", "permissions"])

    def chosen_staff(self) -> list[Membership]:
        return list(self.cleaned_data.get("staff") or [])


class DirectGrantForm(_GrantForm):
    """Client credential model: from the client's context to staff and/or the office."""

    include_office = forms.BooleanField(
        label=_("Biuro (NIP biura) jako podmiot, z prawem dalszego przekazywania"),
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("staff") and not data.get("include_office"):
            raise forms.ValidationError(_("Wybierz pracowników albo biuro."))
        return data


class IndirectGrantForm(_GrantForm):
    """Office model: the office grants its staff indirect permissions for one client."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("staff"):
            raise forms.ValidationError(_("Wybierz co najmniej jednego pracownika."))
        return data
