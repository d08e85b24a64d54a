"""Reads for the dashboard: counts over the clients a member may see, and the staff."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.utils.translation import gettext as _

from clients.models import Prerequisite
from clients.selectors import clients_visible_to
from portal.models import Membership


@dataclass(frozen=True)
class PrerequisiteCount:
    state: str
    label: str
    count: int


@dataclass(frozen=True)
class DashboardCounts:
    clients_active: int
    clients_archived: int
    by_prerequisite: list[PrerequisiteCount]
    staff_by_role: list[tuple[str, int]] = field(default_factory=list)
    staff_inactive: int = 0


def dashboard_counts(membership: Membership) -> DashboardCounts:
    """Counts for the member's dashboard, over the clients the member may see."""
    clients = clients_visible_to(membership)
    totals = clients.aggregate(
        active=Count("id", filter=Q(is_archived=False)),
        archived=Count("id", filter=Q(is_archived=True)),
    )
    per_state: dict[str | None, int] = dict(
        clients.filter(is_archived=False)
        .values_list("prerequisite__state")
        .annotate(n=Count("id"))
        .values_list("prerequisite__state", "n")
    )
    by_prerequisite = [
        PrerequisiteCount(state=value, label=str(label), count=per_state.get(value, 0))
        for value, label in Prerequisite.State.choices
    ]
    if per_state.get(None):
        by_prerequisite.append(
            PrerequisiteCount(state="", label=_("Nie sprawdzono"), count=per_state[None])
        )
    staff_by_role: list[tuple[str, int]] = []
    staff_inactive = 0
    if membership.role == Membership.Role.ADMIN:
        staff = Membership.objects.filter(office=membership.office)
        active = dict(
            staff.filter(user__is_active=True).values_list("role").annotate(n=Count("id"))
        )
        staff_by_role = [
            (str(label), active.get(value, 0)) for value, label in Membership.Role.choices
        ]
        staff_inactive = staff.filter(user__is_active=False).count()
    return DashboardCounts(
        clients_active=totals["active"],
        clients_archived=totals["archived"],
        by_prerequisite=by_prerequisite,
        staff_by_role=staff_by_role,
        staff_inactive=staff_inactive,
    )
