"""What happens after a staff member is deactivated, as the apps above the base layer see it.

Staff management belongs to the base layer, which imports no app above it; yet a departing
person may still be the "opiekun" of clients (the clients app) and hold KSeF grants at them
(the grants app). Apps register a follow-up here when they load (`AppConfig.ready`): given
the deactivated membership it returns the URL of the page where what the person leaves
behind is dealt with, or None. Follow-ups run in registration order (the order of
INSTALLED_APPS), so handing clients over comes before revoking grants; each page sends the
admin on with `departure_followup_url(member, after=<its own name>)`.
"""

from __future__ import annotations

from collections.abc import Callable

from portal.models import Membership

Followup = Callable[[Membership], str | None]

_followups: list[tuple[str, Followup]] = []


def register_departure_followup(followup: Followup, *, name: str = "") -> None:
    """Register a follow-up under `name` (default: the module defining it)."""
    name = name or followup.__module__
    if all(registered != followup for _name, registered in _followups):
        _followups.append((name, followup))


def departure_followup_url(member: Membership, *, after: str = "") -> str | None:
    """The first registered follow-up page for this person, if any app has one.

    With `after`, only the follow-ups registered after the one of that name are asked:
    the page of one step uses it to find the next.
    """
    names = [name for name, _followup in _followups]
    start = names.index(after) + 1 if after in names else 0
    for _name, followup in _followups[start:]:
        url = followup(member)
        if url:
            return url
    return None
