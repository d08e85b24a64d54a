"""Forms of the client register and the ZAW-FA wizard; validation only, no writes.

The identifier and e-mail cleaners are plain functions so that the CSV import reports
exactly the same Polish messages as the form does.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clients.models import Client, LegalForm, Prerequisite
from portal.models import Membership, Office
from portal.text import before_full_stop
from portal.validators import normalize_identifier, validate_nip, validate_pesel

MAX_CONTACT_EMAILS = 10
_EMAIL_SEPARATORS = re.compile(r"[\s,;]+")


def clean_nip(value: str) -> str:
    """Normalise what people type ("PL 526-587-76-35") and check the NIP checksum."""
    nip = normalize_identifier(value or "")
    if not nip:
        raise ValidationError(_("Podaj NIP klienta."), code="required")
    validate_nip(nip)
    return nip


def nip_taken_by(office: Office, nip: str, *, exclude_pk: int | None = None) -> Client | None:
    """The office's client already registered under this NIP, if any."""
    clients = Client.objects.filter(office=office, nip=nip)
    if exclude_pk is not None:
        clients = clients.exclude(pk=exclude_pk)
    return clients.only("pk", "name", "nip").first()


def duplicate_nip_error(existing: Client) -> ValidationError:
    return ValidationError(
        _("Klient z tym NIP jest już w rejestrze biura: %(name)s."),
        code="duplicate_nip",
        params={"name": before_full_stop(existing.name)},  # the message ends the sentence
    )


def parse_contact_emails(value: str) -> list[str]:
    """One or more addresses separated by commas, semicolons, spaces or new lines."""
    addresses = [a for a in _EMAIL_SEPARATORS.split(value or "") if a]
    if not addresses:
        raise ValidationError(_("Podaj co najmniej jeden adres e-mail klienta."), code="required")
    invalid = []
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            invalid.append(address)
    if invalid:
        raise ValidationError(
            _("Niepoprawny adres e-mail: %(addresses)s."),
            code="invalid_email",
            params={"addresses": ", ".join(invalid)},
        )
    unique = list(dict.fromkeys(a.lower() for a in addresses))
    if len(unique) > MAX_CONTACT_EMAILS:
        raise ValidationError(
            _("Podaj najwyżej %(limit)d adresów e-mail."),
            code="too_many_emails",
            params={"limit": MAX_CONTACT_EMAILS},
        )
    return unique


def office_accountants(office: Office) -> QuerySet[Membership]:
    """The accountants offered for assignment: active ones only (a departed person never)."""
    return (
        Membership.objects.filter(
            office=office, role=Membership.Role.ACCOUNTANT, user__is_active=True
        )
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "pk")
    )


class AccountantChoiceField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Membership) -> str:
        return obj.display_name


class ContactEmailsField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 2})

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        return parse_contact_emails(str(value or ""))

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list | tuple) else value


class ClientContactForm(forms.Form):
    """What an accountant may change on an assigned client: the contact addresses."""

    contact_emails = ContactEmailsField(
        label=_("Adresy e-mail do kontaktu"),
        help_text=_("Jeden lub kilka adresów, oddzielonych przecinkiem, spacją lub nową linią."),
    )

    # Fields validated as the user leaves them (hx-post with "_validate").
    live_fields: tuple[str, ...] = ("contact_emails",)

    def __init__(self, *args: Any, office: Office, instance: Client | None = None, **kw: Any):
        if instance is not None and "initial" not in kw:
            kw["initial"] = initial_from(instance)
        super().__init__(*args, **kw)
        self.office = office
        self.instance = instance


class ClientForm(ClientContactForm):
    """Registration and full edit of a client (managers and admins)."""

    nip = forms.CharField(
        label=_("NIP"),
        max_length=20,
        help_text=_("Można wpisać ze spacjami, myślnikami lub prefiksem PL."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    name = forms.CharField(label=_("Nazwa"), max_length=300)
    legal_form = forms.ChoiceField(label=_("Forma prawna"), choices=LegalForm.choices)
    has_qualified_seal = forms.BooleanField(
        label=_("Firma ma kwalifikowaną pieczęć elektroniczną ze swoim NIP"),
        required=False,
        help_text=_("Nie dotyczy JDG. Decyduje, czy firma musi złożyć ZAW-FA."),
    )
    assigned_accountants = AccountantChoiceField(
        label=_("Opiekunowie (księgowi)"),
        queryset=Membership.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    is_archived = forms.BooleanField(label=_("Zarchiwizowany"), required=False)

    field_order = ["nip", "name", "legal_form", "has_qualified_seal", "contact_emails"]
    live_fields = ("nip", "name", "contact_emails")

    def __init__(self, *args: Any, office: Office, instance: Client | None = None, **kw: Any):
        super().__init__(*args, office=office, instance=instance, **kw)
        accountants = self.fields["assigned_accountants"]
        assert isinstance(accountants, AccountantChoiceField)
        accountants.queryset = office_accountants(office)
        if instance is None:
            del self.fields["is_archived"]  # a new client is never archived

    def clean_nip(self) -> str:
        nip = clean_nip(self.cleaned_data.get("nip", ""))
        existing = nip_taken_by(
            self.office, nip, exclude_pk=self.instance.pk if self.instance else None
        )
        if existing is not None:
            raise duplicate_nip_error(existing)
        return nip


def initial_from(client: Client) -> dict[str, Any]:
    return {
        "nip": client.nip,
        "name": client.name,
        "legal_form": client.legal_form,
        "has_qualified_seal": client.has_qualified_seal,
        "contact_emails": client.contact_emails,
        "assigned_accountants": list(client.assigned_accountants.all()),
        "is_archived": client.is_archived,
    }


# --- The ZAW-FA wizard --------------------------------------------------------------------

YES_NO = [("tak", _("Tak")), ("nie", _("Nie"))]


class SealForm(forms.Form):
    has_qualified_seal = forms.TypedChoiceField(
        label=_("Czy firma ma kwalifikowaną pieczęć elektroniczną zawierającą jej NIP?"),
        choices=YES_NO,
        coerce=lambda answer: answer == "tak",
        widget=forms.RadioSelect,
        error_messages={"required": _("Zaznacz „Tak” albo „Nie”.")},
    )


class PersonForm(forms.Form):
    """The natural person named in ZAW-FA, who will administer the client's permissions."""

    first_name = forms.CharField(label=_("Imię"), max_length=100)
    last_name = forms.CharField(label=_("Nazwisko"), max_length=100)
    identifier_type = forms.ChoiceField(
        label=_("Identyfikator osoby"),
        choices=Prerequisite.IdentifierType.choices,
        initial=Prerequisite.IdentifierType.PESEL,
        widget=forms.RadioSelect,
    )
    identifier = forms.CharField(label=_("PESEL lub NIP osoby"), max_length=20)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        raw = data.get("identifier")
        if raw is None or not data.get("identifier_type"):
            return data
        value = normalize_identifier(raw)
        try:
            if data["identifier_type"] == Prerequisite.IdentifierType.PESEL:
                validate_pesel(value)
            else:
                validate_nip(value)
        except ValidationError as error:
            self.add_error("identifier", error)
        else:
            data["identifier"] = value
        return data


def _not_in_future(value: datetime.date) -> None:
    if value > timezone.localdate():
        raise ValidationError(_("Data nie może być z przyszłości."), code="future_date")


DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class FilingForm(forms.Form):
    filed_on = forms.DateField(
        label=_("Data złożenia ZAW-FA"), widget=DATE_INPUT, validators=[_not_in_future]
    )
    tax_office = forms.CharField(
        label=_("Urząd skarbowy"),
        max_length=200,
        help_text=_("Np. Pierwszy Urząd Skarbowy w Krakowie."),
    )


class ConfirmationForm(forms.Form):
    confirmed_on = forms.DateField(
        label=_("Data potwierdzenia"),
        widget=DATE_INPUT,
        validators=[_not_in_future],
        help_text=_("Kiedy urząd przyjął zawiadomienie, a osoba upoważniona ma dostęp do KSeF."),
    )

    def __init__(self, *args: Any, filed_on: datetime.date | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self.filed_on = filed_on

    def clean_confirmed_on(self) -> datetime.date:
        confirmed_on: datetime.date = self.cleaned_data["confirmed_on"]
        if self.filed_on and confirmed_on < self.filed_on:
            raise ValidationError(
                _("Potwierdzenie nie może być wcześniejsze niż złożenie (%(filed)s)."),
                code="before_filing",
                params={"filed": self.filed_on.strftime("%d.%m.%Y")},
            )
        return confirmed_on


# --- CSV import ---------------------------------------------------------------------------


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Plik CSV"),
        help_text=_("Kodowanie UTF-8 lub Windows-1250, separator średnik lub przecinek."),
    )


# --- Handing a departing person's clients over --------------------------------------------

AS_ABOVE = ""
NOBODY = "nobody"


class HandoverForm(forms.Form):
    """All of a person's clients to one colleague, or each to the colleague on its row.

    `everyone` is the colleague for every row left at "as above"; a row may name another
    colleague or "nobody" (the client is left without an opiekun). With neither chosen the
    client keeps the person.
    """

    everyone = forms.ChoiceField(label=_("Przekaż wszystkich klientów do"), required=False)

    def __init__(
        self, *args: Any, member: Membership, clients: list[Client], colleagues: list[Membership]
    ) -> None:
        super().__init__(*args)
        self.clients = clients
        self.colleagues = {str(m.pk): m for m in colleagues if m.pk != member.pk}
        people = [(pk, m.display_name) for pk, m in self.colleagues.items()]
        everyone = self.fields["everyone"]
        assert isinstance(everyone, forms.ChoiceField)
        everyone.choices = [(AS_ABOVE, _("— wybierz osobę —")), *people]
        for client in clients:
            self.fields[f"client_{client.pk}"] = forms.ChoiceField(
                label=client.name,
                required=False,
                choices=[
                    (AS_ABOVE, _("jak wyżej")),
                    *people,
                    (NOBODY, _("bez opiekuna")),
                ],
            )

    def client_rows(self) -> list[tuple[Client, forms.BoundField]]:
        return [(client, self[f"client_{client.pk}"]) for client in self.clients]

    def targets(self) -> dict[int, Membership | None]:
        """Client id -> the new opiekun (None: nobody), for the clients that move."""
        everyone = self.cleaned_data.get("everyone") or AS_ABOVE
        targets: dict[int, Membership | None] = {}
        for client in self.clients:
            choice = self.cleaned_data.get(f"client_{client.pk}") or AS_ABOVE
            if choice == AS_ABOVE:
                choice = everyone
            if choice == NOBODY:
                targets[client.pk] = None
            elif choice != AS_ABOVE:
                targets[client.pk] = self.colleagues[choice]
        return targets

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors and not self.targets():
            raise forms.ValidationError(
                _("Wybierz osobę, która przejmie klientów (dla wszystkich albo przy kliencie).")
            )
        return cleaned
