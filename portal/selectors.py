"""Reads for the portal's own pages: the dashboard, the staff list and the audit log."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from clients.models import Prerequisite
from clients.selectors import clients_visible_to
from portal.models import AuditEvent, Membership


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


def staff_of_office(membership: Membership) -> QuerySet[Membership]:
    """Everyone in the member's office, active first, then by name."""
    return (
        Membership.objects.filter(office=membership.office)
        .select_related("user", "office")
        .order_by("-user__is_active", "user__last_name", "user__first_name", "user__username")
    )


def audit_events_of_office(
    membership: Membership,
    *,
    action: str = "",
    actor: AbstractBaseUser | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    text: str = "",
) -> QuerySet[AuditEvent]:
    """The office's audit log, newest first, narrowed by the given filters.

    Dates are whole days in the portal's time zone (Europe/Warsaw), both ends included.
    """
    events = AuditEvent.objects.filter(office=membership.office).select_related("actor")
    if action:
        events = events.filter(action=action)
    if actor is not None:
        events = events.filter(actor_id=actor.pk)
    if date_from:
        events = events.filter(created_at__date__gte=date_from)
    if date_to:
        events = events.filter(created_at__date__lte=date_to)
    if text:
        events = events.filter(Q(object_repr__icontains=text) | Q(actor_label__icontains=text))
    return events


def audit_actions_of_office(membership: Membership) -> list[str]:
    """The distinct actions recorded in the office, for the filter's choices."""
    return list(
        AuditEvent.objects.filter(office=membership.office)
        .order_by("action")
        .values_list("action", flat=True)
        .distinct()
    )


def recent_audit_events(membership: Membership, *, limit: int = 5) -> list[AuditEvent]:
    return list(audit_events_of_office(membership)[:limit])
