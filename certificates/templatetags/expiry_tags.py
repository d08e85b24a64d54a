"""Template tags of the expiry audit, for pages owned by other parts of the portal.

`{% load expiry_tags %}{% client_reminders client %}` renders the reminder log of a client
(templates/expiry/_client_reminders.html) with one query, wherever the client page wants it;
for a manager or an admin (the `membership` of the page's context) also the client's next
reminders with "send now".
"""

from __future__ import annotations

from typing import Any

from django import template

from certificates.expiry.preview import reminders_ahead_context
from certificates.expiry.selectors import reminders_for_client
from clients.models import Client

register = template.Library()


@register.inclusion_tag("expiry/_client_reminders.html", takes_context=True)
def client_reminders(context: template.Context, client: Client) -> dict[str, Any]:
    membership = context.get("membership")
    ahead = (
        reminders_ahead_context(membership, client, back="client")
        if membership is not None
        else {"show_planned": False}
    )
    return {
        "client": client,
        "reminders": list(reminders_for_client(client)),
        "csrf_token": context.get("csrf_token"),
        **ahead,
    }
