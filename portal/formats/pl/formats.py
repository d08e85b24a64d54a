"""Polish formats where Django's defaults differ from what Polish offices write.

Django's Polish locale writes short dates as 03-03-2026; invoices, tax forms and KSeF's
own web app use 03.03.2026. Everything else (thousands separator: a non-breaking space,
decimal comma, long dates such as "3 marca 2026") comes from Django's Polish locale.
"""

SHORT_DATE_FORMAT = "d.m.Y"
SHORT_DATETIME_FORMAT = "d.m.Y H:i"
