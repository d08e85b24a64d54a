"""Which dates the next export asks for, and where a cursor stands after a package.

KSeF's official incremental algorithm (digest §5.7): dates of type PermanentStorage,
`restrictToPermanentStorageHwmDate=true`, adjacent windows, no `to` so KSeF builds the
largest consistent package; the next `from` is the package's `lastPermanentStorageDate`
when KSeF truncated it (10,000 invoices or 1 GB), otherwise its `permanentStorageHwmDate`.
Boundary records repeat by design and are dropped by KSeF number when stored.

A query may span at most three months, so a cursor that fell further behind (paused, or
failing for long) catches up in windows with an explicit `to`, and the history before the
incremental start (the backfill) is fetched in windows of at most 90 days.

Backfill runs newest first: the months an accountant is closing now arrive before the
ones already closed, and a client with years of history is useful from the first hour.
Inside a window packages run forward (KSeF sorts ascending), resuming from the last date.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from invoices.models import SyncCursor

# KSeF rejects a dateRange longer than three months; 90 days is always shorter.
MAX_WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class Request:
    phase: str  # SyncCursor.Phase
    date_from: datetime
    date_to: datetime | None  # None: up to KSeF's high-water mark


@dataclass(frozen=True)
class PackageEnd:
    """What a finished package says about its end (the export status' package fields)."""

    is_truncated: bool
    last_permanent_storage_date: datetime | None
    permanent_storage_hwm_date: datetime | None


def incremental_request(cursor: SyncCursor, now: datetime) -> Request:
    start = cursor.high_water_mark
    assert start is not None, "an incremental cursor starts with a high-water mark"
    date_to = None if now - start < MAX_WINDOW else start + MAX_WINDOW
    return Request(SyncCursor.Phase.INCREMENTAL, start, date_to)


def backfill_window(cursor: SyncCursor) -> tuple[datetime, datetime]:
    """The window being fetched: [from, to), at most 90 days, ending at backfill_next_to."""
    assert cursor.backfill_next_to is not None and cursor.backfill_from is not None
    window_to = cursor.backfill_next_to
    return max(cursor.backfill_from, window_to - MAX_WINDOW), window_to


def backfill_request(cursor: SyncCursor) -> Request:
    window_from, window_to = backfill_window(cursor)
    start = cursor.backfill_window_from or window_from
    return Request(SyncCursor.Phase.BACKFILL, start, window_to)


def windows_between(start: datetime, end: datetime) -> int:
    """How many backfill windows cover [start, end)."""
    if end <= start:
        return 0
    return math.ceil((end - start) / MAX_WINDOW)


def next_from(request: Request, end: PackageEnd) -> datetime:
    """Where the next package of the same run starts (the official rule)."""
    if end.is_truncated:
        last = end.last_permanent_storage_date
        if last is None or last < request.date_from:
            raise ValueError("a truncated package must report its last permanent-storage date")
        return last
    hwm = end.permanent_storage_hwm_date
    if request.date_to is None:
        # Without `to`, KSeF stopped at its high-water mark: nothing before it can still come.
        return max(hwm, request.date_from) if hwm is not None else request.date_from
    return min(request.date_to, hwm) if hwm is not None else request.date_to


def caught_up(request: Request, end: PackageEnd) -> bool:
    """The run reached KSeF's high-water mark (incremental) or the window's end (backfill)."""
    if end.is_truncated:
        return False
    if request.date_to is None:
        return True
    hwm = end.permanent_storage_hwm_date
    return hwm is None or hwm >= request.date_to
