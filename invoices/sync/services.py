"""Starting and scheduling invoice sync: cursors per client, "sync now", the beat sweep.

Which clients sync: not archived, not paused, an access model chosen and the ZAW-FA
prerequisite out of the way. A client's cursors are created for the subject types its
office syncs (Subject1 and Subject2 by default); the incremental sync starts where the
cursor is born, and the history before it is fetched back to the client's (or office's)
backfill start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet

from clients.models import AccessModel, Client, Prerequisite
from invoices.models import (
    DEFAULT_SUBJECT_TYPES,
    InvoiceSyncState,
    OfficeSyncSettings,
    SyncCursor,
)
from invoices.sync import windows
from invoices.sync.clock import Clock, SystemClock
from portal.audit import audit_record
from portal.models import Membership, Office
from portal.queue import enqueue, enqueue_on_commit

STEP_TASK = "invoices.sync_step"
WARSAW = ZoneInfo("Europe/Warsaw")
UNLOCKING = (Prerequisite.State.NOT_REQUIRED, Prerequisite.State.CONFIRMED)


def office_settings(office: Office) -> OfficeSyncSettings:
    found, _ = OfficeSyncSettings.objects.get_or_create(
        office=office, defaults={"subject_types": list(DEFAULT_SUBJECT_TYPES)}
    )
    return found


def syncable_clients(office: Office | None = None) -> QuerySet[Client]:
    clients = Client.objects.filter(is_archived=False, prerequisite__state__in=UNLOCKING)
    clients = clients.exclude(access_model=AccessModel.UNDECIDED).exclude(sync_state__paused=True)
    return clients.filter(office=office) if office is not None else clients


def backfill_start(client: Client, settings: OfficeSyncSettings) -> dt.datetime:
    """The moment the client's history starts: its own choice, else the office's default."""
    state = InvoiceSyncState.objects.filter(client=client).first()
    return day_start((state.backfill_from if state else None) or settings.backfill_from)


def day_start(day: dt.date) -> dt.datetime:
    """Midnight of a Polish calendar day: where a history chosen by date begins."""
    return dt.datetime.combine(day, dt.time.min, WARSAW)


def cursors_ensure(client: Client, *, clock: Clock | None = None) -> list[SyncCursor]:
    """The client's cursors for the office's subject types, created where missing."""
    now = (clock or SystemClock()).now()
    settings = office_settings(client.office)
    InvoiceSyncState.objects.get_or_create(client=client)
    start = backfill_start(client, settings)
    cursors = []
    for subject_type in settings.subject_types:
        cursor, _ = SyncCursor.objects.get_or_create(
            client=client,
            subject_type=subject_type,
            defaults={
                "high_water_mark": now,
                "backfill_until": now,
                "backfill_next_to": now,
                "backfill_from": min(start, now),
                "backfill_windows_total": windows.windows_between(min(start, now), now),
            },
        )
        cursors.append(cursor)
    return cursors


def cursor_backfill_set(cursor: SyncCursor, start: dt.datetime) -> None:
    """Move the history start of a cursor; an earlier start resumes where the last ended."""
    next_to = cursor.backfill_next_to or cursor.backfill_until or start
    if cursor.backfill_from is not None and start >= cursor.backfill_from and cursor.backfill_done:
        return  # that history is here already
    cursor.backfill_from = start
    cursor.backfill_next_to = next_to  # the next window still ends where the last one began
    cursor.backfill_windows_total = cursor.backfill_windows_done + windows.windows_between(
        start, cursor.backfill_next_to
    )
    cursor.save(update_fields=["backfill_from", "backfill_next_to", "backfill_windows_total"])


def sync_request(*, actor: User | None, client: Client, clock: Clock | None = None) -> int:
    """ "Synchronizuj teraz": start a cycle of every subject type at once; returns how many."""
    with transaction.atomic():
        cursors = cursors_ensure(client, clock=clock)
        ids = [cursor.pk for cursor in cursors]
        SyncCursor.objects.filter(pk__in=ids).update(next_cycle_at=None, next_run_at=None)
        audit_record(
            office=client.office,
            actor=actor,
            action="invoices.sync_requested",
            obj=client,
            details={"subject_types": [cursor.subject_type for cursor in cursors]},
        )
        for cursor_id in ids:
            enqueue_on_commit(STEP_TASK, cursor_id)
    return len(ids)


def due_cursors(now: dt.datetime, cursors: QuerySet[SyncCursor]) -> list[int]:
    """Cursors with work and no step scheduled: incremental cycles first, then the rest."""
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    ready = Q(next_run_at__isnull=True) | Q(next_run_at__lte=now)
    cycle = Q(next_cycle_at__isnull=True) | Q(next_cycle_at__lte=now)
    backlog = ~Q(export_reference="") | Q(backfill_next_to__gt=F("backfill_from"))
    pending = cursors.filter(free, ready)
    first = list(pending.filter(cycle).order_by("next_cycle_at", "pk").values_list("pk", flat=True))
    rest = pending.filter(backlog).exclude(pk__in=first).order_by("pk")
    return first + list(rest.values_list("pk", flat=True))


def syncable_cursors(office: Office | None = None) -> QuerySet[SyncCursor]:
    """The cursors of syncable clients whose subject type their office syncs now."""
    offices = [office] if office is not None else Office.objects.all()
    chosen = Q(pk__in=[])
    for each in offices:
        types = office_settings(each).subject_types
        chosen |= Q(client__office=each, subject_type__in=types)
    return SyncCursor.objects.filter(chosen, client__in=syncable_clients(office))


def sync_schedule(*, clock: Clock | None = None) -> int:
    """Beat (every 5 minutes): make cursors for new clients and queue whatever is due."""
    now = (clock or SystemClock()).now()
    for office in Office.objects.all():
        types = office_settings(office).subject_types
        short = syncable_clients(office).annotate(
            n=Count("sync_cursors", filter=Q(sync_cursors__subject_type__in=types))
        )
        for client in short.filter(n__lt=len(types)).select_related("office"):
            cursors_ensure(client, clock=clock)
    queued = due_cursors(now, syncable_cursors())
    for cursor_id in queued:
        enqueue(STEP_TASK, cursor_id)
    return len(queued)


def sync_pause_set(*, actor: Membership, client: Client, paused: bool) -> InvoiceSyncState:
    with transaction.atomic():
        state, _ = InvoiceSyncState.objects.get_or_create(client=client)
        state.paused = paused
        state.save(update_fields=["paused"])
        audit_record(
            office=client.office,
            actor=actor.user,
            action="invoices.sync_paused" if paused else "invoices.sync_resumed",
            obj=client,
            details={},
        )
    return state


def client_backfill_set(*, actor: Membership, client: Client, start: dt.date | None) -> None:
    with transaction.atomic():
        state, _ = InvoiceSyncState.objects.get_or_create(client=client)
        state.backfill_from = start
        state.save(update_fields=["backfill_from"])
        moment = backfill_start(client, office_settings(client.office))
        for cursor in SyncCursor.objects.filter(client=client):
            cursor_backfill_set(cursor, moment)
        audit_record(
            office=client.office,
            actor=actor.user,
            action="invoices.backfill_set",
            obj=client,
            details={"from": start.isoformat() if start else ""},
        )


def office_settings_update(
    *, actor: Membership, subject_types: Iterable[str], backfill_from: dt.date
) -> OfficeSyncSettings:
    with transaction.atomic():
        settings = office_settings(actor.office)
        settings.subject_types = list(subject_types)
        settings.backfill_from = backfill_from
        settings.save(update_fields=["subject_types", "backfill_from", "updated_at"])
        defaulted = SyncCursor.objects.filter(client__office=actor.office).filter(
            Q(client__sync_state__isnull=True) | Q(client__sync_state__backfill_from__isnull=True)
        )
        moment = day_start(backfill_from)
        for cursor in defaulted:
            cursor_backfill_set(cursor, moment)
        audit_record(
            office=actor.office,
            actor=actor.user,
            action="invoices.settings_changed",
            obj=settings,
            details={"subject_types": settings.subject_types, "from": backfill_from.isoformat()},
        )
    return settings
