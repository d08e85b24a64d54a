"""Reads of the sync state for the portal's screens: one client's status, the office's
settings, and why a client cannot sync right now.

Nothing here writes: a client that has never synced has no cursors and no summary row yet,
and the office that never opened its settings has none either — the screens show the
defaults the engine would use, and the rows appear when the first sync creates them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from clients.models import AccessModel, Client, Prerequisite
from invoices.models import (
    DEFAULT_SUBJECT_TYPES,
    InvoiceSyncState,
    OfficeSyncSettings,
    SubjectType,
    SyncCursor,
)
from portal.models import Office

State = SyncCursor.State
# The states in which the engine is working on a cursor (or waiting for KSeF's limits to
# let it go on): the status screen keeps polling while any cursor is in one of them.
BUSY_STATES = (State.SYNCING, State.BACKFILLING, State.WAITING)
UNLOCKING = (Prerequisite.State.NOT_REQUIRED, Prerequisite.State.CONFIRMED)


def office_settings_read(office: Office) -> OfficeSyncSettings:
    """The office's sync settings, or the defaults (unsaved) when it never changed them."""
    found = OfficeSyncSettings.objects.filter(office=office).first()
    return found or OfficeSyncSettings(office=office, subject_types=list(DEFAULT_SUBJECT_TYPES))


def sync_blocked_reason(client: Client) -> str | Promise:
    """Why "Synchronizuj teraz" cannot run for the client ("" when it can).

    The same conditions as `invoices.sync.services.syncable_clients`, one at a time, so
    the person pressing the button learns what to fix."""
    if client.is_archived:
        return _("Klient jest w archiwum — portal nie pobiera jego faktur.")
    state = InvoiceSyncState.objects.filter(client=client).first()
    if state is not None and state.paused:
        return _("Synchronizacja tego klienta jest wstrzymana. Wznów ją, aby pobrać faktury.")
    prerequisite = Prerequisite.objects.filter(client=client).first()
    if prerequisite is None or prerequisite.state not in UNLOCKING:
        return _("Najpierw spełnij wymóg ZAW-FA (niewymagany albo potwierdzony).")
    if client.access_model == AccessModel.UNDECIDED:
        return _("Nie wybrano modelu dostępu do KSeF — wybierz go w kroku „Poświadczenia”.")
    return ""


def cursor_busy(cursor: SyncCursor, *, can_sync: bool) -> bool:
    """Whether the engine is (or is about to be) working on the cursor.

    A requested cycle (`next_cycle_at` cleared by "Synchronizuj teraz") counts as busy
    until its first step runs, so the page that answers the button keeps watching; a
    client that cannot sync will never run it, so for it only a real state counts."""
    if cursor.state == State.FAILING:
        return False
    if cursor.state in BUSY_STATES or cursor.export_reference:
        return True
    return can_sync and cursor.next_cycle_at is None


@dataclass(frozen=True)
class CursorRow:
    """One subject type of the client: its cursor, or None before the first sync."""

    subject_type: str
    cursor: SyncCursor | None
    busy: bool

    @property
    def label(self) -> str:
        return str(SubjectType(self.subject_type).label)

    @property
    def state(self) -> str:
        return self.cursor.state if self.cursor else ""


@dataclass(frozen=True)
class ClientSyncStatus:
    client: Client
    rows: list[CursorRow]
    summary: InvoiceSyncState | None
    settings: OfficeSyncSettings
    blocked_reason: str | Promise

    @property
    def busy(self) -> bool:
        return any(row.busy for row in self.rows)

    @property
    def can_sync(self) -> bool:
        return not self.blocked_reason

    @property
    def paused(self) -> bool:
        return bool(self.summary and self.summary.paused)

    @property
    def own_backfill_from(self) -> dt.date | None:
        return self.summary.backfill_from if self.summary else None

    @property
    def backfill_from(self) -> dt.date:
        """Where the client's history starts: its own choice, else the office's default."""
        return self.own_backfill_from or self.settings.backfill_from

    @property
    def last_success_at(self) -> dt.datetime | None:
        return self.summary.last_success_at if self.summary else None

    @property
    def invoices_stored(self) -> int:
        return sum(row.cursor.invoices_stored for row in self.rows if row.cursor)


def client_sync_status(client: Client) -> ClientSyncStatus:
    """The client's sync, one row per subject type its office syncs."""
    settings = office_settings_read(client.office)
    cursors = {c.subject_type: c for c in SyncCursor.objects.filter(client=client)}
    blocked = sync_blocked_reason(client)
    rows = [
        CursorRow(
            subject_type=subject_type,
            cursor=cursors.get(subject_type),
            busy=subject_type in cursors
            and cursor_busy(cursors[subject_type], can_sync=not blocked),
        )
        for subject_type in settings.subject_types
    ]
    return ClientSyncStatus(
        client=client,
        rows=rows,
        summary=InvoiceSyncState.objects.filter(client=client).first(),
        settings=settings,
        blocked_reason=blocked,
    )
