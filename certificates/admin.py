"""Admin: metadata only. `CredentialSecret` and `KsefSessionTokens` are deliberately not
registered — no page of the portal, the admin included, ever shows a stored secret."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from certificates.models import (
    ClientRenewalChoice,
    Credential,
    CredentialCheck,
    CredentialRenewal,
    ExpiryDigest,
    ReminderSettings,
    RenewalFailureNotice,
    RenewalSettings,
    SentReminder,
    TokenReminder,
    UploadLink,
)


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Changes go through the services (which audit them), never through the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Credential)
class CredentialAdmin(ReadOnlyAdmin):
    list_display = ("id", "office", "client", "kind", "status", "owner_identifier", "valid_to")
    list_filter = ("kind", "status", "environment", "is_personal")
    search_fields = ("serial_number", "fingerprint_sha256", "owner_identifier", "client__nip")
    exclude = ("certificate_pem",)


@admin.register(CredentialCheck)
class CredentialCheckAdmin(ReadOnlyAdmin):
    list_display = ("id", "credential", "client", "state", "error_code", "finished_at")
    list_filter = ("state",)


@admin.register(UploadLink)
class UploadLinkAdmin(ReadOnlyAdmin):
    list_display = ("id", "client", "kind", "recipient_email", "expires_at", "used_at")
    exclude = ("token_hash",)


@admin.register(ReminderSettings)
class ReminderSettingsAdmin(ReadOnlyAdmin):
    list_display = ("office", "thresholds", "sender_email", "weekly_digest", "updated_at")


@admin.register(SentReminder)
class SentReminderAdmin(ReadOnlyAdmin):
    """The exactly-once ledger of reminders: read-only, or a reminder could be sent twice."""

    list_display = ("id", "office", "client", "credential", "threshold", "status", "sent_at")
    list_filter = ("status", "threshold")
    search_fields = ("client__nip", "client__name")


@admin.register(ExpiryDigest)
class ExpiryDigestAdmin(ReadOnlyAdmin):
    list_display = ("office", "week_start", "status", "item_count", "sent_at")
    list_filter = ("status",)


@admin.register(RenewalSettings)
class RenewalSettingsAdmin(ReadOnlyAdmin):
    list_display = ("office", "enabled_by_default", "renew_office_credentials", "days_before")


@admin.register(ClientRenewalChoice)
class ClientRenewalChoiceAdmin(ReadOnlyAdmin):
    list_display = ("client", "enabled", "changed_by", "changed_at")


@admin.register(CredentialRenewal)
class CredentialRenewalAdmin(ReadOnlyAdmin):
    """The renewal's state; the key generated for an enrollment is never shown."""

    list_display = ("id", "office", "client", "credential", "state", "attempts", "updated_at")
    list_filter = ("state", "failure_code")
    exclude = ("pending_private_key_pem", "lease_token")


@admin.register(RenewalFailureNotice)
class RenewalFailureNoticeAdmin(ReadOnlyAdmin):
    """The exactly-once ledger of failure e-mails: read-only, or one could go twice."""

    list_display = ("id", "renewal", "episode", "status", "sent_at")


@admin.register(TokenReminder)
class TokenReminderAdmin(ReadOnlyAdmin):
    """The weekly token reminders' exactly-once ledger: read-only, as `SentReminderAdmin`."""

    list_display = ("id", "office", "client", "week_start", "status", "sent_at")
    list_filter = ("status",)
    search_fields = ("client__nip", "client__name")
