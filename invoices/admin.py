"""Django admin for invoices and their sync. Read-only where the engine owns the rows:
editing a cursor by hand could skip invoices; the export key of a cursor is never shown."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from invoices.models import (
    ClientInvoice,
    ExportJob,
    Invoice,
    InvoiceCorrection,
    InvoiceDigestSent,
    InvoiceDigestSubscription,
    InvoiceListVisit,
    InvoiceSyncState,
    KsefOutage,
    OfficeSyncSettings,
    OutgoingInvoice,
    SendJob,
    SendSession,
    SessionUpoPage,
    SyncCursor,
)


class ReadOnly(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(ReadOnly):
    list_display = ("ksef_number", "invoice_number", "issue_date", "seller_nip", "gross_amount")
    list_filter = ("form_code", "invoice_type", "invoicing_mode")
    search_fields = ("ksef_number", "invoice_number", "seller_nip", "buyer_identifier")
    exclude = ("xml",)
    date_hierarchy = "issue_date"


@admin.register(ClientInvoice)
class ClientInvoiceAdmin(ReadOnly):
    list_display = ("client", "subject_type", "invoice", "issue_date")
    list_filter = ("subject_type",)
    search_fields = ("client__nip", "invoice__ksef_number")
    list_select_related = ("client", "invoice")
    raw_id_fields = ("client", "invoice")


@admin.register(SyncCursor)
class SyncCursorAdmin(ReadOnly):
    list_display = ("client", "subject_type", "state", "high_water_mark", "last_success_at")
    list_filter = ("state", "subject_type")
    search_fields = ("client__name", "client__nip")
    list_select_related = ("client",)
    exclude = ("export_key",)


@admin.register(InvoiceSyncState)
class InvoiceSyncStateAdmin(admin.ModelAdmin[InvoiceSyncState]):
    list_display = ("client", "last_success_at", "last_error_code", "last_error_at", "paused")
    list_filter = ("paused",)
    search_fields = ("client__name", "client__nip")
    list_select_related = ("client",)
    raw_id_fields = ("client",)


@admin.register(OfficeSyncSettings)
class OfficeSyncSettingsAdmin(admin.ModelAdmin[OfficeSyncSettings]):
    list_display = ("office", "backfill_from", "updated_at")


@admin.register(InvoiceCorrection)
class InvoiceCorrectionAdmin(ReadOnly):
    """The corrections index: rebuilt by `manage.py index_corrections`, never edited."""

    list_display = ("correction", "position", "corrected_ksef_number", "corrected_number")
    search_fields = ("correction__ksef_number", "corrected_ksef_number", "corrected_number")
    list_select_related = ("correction",)
    raw_id_fields = ("correction",)


@admin.register(InvoiceListVisit)
class InvoiceListVisitAdmin(ReadOnly):
    """When each member last looked at each list ("new since I last looked")."""

    list_display = ("membership", "client", "role", "last_seen_at")
    list_select_related = ("membership",)


# Bulk exports and the daily e-mail's ledger: read-only, for support (the files themselves
# are served only to the member who asked, never from here).
@admin.register(ExportJob)
class ExportJobAdmin(ReadOnly):
    list_display = ("pk", "office", "requested_by", "client", "kind", "state", "created_at")
    list_filter = ("kind", "state")
    list_select_related = ("office", "requested_by__user", "client")
    raw_id_fields = ("office", "requested_by", "client")


@admin.register(InvoiceDigestSent)
class InvoiceDigestSentAdmin(ReadOnly):
    list_display = ("membership", "day", "status", "invoice_count", "client_count", "sent_at")
    list_filter = ("status",)
    list_select_related = ("membership__user",)
    raw_id_fields = ("membership",)


@admin.register(InvoiceDigestSubscription)
class InvoiceDigestSubscriptionAdmin(ReadOnly):
    """Each member sets it on their own page (invoices:notifications)."""

    list_display = ("membership", "daily_purchases", "updated_at")
    list_filter = ("daily_purchases",)
    list_select_related = ("membership__user",)


# The sender owns these rows: a hand edit could send an invoice twice or lose its number.
@admin.register(SendJob)
class SendJobAdmin(ReadOnly):
    list_display = ("pk", "client", "created_by", "state", "file_count", "sent_count", "created_at")
    list_filter = ("state", "session_kind")
    list_select_related = ("client", "created_by")
    raw_id_fields = ("client", "created_by")


@admin.register(OutgoingInvoice)
class OutgoingInvoiceAdmin(ReadOnly):
    list_display = ("file_name", "client", "invoice_number", "state", "ksef_number", "updated_at")
    list_filter = ("state", "invoicing_mode")
    list_select_related = ("client",)
    raw_id_fields = ("client", "job", "invoice")
    exclude = ("xml", "upo_xml")


# Read-only: starting or ending an outage moves the deadlines of the invoices issued offline
# in it, which `manage.py ksef_outage` does through the same service the sender uses.
@admin.register(KsefOutage)
class KsefOutageAdmin(ReadOnly):
    list_display = ("started_at", "ended_at", "kind", "source", "note")
    list_filter = ("kind", "source")


# Read-only: a batch session's state is KSeF's, followed by the sender (invoices/sending/batch.py).
@admin.register(SendSession)
class SendSessionAdmin(ReadOnly):
    list_display = (
        "reference",
        "kind",
        "state",
        "job",
        "invoice_count",
        "status_code",
        "opened_at",
    )
    list_filter = ("kind", "state")
    search_fields = ("reference",)
    raw_id_fields = ("job", "client")


@admin.register(SessionUpoPage)
class SessionUpoPageAdmin(ReadOnly):
    list_display = ("reference", "session", "number", "downloaded_at")
    search_fields = ("reference", "session__reference")
    exclude = ("xml",)
    raw_id_fields = ("session",)
