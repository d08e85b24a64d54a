"""Reads of clients, always through the member's scope."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from clients.models import Client
from portal.access import ALL_ROLES, require_role, scoped_get
from portal.models import Membership


def clients_visible_to(membership: Membership) -> QuerySet[Client]:
    """Managers and admins see every client of the office; accountants only their own."""
    clients = Client.objects.filter(office=membership.office)
    if not membership.sees_all_clients:
        clients = clients.filter(assigned_accountants=membership)
    return clients


def client_get(
    membership: Membership, pk: int, *, roles: Iterable[str] = ALL_ROLES
) -> Client:
    """One visible client (404 otherwise), then the role check for the action (403)."""
    client = scoped_get(membership, clients_visible_to(membership), pk=pk)
    require_role(membership, roles)
    return client
