"""Polish business days: Monday to Friday except the public holidays (dni wolne od pracy).

The holidays are those of the ustawa z dnia 18 stycznia 1951 r. o dniach wolnych od pracy
(art. 1 pkt 1), as amended: 6 January since 2011 and 24 December (Wigilia) since 2025.
Easter Sunday and Pentecost (Zielone Świątki) are always Sundays and so never business
days anyway; Easter Monday and Corpus Christi (Boże Ciało, Easter + 60 days) move with
Easter, computed here with the Gregorian computus (Meeus/Jones/Butcher).

The offline deadlines of invoices/sending/offline.py count in these days.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

__all__ = [
    "add_business_days",
    "easter_sunday",
    "is_business_day",
    "next_business_day",
    "public_holidays",
]


def easter_sunday(year: int) -> date:
    """Easter Sunday of YEAR in the Gregorian calendar (anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def public_holidays(year: int) -> frozenset[date]:
    """The statutory public holidays of YEAR (ustawa o dniach wolnych od pracy, art. 1)."""
    easter = easter_sunday(year)
    days = {
        date(year, 1, 1),  # Nowy Rok
        easter,  # Wielkanoc (a Sunday)
        easter + timedelta(days=1),  # Poniedziałek Wielkanocny
        date(year, 5, 1),  # Święto Państwowe
        date(year, 5, 3),  # Święto Narodowe Trzeciego Maja
        easter + timedelta(days=49),  # Zielone Świątki (a Sunday)
        easter + timedelta(days=60),  # Boże Ciało
        date(year, 8, 15),  # Wniebowzięcie Najświętszej Maryi Panny
        date(year, 11, 1),  # Wszystkich Świętych
        date(year, 11, 11),  # Narodowe Święto Niepodległości
        date(year, 12, 25),  # pierwszy dzień Bożego Narodzenia
        date(year, 12, 26),  # drugi dzień Bożego Narodzenia
    }
    if year >= 2011:
        days.add(date(year, 1, 6))  # Święto Trzech Króli (since 2011)
    if year >= 2025:
        days.add(date(year, 12, 24))  # Wigilia Bożego Narodzenia (since 2025)
    return frozenset(days)


def is_business_day(day: date) -> bool:
    """Monday to Friday and not a public holiday."""
    return day.weekday() < 5 and day not in public_holidays(day.year)


def next_business_day(day: date) -> date:
    """The first business day strictly after DAY."""
    day += timedelta(days=1)
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def add_business_days(day: date, n: int) -> date:
    """The N-th business day after DAY (N >= 0; 0 gives DAY itself, whatever it is)."""
    if n < 0:
        raise ValueError("n must not be negative")
    for _ in range(n):
        day = next_business_day(day)
    return day
