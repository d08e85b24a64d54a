"""Forms for staff management and the audit-log filter. Validation only, no writes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.utils.translation import gettext_lazy as _

from portal.audit import action_label
from portal.models import Membership
from portal.validators import normalize_identifier, validate_nip, validate_pesel

User = get_user_model()

# Logins no office may take: they read as the portal's or the operator's own accounts.
RESERVED_USERNAMES = frozenset(
    {
        "admin",
        "administrator",
        "root",
        "superuser",
        "support",
        "pomoc",
        "system",
        "portal",
        "ksef",
        "staff",
        "biuro",
        "postmaster",
        "webmaster",
        "security",
        "noreply",
    }
)


class StaffCreateForm(forms.Form):
    username = forms.CharField(
        label=_("Login"),
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text=_("Litery, cyfry i znaki @ . + - _ — tym loginem osoba będzie się logować."),
    )
    first_name = forms.CharField(label=_("Imię"), max_length=150)
    last_name = forms.CharField(label=_("Nazwisko"), max_length=150)
    email = forms.EmailField(
        label=_("E-mail"),
        help_text=_("Na ten adres wyślemy link do ustawienia hasła."),
    )
    role = forms.ChoiceField(label=_("Rola"), choices=Membership.Role.choices)
    pesel = forms.CharField(
        label=_("PESEL"),
        required=False,
        max_length=20,
        help_text=_("Potrzebny, by nadawać tej osobie uprawnienia w KSeF."),
    )
    nip = forms.CharField(
        label=_("NIP osoby"),
        required=False,
        max_length=20,
        help_text=_("Tylko jeśli osoba ma własny NIP (np. prowadzi działalność)."),
    )

    def clean_username(self) -> str:
        """Logins are global (one login form for every office), so a login can be unavailable
        because someone in another office has it. The message is the same for every reason
        (this office, another office, a reserved name) and never says which, so creating
        staff does not tell an admin who works in other offices."""
        username: str = self.cleaned_data["username"].strip()
        taken = User.objects.filter(username__iexact=username).exists()
        if taken or username.lower() in RESERVED_USERNAMES:
            raise forms.ValidationError(
                _("Ten login jest niedostępny — wybierz inny (np. z inicjałem lub cyfrą).")
            )
        return username

    def clean_pesel(self) -> str:
        pesel = normalize_identifier(self.cleaned_data["pesel"])
        if pesel:
            validate_pesel(pesel)
        return pesel

    def clean_nip(self) -> str:
        nip = normalize_identifier(self.cleaned_data["nip"])
        if nip:
            validate_nip(nip)
        return nip


class StaffRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Rola"), choices=Membership.Role.choices)


class PersonChoiceField(forms.ModelChoiceField[Any]):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.get_username())


class AuditFilterForm(forms.Form):
    client = forms.ChoiceField(label=_("Klient"), required=False)
    action = forms.ChoiceField(label=_("Czynność"), required=False)
    actor = PersonChoiceField(
        label=_("Kto"), queryset=User.objects.none(), required=False, empty_label=_("Wszyscy")
    )
    date_from = forms.DateField(
        label=_("Od dnia"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("Do dnia"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    q = forms.CharField(label=_("Obiekt zawiera"), required=False, max_length=100)

    def __init__(self, *args: Any, membership: Membership, actions: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        client_field = self.fields["client"]
        assert isinstance(client_field, forms.ChoiceField)
        # Through the relation the clients app declares on Office: the base layer imports
        # no app above it. Archived clients stay: their history is still in the log.
        clients = membership.office.clients.order_by("name", "pk").values_list("pk", "name")  # type: ignore[attr-defined]
        client_field.choices = [("", _("Wszyscy")), *((str(pk), name) for pk, name in clients)]
        action_field = self.fields["action"]
        actor_field = self.fields["actor"]
        assert isinstance(action_field, forms.ChoiceField)
        assert isinstance(actor_field, PersonChoiceField)
        action_field.choices = [
            ("", _("Wszystkie")),
            *((action, action_label(action)) for action in actions),
        ]
        actor_field.queryset = User.objects.filter(membership__office=membership.office).order_by(
            "last_name", "first_name", "username"
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", _("Data końcowa jest wcześniejsza niż początkowa."))
            # A reversed range means neither end can be trusted: filter by neither.
            cleaned.pop("date_from", None)
        return cleaned
