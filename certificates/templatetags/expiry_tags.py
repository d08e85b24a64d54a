"""Template tags of the expiry audit, for pages owned by other parts of the portal.

`{% load expiry_tags %}{% client_reminders client %}` renders the reminder log of a client
(templates/expiry/_client_reminders.html) with one query, wherever the client page wants it.
"""

from __future__ import annotations

from typing import Any

from django import template

from certificates.expiry.selectors import reminders_for_client
from clients.models import Client

register = template.Library()


@register.inclusion_tag("expiry/_client_reminders.html")
def client_reminders(client: Client) -> dict[str, Any]:
    return {"client": client, "reminders": list(reminders_for_client(client))}
