"""Django admin for the office, memberships and the (read-only) audit log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from portal.models import AuditEvent, Membership, Office


class MembershipInline(admin.StackedInline[Membership, Any]):
    model = Membership
    can_delete = False
    extra = 0
    fields = ("office", "role", "pesel", "nip")


@admin.register(Office)
class OfficeAdmin(admin.ModelAdmin[Office]):
    list_display = ("name", "nip", "ksef_environment", "created_at")
    list_filter = ("ksef_environment",)
    search_fields = ("name", "nip")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ("display_name", "user", "office", "role", "is_active", "created_at")
    list_filter = ("office", "role", "user__is_active")
    search_fields = ("user__username", "user__first_name", "user__last_name", "pesel", "nip")
    list_select_related = ("user", "office")
    autocomplete_fields = ("user",)

    @admin.display(boolean=True, description="aktywne")
    def is_active(self, obj: Membership) -> bool:
        return obj.is_active


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    """Read-only: the audit log is append-only, in the admin as everywhere else."""

    list_display = ("created_at", "office", "actor", "actor_label", "action", "object_repr")
    list_filter = ("office", "action")
    search_fields = ("action", "object_repr", "actor__username", "actor_label")
    date_hierarchy = "created_at"
    list_select_related = ("office", "actor")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class PortalUserAdmin(UserAdmin[Any]):
    """Django's user admin with the user's office membership on the same page."""

    inlines = (MembershipInline,)
