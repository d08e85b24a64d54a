"""Django admin for clients and their ZAW-FA prerequisite."""

from __future__ import annotations

from django.contrib import admin

from clients.models import Client, Prerequisite


class PrerequisiteInline(admin.StackedInline[Prerequisite, Client]):
    model = Prerequisite
    can_delete = False
    extra = 0


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin[Client]):
    list_display = ("name", "nip", "office", "legal_form", "access_model", "is_archived")
    list_filter = ("office", "legal_form", "access_model", "is_archived")
    search_fields = ("name", "nip")
    list_select_related = ("office",)
    filter_horizontal = ("assigned_accountants",)
    inlines = (PrerequisiteInline,)


@admin.register(Prerequisite)
class PrerequisiteAdmin(admin.ModelAdmin[Prerequisite]):
    list_display = ("client", "state", "person_last_name", "filed_on", "confirmed_on")
    list_filter = ("state",)
    search_fields = ("client__name", "client__nip", "person_last_name", "person_identifier")
    list_select_related = ("client",)
    raw_id_fields = ("client",)
