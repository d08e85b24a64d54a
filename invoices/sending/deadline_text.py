"""How an offline invoice's deadline to reach KSeF reads, relative to today: "dziś",
"jutro", "za 3 dni", "termin minął wczoraj", "termin minął 2 dni temu" — made when shown,
in the reader's language (counts through `ngettext`)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


@dataclass(frozen=True)
class Deadline:
    text: str
    tone: str  # "bad" overdue, "warn" today or tomorrow, "" later


def deadline_of(deadline: datetime.date | None, today: datetime.date) -> Deadline:
    if deadline is None:
        return Deadline(_("po zakończeniu niedostępności KSeF"), "")
    days = (deadline - today).days
    if days < -1:
        text = ngettext("termin minął %(n)s dzień temu", "termin minął %(n)s dni temu", -days) % {
            "n": -days
        }
        return Deadline(text, "bad")
    if days == -1:
        return Deadline(_("termin minął wczoraj"), "bad")
    if days == 0:
        return Deadline(_("dziś"), "warn")
    if days == 1:
        return Deadline(_("jutro"), "warn")
    return Deadline(ngettext("za %(n)s dzień", "za %(n)s dni", days) % {"n": days}, "")
