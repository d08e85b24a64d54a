"""Template filters for invoice values in the official formatting ("1 626,01",
"15.02.2026"): `{% load documents %}{{ value|amount }}`, `|quantity`, `|day`, `|rate`."""

from __future__ import annotations

from django import template

from invoices.documents import formatting

register = template.Library()
register.filter("amount", formatting.amount)
register.filter("quantity", formatting.quantity)
register.filter("day", formatting.day)
register.filter("rate", formatting.rate)
