"""Polish business days and the offline deadlines (digest §7.1): a Friday, holiday
weekends, Wigilia from 2025, Corpus Christi; offline24, unavailability and emergency."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from invoices.models import KsefOutage
from invoices.sending.calendar import (
    add_business_days,
    easter_sunday,
    is_business_day,
    next_business_day,
    public_holidays,
)
from invoices.sending.offline import deadline_for

D = date


@pytest.mark.parametrize(
    ("year", "easter"),
    [(2024, D(2024, 3, 31)), (2025, D(2025, 4, 20)), (2026, D(2026, 4, 5)), (2027, D(2027, 3, 28))],
)
def test_easter_sunday(year, easter):
    assert easter_sunday(year) == easter


def test_the_2026_public_holidays():
    assert sorted(public_holidays(2026)) == [
        D(2026, 1, 1),
        D(2026, 1, 6),
        D(2026, 4, 5),
        D(2026, 4, 6),  # Easter Monday
        D(2026, 5, 1),
        D(2026, 5, 3),
        D(2026, 5, 24),  # Pentecost (a Sunday)
        D(2026, 6, 4),  # Corpus Christi
        D(2026, 8, 15),
        D(2026, 11, 1),
        D(2026, 11, 11),
        D(2026, 12, 24),  # Wigilia, a holiday since 2025
        D(2026, 12, 25),
        D(2026, 12, 26),
    ]


def test_wigilia_is_a_working_day_before_2025():
    assert D(2024, 12, 24) not in public_holidays(2024)
    assert is_business_day(D(2024, 12, 24))
    assert not is_business_day(D(2025, 12, 24))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (D(2026, 1, 7), D(2026, 1, 8)),  # Wednesday -> Thursday
        (D(2026, 1, 9), D(2026, 1, 12)),  # Friday -> Monday
        (D(2026, 1, 10), D(2026, 1, 12)),  # Saturday -> Monday
        (D(2026, 1, 5), D(2026, 1, 7)),  # Monday, then Epiphany on Tuesday
        (D(2026, 4, 3), D(2026, 4, 7)),  # Good Friday -> Easter weekend + Monday
        (D(2026, 4, 30), D(2026, 5, 4)),  # 1 May Friday, 3 May Sunday
        (D(2026, 6, 3), D(2026, 6, 5)),  # Corpus Christi Thursday
        (D(2026, 11, 10), D(2026, 11, 12)),  # Independence Day Wednesday
        (D(2026, 12, 23), D(2026, 12, 28)),  # Wigilia, Christmas, weekend
        (D(2024, 12, 23), D(2024, 12, 24)),  # Wigilia was a working day in 2024
        (D(2026, 12, 31), D(2027, 1, 4)),  # New Year on Friday
    ],
)
def test_next_business_day(day, expected):
    assert next_business_day(day) == expected


def test_add_business_days():
    assert add_business_days(D(2026, 1, 7), 0) == D(2026, 1, 7)
    assert add_business_days(D(2026, 1, 9), 1) == D(2026, 1, 12)
    assert add_business_days(D(2026, 1, 9), 5) == D(2026, 1, 16)
    # 23, 28, 29, 30, 31 December, 4 and 5 January (1 and 6 January are holidays).
    assert add_business_days(D(2026, 12, 22), 7) == D(2027, 1, 5)
    with pytest.raises(ValueError):
        add_business_days(D(2026, 1, 1), -1)


def _outage(kind: str, ended_at: datetime | None) -> Any:
    return SimpleNamespace(kind=kind, ended_at=ended_at)


UNAVAILABLE, EMERGENCY = KsefOutage.Kind.UNAVAILABLE, KsefOutage.Kind.EMERGENCY


def test_offline24_is_due_the_next_business_day_after_the_issue_date():
    assert deadline_for("offline24", D(2026, 1, 8), None) == D(2026, 1, 9)
    assert deadline_for("offline24", D(2026, 1, 9), None) == D(2026, 1, 12)  # a Friday
    assert deadline_for("offline24", D(2026, 12, 23), None) == D(2026, 12, 28)
    # An unavailability does not move an offline24 invoice's deadline.
    ended = datetime(2026, 1, 20, 10, tzinfo=UTC)
    assert deadline_for("offline24", D(2026, 1, 9), _outage(UNAVAILABLE, ended)) == D(2026, 1, 12)


def test_unavailability_counts_from_its_end_in_the_polish_calendar():
    assert deadline_for("offline", D(2026, 4, 2), _outage(UNAVAILABLE, None)) is None
    ended = datetime(2026, 4, 3, 12, tzinfo=UTC)  # Good Friday
    assert deadline_for("offline", D(2026, 4, 2), _outage(UNAVAILABLE, ended)) == D(2026, 4, 7)
    # 23:30 UTC on Thursday is 00:30 on Friday in Warsaw: the end is on Friday.
    late = datetime(2026, 1, 8, 23, 30, tzinfo=UTC)
    assert deadline_for("offline", D(2026, 1, 8), _outage(UNAVAILABLE, late)) == D(2026, 1, 12)


def test_emergency_is_due_seven_business_days_after_the_failure_ends():
    assert deadline_for("emergency", D(2026, 12, 21), _outage(EMERGENCY, None)) is None
    ended = datetime(2026, 12, 22, 9, tzinfo=UTC)
    assert deadline_for("emergency", D(2026, 12, 21), _outage(EMERGENCY, ended)) == D(2027, 1, 5)
    ended = datetime(2026, 3, 6, 9, tzinfo=UTC)  # a Friday: Mon 9 .. Tue 17 March
    assert deadline_for("emergency", D(2026, 3, 5), _outage(EMERGENCY, ended)) == D(2026, 3, 17)


def test_a_failure_announced_while_an_invoice_waits_moves_its_deadline():
    ended = datetime(2026, 12, 22, 9, tzinfo=UTC)
    for mode in ("offline24", "offline"):
        assert deadline_for(mode, D(2026, 12, 21), _outage(EMERGENCY, None)) is None
        assert deadline_for(mode, D(2026, 12, 21), _outage(EMERGENCY, ended)) == D(2027, 1, 5)


def test_online_has_no_deadline_and_unknown_modes_are_refused():
    assert deadline_for("online", D(2026, 1, 8), None) is None
    with pytest.raises(ValueError):
        deadline_for("paper", D(2026, 1, 8), None)
