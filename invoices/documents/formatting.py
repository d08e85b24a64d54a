"""How amounts, quantities, rates and dates read on an invoice, the way the Ministry's
visualisation prints them: "1 626,01", "-200,00", "0,95", "15.02.2026".

Inputs are the texts of the XML (``"1626.01"``, ``"2026-02-15"``); a value that does not
parse is shown as written, never dropped, because the document is a legal record and the
reader must see what it says. The template filters in `invoices.templatetags.documents`
call these functions.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

# The official rendering groups thousands with a plain space (tables keep numbers on one
# line with CSS, so copying "1 626,01" out of the page gives what the reader sees).
THOUSANDS = " "


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        return None


def _group(digits: str) -> str:
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return THOUSANDS.join(parts)


def _polish(number: Decimal, places: int | None) -> str:
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-places))
    sign = "-" if number < 0 else ""
    text = f"{abs(number):f}"
    whole, _, fraction = text.partition(".")
    return f"{sign}{_group(whole)}" + (f",{fraction}" if fraction else "")


def amount(value: object) -> str:
    """Money: always two decimals ("1 626,01", "-200,00"); more when the XML has more
    (unit prices may carry up to eight), never fewer."""
    number = _decimal(value)
    if number is None:
        return "" if value is None else str(value)
    exponent = number.as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return _polish(number, places)


def quantity(value: object) -> str:
    """A quantity, exchange rate or percentage: as many decimals as it needs ("1", "2,5",
    "300"), trailing zeros dropped, thousands grouped."""
    number = _decimal(value)
    if number is None:
        return "" if value is None else str(value)
    if number == number.to_integral_value():
        return _polish(number.quantize(Decimal(1)), None)
    return _polish(number.normalize(), None)


def day(value: object) -> str:
    """DD.MM.YYYY from an ISO date or the date part of an ISO date-time."""
    if isinstance(value, datetime):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    if not value:
        return ""
    text = str(value).strip()
    try:
        return date.fromisoformat(text[:10]).strftime("%d.%m.%Y")
    except ValueError:
        return text


def moment(value: object) -> str:
    """DD.MM.YYYY HH:MM from an ISO date-time, in the time zone it was written in."""
    if not value:
        return ""
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return parsed.strftime("%d.%m.%Y %H:%M")


def rate(value: object) -> str:
    """A VAT rate code as printed: "23" -> "23%", "0 KR" stays, "zw" stays."""
    if value is None:
        return ""
    text = str(value).strip()
    number = _decimal(text)
    if number is not None:
        return f"{quantity(number)}%"
    return text
