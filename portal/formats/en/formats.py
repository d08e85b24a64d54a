"""English formats for an office in Poland: day before month, 24-hour clock.

Django's English locale writes American dates ("12/02/2026 2:52 a.m."), which a reader in
Poland takes for 12 February. These follow British usage with a 24-hour clock; times are
always Europe/Warsaw (TIME_ZONE), like the Polish pages.
"""

DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j F Y, H:i"
TIME_FORMAT = "H:i"
SHORT_DATE_FORMAT = "d/m/Y"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
FIRST_DAY_OF_WEEK = 1
