"""Template helpers of the portal's own pages."""

from __future__ import annotations

from django import template

from portal.audit import action_label

register = template.Library()


@register.filter
def audit_action(action: str) -> str:
    """The human name of an audit action (its code when the action is not known)."""
    return action_label(action)
