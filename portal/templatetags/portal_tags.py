"""Template helpers of the portal's own pages."""

from __future__ import annotations

from collections.abc import Mapping

from django import template

from portal.audit import action_label

register = template.Library()


@register.filter
def audit_action(action: str) -> str:
    """The human name of an audit action (its code when the action is not known)."""
    return action_label(action)


@register.filter
def detail_pairs(details: object) -> list[tuple[str, object]]:
    """An audit event's details as (key, value) rows, whatever the keys are called.

    ``{% for k, v in details.items %}`` resolves ``items`` as a key first: a digest whose
    details carry a key "items" broke the whole log page.
    """
    if isinstance(details, Mapping):
        return [(str(key), value) for key, value in details.items()]
    return [] if details in (None, "") else [("", details)]
