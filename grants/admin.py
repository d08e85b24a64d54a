"""Django admin for KSeF permission grants, their checks, the office snapshot and departures."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from grants.models import GrantsCheck, OfficeGrantsSnapshot, PermissionGrant, StaffDepartureJob


@admin.register(PermissionGrant)
class PermissionGrantAdmin(admin.ModelAdmin[PermissionGrant]):
    list_display = (
        "client",
        "grantee_kind",
        "grantee_identifier",
        "mode",
        "state",
        "verification",
        "requested_at",
    )
    list_filter = ("state", "verification", "grantee_kind", "mode")
    search_fields = ("client__name", "client__nip", "grantee_identifier", "operation_reference")
    list_select_related = ("client",)
    raw_id_fields = ("client", "grantee_membership", "requested_by")


@admin.register(GrantsCheck)
class GrantsCheckAdmin(admin.ModelAdmin[GrantsCheck]):
    list_display = ("client", "state", "requested_by", "created_at", "finished_at")
    list_filter = ("state",)
    search_fields = ("client__name", "client__nip")
    list_select_related = ("client", "requested_by")
    raw_id_fields = ("client", "requested_by")


@admin.register(StaffDepartureJob)
class StaffDepartureJobAdmin(admin.ModelAdmin[StaffDepartureJob]):
    list_display = ("membership", "office", "state", "requested_by", "created_at", "finished_at")
    list_filter = ("state", "office")
    list_select_related = ("membership__user", "office", "requested_by")
    raw_id_fields = ("membership", "requested_by")


@admin.register(OfficeGrantsSnapshot)
class OfficeGrantsSnapshotAdmin(admin.ModelAdmin[OfficeGrantsSnapshot]):
    """Read-only: the daily run writes it; editing it would falsify the next checks."""

    list_display = ("office", "taken_at")
    readonly_fields = ("office", "taken_at", "entity_grants", "indirect_grants")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
