"""How an offline invoice's deadline reads ("jutro", "za 3 dni", "termin minął 2 dni
temu"), and the dashboard's count of offline invoices due within a business day.

The words are made when the page (or the e-mail) is rendered, in the reader's language,
counts through `ngettext`. `{% offline_due_count %}` is one line on the dashboard and needs
no change of its view.
"""

from __future__ import annotations

import datetime
from typing import Any

from django import template

from certificates.expiry.selectors import local_today
from invoices.sending.deadline_text import Deadline, deadline_of
from invoices.sending.selectors import offline_near_count

register = template.Library()


@register.simple_tag
def offline_deadline(deadline: datetime.date | None) -> Deadline:
    """`{% offline_deadline invoice.offline_deadline as due %}` -> due.text, due.tone."""
    return deadline_of(deadline, local_today())


@register.inclusion_tag("dashboard/_offline_due_count.html", takes_context=True)
def offline_due_count(context: template.Context) -> dict[str, Any]:
    membership = context.get("membership")
    if membership is None:
        return {"count": 0}
    return {"count": offline_near_count(membership)}
