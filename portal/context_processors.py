from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def membership(request: HttpRequest) -> dict[str, Any]:
    """Expose the user's membership so navigation shows only what the role allows."""
    member = getattr(getattr(request, "user", None), "membership", None)
    return {
        "membership": member,
        "is_manager": bool(member and member.role in ("admin", "manager")),
        "is_admin": bool(member and member.role == "admin"),
    }
