"""Reads for the dashboard: counts over the clients a member may see, and the staff."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from certificates.expiry.selectors import ExpiryStatus, expiry_status, stored_credentials
from certificates.models import Credential
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


# The dashboard lists what the expiry dashboard calls urgent: expired up to 90 days left.
EXPIRING_BUCKETS = ("expired", "7", "30", "60", "90")
EXPIRING_SHOWN = 10


@dataclass(frozen=True)
class ExpiringCredential:
    credential: Credential
    status: ExpiryStatus

    @property
    def holder(self) -> str:
        client = self.credential.client
        return client.name if client is not None else _("Biuro (model biura)")


@dataclass(frozen=True)
class ExpiringCredentials:
    shown: list[ExpiringCredential]
    total: int


def expiring_credentials(
    membership: Membership, *, now: datetime.datetime | None = None
) -> ExpiringCredentials:
    """The member's credentials in the expiry dashboard's urgent buckets, soonest first.

    Accountants see their clients' credentials; managers and admins also the office's own.
    """
    now = now or timezone.now()
    visible = Q(client__in=clients_visible_to(membership))
    if membership.sees_all_clients:
        visible |= Q(client__isnull=True)
    credentials = (
        stored_credentials(membership.office, now=now)
        .filter(visible)
        .filter(**{"bucket__in": EXPIRING_BUCKETS})  # an annotation
        .select_related("client")
        .order_by(*["expires_at", "pk"])  # an annotation: not known to the stubs
    )
    shown = []
    for credential in credentials[:EXPIRING_SHOWN]:
        status = expiry_status(credential.kind, credential.valid_to, now=now)
        if status is not None:
            shown.append(ExpiringCredential(credential, status))
    total = len(shown) if len(shown) < EXPIRING_SHOWN else credentials.count()
    return ExpiringCredentials(shown=shown, total=total)
