"""Django admin for the invoice synchronisation state."""

from __future__ import annotations

from django.contrib import admin

from invoices.models import InvoiceSyncState


@admin.register(InvoiceSyncState)
class InvoiceSyncStateAdmin(admin.ModelAdmin[InvoiceSyncState]):
    list_display = ("client", "last_success_at", "last_error_at")
    search_fields = ("client__name", "client__nip")
    list_select_related = ("client",)
    raw_id_fields = ("client",)
