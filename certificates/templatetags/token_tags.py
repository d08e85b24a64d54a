"""Template tags of the token cut-off (31.12.2026), for pages owned by other parts.

Each page gets one `{% include %}`-like line and no view change, so the pages' owners and
this feature merge without conflicts:

- `{% token_banner client %}` on the client page: what will happen and what to do;
- `{% token_marker client %}` on a row of the client list: the set of token clients is read
  once per rendering (two queries for the whole page, not one per row);
- `{% token_count %}` on the dashboard: "N klientów traci dostęp 31.12.2026".
"""

from __future__ import annotations

from typing import Any

from django import template

from certificates.tokens.selectors import (
    CUTOFF_DAY,
    token_client_count,
    token_client_ids,
    token_reliance,
    token_stopped,
)
from clients.models import Client

register = template.Library()


@register.inclusion_tag("clients/_token_banner.html", takes_context=True)
def token_banner(context: template.Context, client: Client) -> dict[str, Any]:
    membership = context.get("membership")
    return {
        "reliance": token_reliance(client),
        "client": client,
        "is_admin": membership is not None and membership.role == membership.Role.ADMIN,
    }


@register.inclusion_tag("clients/_token_marker.html", takes_context=True)
def token_marker(context: template.Context, client: Client) -> dict[str, Any]:
    cache = context.render_context
    if "token_client_ids" not in cache:
        cache["token_client_ids"] = token_client_ids(client.office)
    return {
        "on_token": client.pk in cache["token_client_ids"],
        "stopped": token_stopped(),
        "cutoff_day": CUTOFF_DAY,
    }


@register.inclusion_tag("dashboard/_token_count.html", takes_context=True)
def token_count(context: template.Context) -> dict[str, Any]:
    membership = context.get("membership")
    if membership is None:
        return {"count": 0}
    return {
        "count": token_client_count(membership),
        "stopped": token_stopped(),
        "cutoff_day": CUTOFF_DAY,
        "sees_all_clients": membership.sees_all_clients,
    }
