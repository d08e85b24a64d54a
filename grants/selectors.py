"""Reads for the grant screens, always through the member's scope (404 outside it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Q, QuerySet

from clients.selectors import clients_visible_to
from grants.models import GrantsCheck, PermissionGrant, StaffDepartureJob
from portal.access import ALL_ROLES, require_role, scoped_get
from portal.models import Membership

State = PermissionGrant.State
LIVE_STATES = (State.REQUESTED, State.GRANTED, State.REVOKING)


def grants_of_client(client_id: int) -> QuerySet[PermissionGrant]:
    """The client's grants for the screen: live ones first, newest first within."""
    return (
        PermissionGrant.objects.filter(client_id=client_id)
        .select_related("grantee_membership__user", "requested_by")
        .order_by("-requested_at", "-id")
    )


def grant_get(
    membership: Membership, pk: int, *, roles: Iterable[str] = ALL_ROLES
) -> PermissionGrant:
    """One grant of a client the member sees (404 otherwise), then the role check (403)."""
    grants = PermissionGrant.objects.filter(client__in=clients_visible_to(membership))
    grant = scoped_get(
        membership, grants.select_related("client__office"), office_field="client__office", pk=pk
    )
    require_role(membership, roles)
    return grant


def check_get(membership: Membership, pk: int) -> GrantsCheck:
    checks = GrantsCheck.objects.filter(client__in=clients_visible_to(membership))
    return scoped_get(
        membership, checks.select_related("client"), office_field="client__office", pk=pk
    )


def last_check(client_id: int) -> GrantsCheck | None:
    return GrantsCheck.objects.filter(client_id=client_id).order_by("-created_at", "-id").first()


def staff_who_can_receive(membership: Membership) -> QuerySet[Membership]:
    """Active staff of the office with a PESEL or NIP (KSeF grants to persons by those)."""
    return (
        Membership.objects.filter(office=membership.office, user__is_active=True)
        .exclude(pesel="", nip="")
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "id")
    )


def departure_job_get(membership: Membership, pk: int) -> StaffDepartureJob:
    return scoped_get(
        membership, StaffDepartureJob.objects.select_related("membership__user"), pk=pk
    )


def grant_progress_annotations() -> dict[str, Any]:
    """Extra columns for the client list/detail (`clients_with_health` already counts
    granted/missing and the last verification): grants still on their way, and failed."""
    return {
        "grants_in_progress": Count(
            "grants", filter=Q(grants__state__in=[State.REQUESTED, State.REVOKING]), distinct=True
        ),
        "grants_failed": Count("grants", filter=Q(grants__state=State.FAILED), distinct=True),
    }
