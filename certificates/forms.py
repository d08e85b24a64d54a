"""Forms: they collect input and bound its size; every check lives in `validation`."""

from __future__ import annotations

from datetime import datetime, time

from django import forms
from django.core.files.uploadedfile import UploadedFile as DjangoUploadedFile
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from certificates.models import Credential
from certificates.validation import (
    MAX_CERTIFICATE_BYTES,
    MAX_KEY_BYTES,
    MAX_PKCS12_BYTES,
    CertificateUpload,
    Consent,
    UploadedFile,
    password_hint,
)
from clients.models import AccessModel, Client


class AccessModelForm(forms.Form):
    access_model = forms.ChoiceField(
        label=_("Model dostępu do KSeF"),
        choices=[
            (AccessModel.OFFICE, AccessModel.OFFICE.label),
            (AccessModel.CLIENT_CREDENTIAL, AccessModel.CLIENT_CREDENTIAL.label),
        ],
        widget=forms.RadioSelect,
    )


def _read_capped(upload: DjangoUploadedFile[bytes] | None, limit: int) -> UploadedFile | None:
    """The file's bytes, reading at most one byte past the limit (so size errors stay cheap)."""
    if upload is None:
        return None
    upload.seek(0)
    return UploadedFile(name=upload.name or "", content=upload.read(limit + 1))


class CredentialUploadForm(forms.Form):
    """Certificate + key + password, or PKCS#12 + password, or a token; and the consent."""

    certificate = forms.FileField(
        label=_("Certyfikat (.crt, .cer, .cert, .pem — PEM lub DER)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".crt,.cer,.cert,.pem,.der"}),
    )
    private_key = forms.FileField(
        label=_("Klucz prywatny (.key, .pem)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".key,.pem,.der"}),
    )
    pkcs12 = forms.FileField(
        label=_("albo plik PKCS#12 (.p12, .pfx) z kluczem i certyfikatem"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".p12,.pfx"}),
    )
    password = forms.CharField(
        label=_("Hasło do klucza / pliku .p12"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    token = forms.CharField(
        label=_("Token KSeF"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    consent_given_by = forms.CharField(
        label=_("Zgodę na przechowywanie certyfikatu osobistego wyraził(a)"),
        required=False,
        max_length=200,
    )
    consent_given_on = forms.DateField(
        label=_("Data zgody"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args: object, kind: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.kind = kind
        if kind == Credential.Kind.TOKEN:
            for name in ("certificate", "private_key", "pkcs12", "password"):
                del self.fields[name]
            for name in ("consent_given_by", "consent_given_on"):
                del self.fields[name]
        else:
            del self.fields["token"]
            self.fields["password"].help_text = password_hint()

    def clean_consent_given_on(self) -> object:
        value = self.cleaned_data.get("consent_given_on")
        if value is not None and value > timezone.localdate():
            raise forms.ValidationError(_("Data zgody nie może być z przyszłości."))
        return value

    def certificate_upload(self) -> CertificateUpload:
        data = self.cleaned_data
        return CertificateUpload(
            certificate=_read_capped(data.get("certificate"), MAX_CERTIFICATE_BYTES),
            private_key=_read_capped(data.get("private_key"), MAX_KEY_BYTES),
            pkcs12=_read_capped(data.get("pkcs12"), MAX_PKCS12_BYTES),
            password=data.get("password") or "",
        )

    def consent(self) -> Consent:
        given_on = self.cleaned_data.get("consent_given_on")
        return Consent(
            given_by=self.cleaned_data.get("consent_given_by") or "",
            given_on=timezone.make_aware(datetime.combine(given_on, time(12)))
            if given_on
            else None,
        )

    def token_value(self) -> str:
        return str(self.cleaned_data.get("token") or "")


class UploadLinkForm(forms.Form):
    kind = forms.ChoiceField(label=_("Co klient ma przesłać"), choices=Credential.Kind.choices)
    recipient_email = forms.ChoiceField(label=_("Adres e-mail klienta"))

    def __init__(self, *args: object, client: Client, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        emails = [str(e) for e in (client.contact_emails or [])]
        self.fields["recipient_email"].choices = [(e, e) for e in emails]  # type: ignore[attr-defined]
