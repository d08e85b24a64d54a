"""A staff member leaves: hand the clients they look after over to colleagues, in bulk.

An accountant who is deactivated stays the "opiekun" of their clients until someone hands
those clients over; until then the clients have nobody who sees them in their list. The
deactivation (and the staff departure) sends the admin to a page listing the person's
clients, where all of them go to one colleague or each to the colleague chosen on its row.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from clients.models import Client
from portal.audit import audit_record
from portal.models import Membership

FOLLOWUP_NAME = "clients.handover"


def active_accountants(office_id: int) -> QuerySet[Membership]:
    """The accountants a client may be assigned to: the office's active ones only."""
    return (
        Membership.objects.filter(
            office_id=office_id, role=Membership.Role.ACCOUNTANT, user__is_active=True
        )
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "pk")
    )


def clients_left_by(member: Membership) -> QuerySet[Client]:
    """The clients (not archived) that still name this person as their opiekun."""
    return (
        Client.objects.filter(office_id=member.office_id, assigned_accountants=member)
        .filter(is_archived=False)
        .prefetch_related("assigned_accountants__user")
        .order_by("name", "pk")
    )


def handover_followup_url(member: Membership) -> str | None:
    """Where staff management sends an admin who deactivated someone who has clients."""
    if not member.user.is_active and clients_left_by(member).exists():
        return reverse("clients:handover", args=[member.pk])
    return None


def clients_hand_over(
    *,
    actor: AbstractBaseUser,
    member: Membership,
    targets: Mapping[int, Membership | None],
) -> list[tuple[Client, Membership | None]]:
    """Move each listed client from `member` to its colleague (None: leave without one).

    `targets` maps client ids to the new opiekun. Clients not named keep `member`. The new
    opiekun must be an active accountant of the same office; one audit event per handover.
    """
    colleagues = {m.pk: m for m in active_accountants(member.office_id)}
    for target in targets.values():
        if target is not None and (target.pk not in colleagues or target.pk == member.pk):
            raise ValidationError(
                _("Klientów można przekazać tylko aktywnemu księgowemu tego biura."),
                code="bad_assignee",
            )
    moved: list[tuple[Client, Membership | None]] = []
    with transaction.atomic():
        clients = clients_left_by(member).select_for_update().filter(pk__in=list(targets))
        for client in clients:
            target = targets[client.pk]
            client.assigned_accountants.remove(member)
            if target is not None:
                client.assigned_accountants.add(target)
            moved.append((client, target))
        if moved:
            audit_record(
                office=member.office,
                actor=actor,
                action="staff.clients_handed_over",
                obj=member,
                details={
                    "clients": [
                        [client.pk, client.name, target.pk if target else None]
                        for client, target in moved
                    ],
                    "to": sorted({t.display_name for _c, t in moved if t is not None}),
                },
            )
    return moved
