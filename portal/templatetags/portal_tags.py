"""Template helpers of the portal's own pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template

from portal.audit import action_label, actor_text
from portal.audit_details import audit_details_text
from portal.ksef_terms import permissions_text
from portal.messages import render
from portal.models import AuditEvent
from portal.text import before_full_stop

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


@register.filter
def audit_details(event: object) -> list[str]:
    """An audit event's details as sentences in the reader's language (see audit_details)."""
    return audit_details_text(str(getattr(event, "action", "")), getattr(event, "details", None))


@register.filter
def ksef_permissions(codes: object) -> str:
    """KSeF permission codes in words: "wystawianie faktur, przeglądanie faktur"."""
    if isinstance(codes, str):
        return permissions_text([codes])
    return permissions_text(codes if isinstance(codes, list | tuple) else [])


@register.filter
def audit_actor(event: AuditEvent) -> str:
    """Who did it, in the reader's language (a stored code for the system or a link)."""
    return actor_text(event)


@register.filter
def stored_text(entry: object) -> str:
    """A stored outcome ({"message_data": ..., "message": ...}) in the reader's language."""
    if isinstance(entry, Mapping):
        data = entry.get("message_data")
        return render(data) if isinstance(data, Mapping) and data else str(entry.get("message", ""))
    return ""


@register.filter(name="before_full_stop")
def before_full_stop_filter(value: Any) -> str:
    """A name placed before a sentence's full stop: "sp. z o.o." does not get a second one."""
    return before_full_stop(value)
