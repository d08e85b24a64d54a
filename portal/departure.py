"""What happens after a staff member is deactivated, as the apps above the base layer see it.

Staff management belongs to the base layer, which imports no app above it; yet a departing
person may still hold KSeF grants at the office's clients (the grants app). Apps register a
follow-up here when they load (`AppConfig.ready`): given the deactivated membership it
returns the URL of the page where the person's remaining access is dealt with, or None.
"""

from __future__ import annotations

from collections.abc import Callable

from portal.models import Membership

Followup = Callable[[Membership], str | None]

_followups: list[Followup] = []


def register_departure_followup(followup: Followup) -> None:
    if followup not in _followups:
        _followups.append(followup)


def departure_followup_url(member: Membership) -> str | None:
    """The first registered follow-up page for this person, if any app has one."""
    for followup in _followups:
        url = followup(member)
        if url:
            return url
    return None
