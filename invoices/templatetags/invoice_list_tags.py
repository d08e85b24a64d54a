"""How the invoice lists print amounts, types, roles and counts (in the reader's language;
amounts grouped as Polish offices write them: "1 626,01")."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.formats import number_format
from django.utils.translation import ngettext

from invoices.browse.filters import COUNT_LIMIT, ROLE_CHOICES, ROLE_OF_SUBJECT_TYPE, TYPE_LABELS

register = template.Library()
ROLE_LABELS = dict(ROLE_CHOICES)


@register.filter
def amount(value: Decimal | None) -> str:
    """Two decimals, the locale's grouping: "1 626,01" in Polish, "1,626.01" in English."""
    if value is None:
        return ""
    return number_format(value, decimal_pos=2, use_l10n=True, force_grouping=True)


@register.filter
def invoice_type_label(value: str) -> str:
    """KSeF's invoice type as the list names it (the code itself when unknown)."""
    label = TYPE_LABELS.get(value)
    return str(label) if label else value


@register.filter
def role_key(subject_type: str) -> str:
    """The `role` of a client's list that shows this subject type."""
    return ROLE_OF_SUBJECT_TYPE.get(subject_type, "third")


@register.filter
def role_label(subject_type: str) -> str:
    """The list tab a subject type belongs to: Zakupy, Sprzedaż or Podmiot trzeci."""
    return str(ROLE_LABELS[ROLE_OF_SUBJECT_TYPE.get(subject_type, "third")])


@register.simple_tag
def invoice_count(n: int) -> str:
    """ "1 faktura", "2 faktury", "5 faktur" (the Polish forms come from the pl catalogue);
    past the lists' counting limit "ponad 10 000 faktur"."""
    if n > COUNT_LIMIT:
        return ngettext("ponad %(n)s fakturę", "ponad %(n)s faktur", COUNT_LIMIT) % {
            "n": number_format(COUNT_LIMIT, force_grouping=True)
        }
    return ngettext("%(n)s faktura", "%(n)s faktur", n) % {
        "n": number_format(n, force_grouping=True)
    }


@register.filter
def tab_count(n: int) -> str:
    """A tab's count: "10 000+" past the counting limit."""
    if n > COUNT_LIMIT:
        return number_format(COUNT_LIMIT, force_grouping=True) + "+"
    return number_format(n, force_grouping=True)


@register.simple_tag
def new_count(n: int) -> str:
    if n > COUNT_LIMIT:
        return ngettext("ponad %(n)s nowa", "ponad %(n)s nowych", COUNT_LIMIT) % {
            "n": number_format(COUNT_LIMIT, force_grouping=True)
        }
    return ngettext("%(n)s nowa", "%(n)s nowych", n) % {"n": number_format(n, force_grouping=True)}
