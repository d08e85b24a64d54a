"""Reads for the base layer's own pages: the staff list and the audit log."""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Q, QuerySet

from portal.models import AuditEvent, Membership


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
    client_id: int | None = None,
) -> QuerySet[AuditEvent]:
    """The office's audit log, newest first, narrowed by the given filters.

    Dates are whole days in the portal's time zone (Europe/Warsaw), both ends included.
    """
    events = AuditEvent.objects.filter(office=membership.office).select_related("actor")
    if action:
        events = events.filter(action=action)
    if client_id is not None:
        events = events.filter(client_id=client_id)
    if actor is not None:
        events = events.filter(actor_id=actor.pk)
    if date_from:
        events = events.filter(created_at__date__gte=date_from)
    if date_to:
        events = events.filter(created_at__date__lte=date_to)
    if text:
        events = events.filter(Q(object_repr__icontains=text) | Q(actor_label__icontains=text))
    return events


# A loose index scan: one probe of the (office, action) index per distinct action, instead
# of reading every event of the office (hundreds of thousands after a few years) to find
# the few dozen actions. Plain SQL that PostgreSQL and SQLite both run.
_DISTINCT_ACTIONS_SQL = """
WITH RECURSIVE found(action) AS (
    SELECT MIN(action) FROM {table} WHERE office_id = %s
    UNION ALL
    SELECT (SELECT MIN(action) FROM {table} WHERE office_id = %s AND action > found.action)
    FROM found WHERE found.action IS NOT NULL
)
SELECT action FROM found WHERE action IS NOT NULL
"""


def audit_actions_of_office(membership: Membership) -> list[str]:
    """The distinct actions recorded in the office, in order, for the filter's choices."""
    sql = _DISTINCT_ACTIONS_SQL.format(table=connection.ops.quote_name(AuditEvent._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(sql, [membership.office_id, membership.office_id])
        return [row[0] for row in cursor.fetchall()]


def recent_audit_events(membership: Membership, *, limit: int = 5) -> list[AuditEvent]:
    return list(audit_events_of_office(membership)[:limit])
