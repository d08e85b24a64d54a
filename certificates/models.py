"""Stored KSeF credentials: certificate metadata in plain columns, secrets only encrypted.

A `Credential` row is what the portal lists, filters and reminds about; it never holds a
secret. The private key, its password and a KSeF token live in `CredentialSecret`, a
separate table whose columns are encrypted with django-cryptography. Listing pages, the
expiry dashboard and reminders therefore never decrypt anything (and keep working even if
the encryption key is wrong), and decryption happens only in the service that uses the
secret (see `certificates.services`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_cryptography.fields import encrypt

from clients.models import Client
from portal.messages import render
from portal.models import Office


class Credential(models.Model):
    """One uploaded credential of a client (client model) or of the office (office model)."""

    class Kind(models.TextChoices):
        AUTHENTICATION = "authentication", _("Certyfikat uwierzytelniający KSeF (typ 1)")
        OFFLINE = "offline", _("Certyfikat offline KSeF (typ 2)")
        TOKEN = "token", _("Token KSeF")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Aktywne")
        # A renewed certificate stored ahead of its validFrom (certificates/renewal/):
        # it becomes the slot's active credential on that day.
        SCHEDULED = "scheduled", _("Następne (czeka na początek ważności)")
        REPLACED = "replaced", _("Zastąpione")
        DELETED = "deleted", _("Usunięte")

    class OwnerIdentifierType(models.TextChoices):
        NIP = "Nip", "NIP"
        PESEL = "Pesel", "PESEL"
        FINGERPRINT = "Fingerprint", _("Odcisk certyfikatu")

    class Environment(models.TextChoices):
        TEST = "test", _("Testowe (samopodpisany)")
        TEST_OR_DEMO = "test_or_demo", _("Testowe lub DEMO (TEST CCK KSeF)")
        PRODUCTION = "production", _("Produkcyjne (CCK KSeF)")
        UNKNOWN = "unknown", _("Nieznane (certyfikat kwalifikowany)")

    class Source(models.TextChoices):
        STAFF = "staff", _("Przesłane przez pracownika biura")
        CLIENT_LINK = "client_link", _("Przesłane przez klienta (link jednorazowy)")
        DEMO = "demo", _("Dane demonstracyjne (wygenerowane przez seed_demo)")
        RENEWAL = "renewal", _("Odnowione automatycznie przez portal w KSeF")

    office = models.ForeignKey(Office, on_delete=models.PROTECT, related_name="credentials")
    # Null for the office's own credential (office model); set for a client's credential.
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, null=True, blank=True, related_name="credentials"
    )
    kind = models.CharField(_("rodzaj"), max_length=20, choices=Kind.choices)
    status = models.CharField(
        _("stan"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )

    # Certificate metadata (empty for tokens), safe to show and to filter on.
    owner_identifier_type = models.CharField(
        _("rodzaj identyfikatora właściciela"),
        max_length=12,
        choices=OwnerIdentifierType.choices,
        blank=True,
    )
    owner_identifier = models.CharField(_("identyfikator właściciela"), max_length=64, blank=True)
    owner_name = models.CharField(_("nazwa właściciela (CN)"), max_length=300, blank=True)
    is_personal = models.BooleanField(_("certyfikat osobisty"), default=False)
    serial_number = models.CharField(_("numer seryjny"), max_length=64, blank=True)
    fingerprint_sha256 = models.CharField(_("odcisk SHA-256"), max_length=64, blank=True)
    valid_from = models.DateTimeField(_("ważny od"), null=True, blank=True)
    # Null for tokens: their 31.12.2026 cut-off is a legal date, computed by the reminders.
    valid_to = models.DateTimeField(_("ważny do"), null=True, blank=True, db_index=True)
    issuer = models.CharField(_("wystawca"), max_length=500, blank=True)
    subject = models.CharField(_("podmiot certyfikatu"), max_length=500, blank=True)
    environment = models.CharField(
        _("środowisko"), max_length=20, choices=Environment.choices, blank=True
    )
    key_description = models.CharField(_("klucz"), max_length=40, blank=True)
    # The public certificate (needed to sign XAdES requests); not a secret.
    certificate_pem = models.TextField(_("certyfikat (PEM)"), blank=True)
    # The non-secret first part of a KSeF token ("<reference>|nip-...|<secret>").
    token_reference = models.CharField(_("numer referencyjny tokenu"), max_length=64, blank=True)

    # A personal certificate may be held by the office only with the owner's consent.
    consent_given_by = models.CharField(_("zgodę wyraził(a)"), max_length=200, blank=True)
    consent_given_on = models.DateField(_("data zgody"), null=True, blank=True)
    consent_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    source = models.CharField(max_length=20, choices=Source.choices, default=Source.STAFF)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("przesłano"), default=timezone.now)
    replaced_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replaces"
    )
    replaced_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("poświadczenie KSeF")
        verbose_name_plural = _("poświadczenia KSeF")
        ordering = ["-uploaded_at", "-id"]
        constraints = [
            # One active credential per slot: per client and kind, and per office (office model).
            models.UniqueConstraint(
                fields=["client", "kind"],
                condition=Q(status="active", client__isnull=False),
                name="credential_one_active_per_client_kind",
            ),
            models.UniqueConstraint(
                fields=["office", "kind"],
                condition=Q(status="active", client__isnull=True),
                name="credential_one_active_office_credential_per_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["office", "status", "valid_to"]),
            models.Index(fields=["client", "status"]),
        ]

    def __str__(self) -> str:
        holder = self.client.name if self.client_id and self.client else _("biuro")
        label = self.serial_number or self.token_reference or f"#{self.pk}"
        return f"{self.get_kind_display()} {label} ({holder})"

    @property
    def audit_repr(self) -> str:
        """The log's name for it, without translated words (read in either language)."""
        holder = self.client.name if self.client_id and self.client else self.office.name
        label = self.serial_number or self.token_reference or f"#{self.pk}"
        return f"{label} ({holder})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def is_office_credential(self) -> bool:
        return self.client_id is None

    @property
    def is_certificate(self) -> bool:
        return self.kind in (self.Kind.AUTHENTICATION, self.Kind.OFFLINE)

    @property
    def is_expired(self) -> bool:
        return self.valid_to is not None and self.valid_to < timezone.now()

    @staticmethod
    def expiry_status(kind: str, valid_to: datetime | None) -> Any:
        """How close a credential of this kind is to expiry (certificates.expiry.selectors).

        A static method so that apps below this one (the client list's health row) reach
        the expiry dashboard's buckets through the ORM relation instead of an import.
        """
        from certificates.expiry.selectors import expiry_status

        return expiry_status(kind, valid_to)


class CredentialSecret(models.Model):
    """The secret half of a credential, every column encrypted at rest.

    Values are pickled and encrypted by django-cryptography (AES key from
    CRYPTOGRAPHY_KEY, HMAC from SECRET_KEY; see certificates/README.md for rotation).
    Replacing or deleting the credential overwrites them with empty strings.
    """

    credential = models.OneToOneField(
        Credential, on_delete=models.CASCADE, related_name="secret", primary_key=True
    )
    private_key_pem = encrypt(models.TextField(blank=True, default=""))
    key_password = encrypt(models.TextField(blank=True, default=""))
    token = encrypt(models.TextField(blank=True, default=""))
    destroyed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("sekret poświadczenia")
        verbose_name_plural = _("sekrety poświadczeń")

    def __str__(self) -> str:
        # Never the value: this string can end up in logs, the admin and audit reprs.
        return f"secret of credential #{self.credential_id}"


class KsefSessionTokens(models.Model):
    """The tokens of the last KSeF login of one credential into one context, kept encrypted.

    Unattended work that comes back every few minutes (the invoice sync) refreshes the
    access token with the refresh token (valid up to 7 days) instead of signing a new
    XAdES login each time; see certificates.connection.reusable_session. Replacing or
    deleting the credential deletes these rows.
    """

    credential = models.ForeignKey(
        Credential, on_delete=models.CASCADE, related_name="session_tokens"
    )
    context_nip = models.CharField(max_length=10)
    access_token = encrypt(models.TextField(blank=True, default=""))
    access_valid_until = models.DateTimeField()
    refresh_token = encrypt(models.TextField(blank=True, default=""))
    refresh_valid_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("sesja KSeF (tokeny)")
        verbose_name_plural = _("sesje KSeF (tokeny)")
        constraints = [
            models.UniqueConstraint(
                fields=["credential", "context_nip"], name="session_tokens_once"
            )
        ]

    def __str__(self) -> str:
        # Never a token: this string can end up in logs and the admin.
        return f"KSeF session of credential #{self.credential_id} in {self.context_nip}"


class CredentialCheck(models.Model):
    """One live test login with a stored credential into one client's KSeF context."""

    class State(models.TextChoices):
        QUEUED = "queued", _("W kolejce")
        RUNNING = "running", _("W toku")
        SUCCEEDED = "succeeded", _("Połączenie działa")
        FAILED = "failed", _("Niepowodzenie")

    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="checks")
    # The context logged into: the credential's client, or any client for an office credential.
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="credential_checks")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    # The KSeF status code (415, 450, 460...), an HTTP status, or "network"/"internal".
    error_code = models.CharField(max_length=20, blank=True)
    message = models.TextField(_("wynik"), blank=True)  # as written, for the admin
    # The result as a code and parameters (portal.messages), shown in the reader's language.
    message_data = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("test połączenia z KSeF")
        verbose_name_plural = _("testy połączenia z KSeF")
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["client", "-requested_at"])]

    def __str__(self) -> str:
        return f"check #{self.pk} of credential #{self.credential_id}: {self.state}"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.SUCCEEDED, self.State.FAILED)

    @property
    def message_text(self) -> str:
        """The result in the reader's language (older rows: the text as it was written)."""
        return render(self.message_data) if self.message_data else self.message


class UploadLink(models.Model):
    """A single-use, expiring link a client contact uses to upload a credential.

    Only the SHA-256 of the link's token is stored: a database leak does not reveal live
    links, and lookups compare hashes.
    """

    office = models.ForeignKey(Office, on_delete=models.PROTECT, related_name="upload_links")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="upload_links")
    kind = models.CharField(max_length=20, choices=Credential.Kind.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    recipient_email = models.EmailField(_("wysłano do"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("wygasa"))
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveIntegerField(default=0)
    credential = models.ForeignKey(
        Credential, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("link do przesłania poświadczenia")
        verbose_name_plural = _("linki do przesłania poświadczeń")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"upload link #{self.pk} for {self.client}"

    @property
    def is_usable(self) -> bool:
        return self.used_at is None and self.revoked_at is None and self.expires_at > timezone.now()


# === Expiry reminders ========================================================================
# Used by the expiry dashboard and reminders (certificates/expiry/). Kept at
# the end of the file, apart from the upload models above, because Django needs every model
# of the app in models.py.

# Days before expiry at which a reminder goes out; 0 means "on the day it expires".
DEFAULT_REMINDER_THRESHOLDS = [60, 30, 14, 7, 1, 0]


def default_reminder_thresholds() -> list[int]:
    return list(DEFAULT_REMINDER_THRESHOLDS)


class ReminderSettings(models.Model):
    """How an office's expiry reminders are sent. An office without a row uses the defaults."""

    office = models.OneToOneField(
        Office, on_delete=models.CASCADE, related_name="reminder_settings"
    )
    thresholds = models.JSONField(
        _("progi przypomnień (dni przed wygaśnięciem)"), default=default_reminder_thresholds
    )
    # Empty: DEFAULT_FROM_EMAIL. The address must be one the outgoing server may send as.
    sender_email = models.EmailField(_("adres nadawcy przypomnień"), blank=True)
    weekly_digest = models.BooleanField(
        _("cotygodniowe podsumowanie dla kierowników"), default=True
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("ustawienia przypomnień")
        verbose_name_plural = _("ustawienia przypomnień")

    def __str__(self) -> str:
        return f"reminder settings of office #{self.office_id}"


class SentReminder(models.Model):
    """One expiry reminder of one credential at one threshold: the exactly-once ledger.

    The row is created ("claimed") in its own committed transaction before the e-mail is
    sent and marked "sent" after the SMTP server accepted it; the unique constraint on
    (credential, threshold) is what makes two workers, or a rerun, unable to send it twice.
    """

    class Status(models.TextChoices):
        CLAIMED = "claimed", _("W trakcie wysyłki")
        SENT = "sent", _("Wysłano")
        FAILED = "failed", _("Nie udało się wysłać (ponowimy)")
        SKIPPED = "skipped", _("Pominięto: brak adresatów")
        SUPERSEDED = "superseded", _("Pominięto: minął kolejny próg")

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="sent_reminders")
    credential = models.ForeignKey(
        Credential, on_delete=models.CASCADE, related_name="sent_reminders"
    )
    # Denormalised from the credential so the client's log is one indexed query.
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, null=True, blank=True, related_name="sent_reminders"
    )
    threshold = models.PositiveSmallIntegerField(_("próg (dni)"))
    expires_at = models.DateTimeField(_("wygasa"))
    status = models.CharField(
        _("stan"), max_length=12, choices=Status.choices, default=Status.CLAIMED
    )
    claimed_at = models.DateTimeField(default=timezone.now)
    # Who holds the claim: only the holder may mark the row sent (see reminders.py).
    claim_token = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    sent_at = models.DateTimeField(_("wysłano"), null=True, blank=True)
    recipients = models.JSONField(_("do"), default=list, blank=True)
    copy_to = models.JSONField(_("kopia"), default=list, blank=True)
    subject = models.CharField(_("temat"), max_length=300, blank=True)
    last_error = models.CharField(_("ostatni błąd"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("przypomnienie o wygaśnięciu")
        verbose_name_plural = _("przypomnienia o wygaśnięciu")
        ordering = ["-claimed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["credential", "threshold"], name="sent_reminder_once_per_threshold"
            )
        ]
        indexes = [
            models.Index(fields=["client", "-claimed_at"]),
            models.Index(fields=["status", "claimed_at"]),
        ]

    def __str__(self) -> str:
        return f"reminder {self.threshold}d of credential #{self.credential_id}: {self.status}"


class ExpiryDigest(models.Model):
    """The weekly expiry digest of one office for one week: sent at most once (same ledger
    pattern as `SentReminder`)."""

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="expiry_digests")
    week_start = models.DateField(_("tydzień od"))
    status = models.CharField(
        max_length=12, choices=SentReminder.Status.choices, default=SentReminder.Status.CLAIMED
    )
    claimed_at = models.DateTimeField(default=timezone.now)
    claim_token = models.CharField(max_length=32, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.JSONField(default=list, blank=True)
    item_count = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("podsumowanie wygasających poświadczeń")
        verbose_name_plural = _("podsumowania wygasających poświadczeń")
        ordering = ["-week_start", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["office", "week_start"], name="expiry_digest_once_per_week"
            )
        ]

    def __str__(self) -> str:
        return f"digest of office #{self.office_id} for {self.week_start}: {self.status}"


# === Automatic renewal =======================================================================
# Used by certificates/renewal/: the office's default and each client's choice, one renewal
# per credential with its lease and enrollment reference, and the failure e-mail ledger.


class RenewalSettings(models.Model):
    """How an office renews stored KSeF certificates. An office without a row: the defaults."""

    class KeyType(models.TextChoices):
        EC = "ec", _("EC P-256 (jak aplikacja Ministerstwa)")
        RSA = "rsa", _("RSA 2048")

    office = models.OneToOneField(Office, on_delete=models.CASCADE, related_name="renewal_settings")
    # The default for clients without their own choice (ClientRenewalChoice).
    enabled_by_default = models.BooleanField(
        _("odnawiaj certyfikaty klientów automatycznie (domyślnie)"), default=False
    )
    # The office's own certificates (office model) follow this switch alone.
    renew_office_credentials = models.BooleanField(
        _("odnawiaj automatycznie certyfikaty biura"), default=False
    )
    days_before = models.PositiveSmallIntegerField(
        _("ile dni przed końcem ważności odnawiać"), default=30
    )
    key_type = models.CharField(
        _("rodzaj nowego klucza"), max_length=3, choices=KeyType.choices, default=KeyType.EC
    )
    # Off by default: the old certificate simply ends at its validTo (digest §3).
    revoke_previous = models.BooleanField(
        _("unieważniaj poprzedni certyfikat po przełączeniu"), default=False
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("ustawienia odnawiania certyfikatów")
        verbose_name_plural = _("ustawienia odnawiania certyfikatów")

    def __str__(self) -> str:
        return f"renewal settings of office #{self.office_id}"


class ClientRenewalChoice(models.Model):
    """A client's own answer to "renew automatically?", overriding the office default.

    Kept apart from the custody log, which records who changed it and when, because the
    portal then generates and keeps the client's new private key.
    """

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="+")
    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="renewal_choice")
    enabled = models.BooleanField(_("odnawiaj automatycznie"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("zgoda na odnawianie certyfikatów")
        verbose_name_plural = _("zgody na odnawianie certyfikatów")

    def __str__(self) -> str:
        return f"renewal choice of client #{self.client_id}: {self.enabled}"


class CredentialRenewal(models.Model):
    """The renewal of one stored certificate: its state, lease and KSeF enrollment.

    One row per renewed credential (the unique key is the last line of defence against a
    second enrollment). A worker claims the row with a conditional UPDATE of `lease_until`
    before talking to KSeF; the generated key is stored (encrypted) before the enrollment
    is sent and the reference right after, so a crash anywhere resumes the same enrollment.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Zaplanowane")
        ENROLLING = "enrolling", _("W toku: wniosek wysyłany do KSeF")
        ENROLLED = "enrolled", _("W toku: KSeF wystawia certyfikat")
        STORED = "stored", _("Odnowiono: nowy certyfikat czeka na początek ważności")
        RENEWED = "renewed", _("Odnowiono")
        FAILED = "failed", _("Niepowodzenie")

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    credential = models.OneToOneField(Credential, on_delete=models.CASCADE, related_name="renewal")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    # Sent as certificateName: finds the certificate in KSeF if the reference was lost.
    certificate_name = models.CharField(max_length=100, blank=True)
    enrollment_reference = models.CharField(max_length=64, blank=True)
    enrolled_at = models.DateTimeField(null=True, blank=True)
    certificate_serial = models.CharField(max_length=64, blank=True)
    # The key generated for the enrollment until the certificate is stored with it.
    pending_private_key_pem = encrypt(models.TextField(blank=True, default=""))
    new_credential = models.ForeignKey(
        Credential, on_delete=models.SET_NULL, null=True, blank=True, related_name="renewed_from"
    )
    failure_code = models.CharField(max_length=40, blank=True)
    message_data = models.JSONField(default=dict, blank=True)
    # A failure episode lasts from the first failure to the next success: one e-mail each.
    failure_episode = models.PositiveIntegerField(default=0)
    in_failure = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("odnowienie certyfikatu")
        verbose_name_plural = _("odnowienia certyfikatów")
        indexes = [models.Index(fields=["office", "state"])]

    def __str__(self) -> str:
        return f"renewal #{self.pk} of credential #{self.credential_id}: {self.state}"

    @property
    def message_text(self) -> str:
        return render(self.message_data) if self.message_data else ""


class RenewalFailureNotice(models.Model):
    """The e-mail of one failure episode of one renewal: sent at most once (portal.ledger)."""

    renewal = models.ForeignKey(CredentialRenewal, on_delete=models.CASCADE, related_name="notices")
    episode = models.PositiveIntegerField()
    status = models.CharField(max_length=12, default="claimed")
    claimed_at = models.DateTimeField(default=timezone.now)
    claim_token = models.CharField(max_length=32, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = _("powiadomienie o nieudanym odnowieniu")
        verbose_name_plural = _("powiadomienia o nieudanych odnowieniach")
        constraints = [
            models.UniqueConstraint(
                fields=["renewal", "episode"], name="renewal_notice_once_per_episode"
            )
        ]

    def __str__(self) -> str:
        return f"notice of renewal #{self.renewal_id}, episode {self.episode}: {self.status}"


# === Token reminders =========================================================================
# Used by certificates/tokens/: the weekly e-mail to clients that still rely on a KSeF token,
# which stops working after 31.12.2026.


class TokenReminder(models.Model):
    """The weekly token reminder of one client for one week (Monday, Warsaw): sent at most
    once. Same ledger pattern as `SentReminder` (portal/ledger.py): the unique constraint on
    (client, week_start) is what makes a rerun or a second worker unable to send it twice.
    The self-upload link it carries is referenced, never its token (only the hash exists)."""

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="token_reminders")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="token_reminders")
    week_start = models.DateField(_("tydzień od"))
    status = models.CharField(
        _("stan"),
        max_length=12,
        choices=SentReminder.Status.choices,
        default=SentReminder.Status.CLAIMED,
    )
    claimed_at = models.DateTimeField(default=timezone.now)
    claim_token = models.CharField(max_length=32, blank=True)
    sent_at = models.DateTimeField(_("wysłano"), null=True, blank=True)
    recipients = models.JSONField(_("do"), default=list, blank=True)
    copy_to = models.JSONField(_("kopia"), default=list, blank=True)
    upload_link = models.ForeignKey(
        UploadLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_error = models.CharField(_("ostatni błąd"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("przypomnienie o końcu tokenu KSeF")
        verbose_name_plural = _("przypomnienia o końcu tokenów KSeF")
        ordering = ["-week_start", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "week_start"], name="token_reminder_once_per_week"
            )
        ]

    def __str__(self) -> str:
        return f"token reminder of client #{self.client_id} for {self.week_start}: {self.status}"
