"""The sync engine: one step of one cursor (a client and a subject type) at a time.

A step claims the cursor (a lease, taken with a conditional UPDATE), does one piece of
work and says when the next one is due:

1. an export KSeF is preparing: poll its status; when ready, download it (streamed to
   disk, decrypted and hash-checked part by part), store every invoice once and move the
   cursor in the same transaction; a package that expired or broke is fetched again
   from the same `from`;
2. the incremental cycle is due (every 15 minutes per subject type): ask the metadata
   query whether anything new is past the high-water mark — one cheap request that is
   the whole cycle when nothing is — and start an export when something is;
3. otherwise the history (backfill), one window of at most 90 days at a time, newest first.

Exports are the main path: one request brings up to 10,000 invoices, where the metadata
query plus `GET /invoices/ksef/{n}` would spend the 64-an-hour download budget on 64
invoices. The metadata query serves only as the probe of step 2: it has its own budget
(20 an hour, like exports), so an idle client costs no export at all.

Every KSeF request goes through the shared rate limiter (invoices.sync.transport). When a
slot is not free, or KSeF answers 429, the step ends at once with the moment to come back;
transient failures come back with exponential backoff and jitter; failures only a person
can fix (no credential, no InvoiceRead) are retried rarely and shown red with the reason.
Nothing here sleeps holding a slot; the clock is injectable so benchmarks run KSeF's
production limits in virtual time.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from certificates import connection
from certificates.custody import SecretUnreadable
from clients.models import AccessModel
from invoices.models import InvoiceSyncState, SyncCursor
from invoices.sync import windows
from invoices.sync.clock import Clock, SystemClock
from invoices.sync.ingest import PackageCorrupt, checked_invoices, store_invoices
from invoices.sync.limiter import RateLimiter, rate_limiter
from invoices.sync.messages import is_permanent
from invoices.sync.transport import LimitedTransport, SlotUnavailable
from ksef import errors
from ksef.crypto import SYMMETRIC_KEY_ENCRYPTION, select_public_key_certificate
from ksef.models import EncryptionMaterial, InvoicePackage, InvoiceQueryFilters

logger = logging.getLogger(__name__)

CADENCE = timedelta(minutes=15)  # production interval per subject type (digest §5.7)
LEASE = timedelta(minutes=10)  # a step holding a cursor longer than this has died
POLL_FIRST = timedelta(seconds=1)
POLL_MAX = timedelta(seconds=30)
HWM_WAIT = timedelta(minutes=1)  # a window ends after KSeF's high-water mark: wait for it
HWM_WAIT_MIN = timedelta(milliseconds=10)
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(minutes=30)
PERMANENT_RETRY = timedelta(hours=6)
WAIT_SPREAD = timedelta(seconds=30)  # see _waiting
FAILING_AFTER = 3  # consecutive transient failures before the cursor shows red
PROBE_PAGE = 10  # the contract's smallest page: the probe only asks "anything new?"
HWM_NOT_REACHED = 21183  # dateRange.from is later than KSeF's high-water mark
PUBLIC_KEY_TTL = 3600.0

State = SyncCursor.State
Phase = SyncCursor.Phase
# The Ministry's public keys per KSeF base URL, with the moment they go stale.
_PUBLIC_KEYS: dict[str, tuple[float, Any]] = {}


@dataclass(frozen=True)
class StepResult:
    claimed: bool
    next_at: datetime | None = None  # None: nothing more to do until the next cycle
    stored: int = 0  # invoices newly linked to the client in this step
    state: str = ""
    error_code: str = ""
    permanent: bool = False


class StepFailure(Exception):
    def __init__(self, code: str, /, *, clear_export: bool = False, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params
        self.clear_export = clear_export


class Wait(Exception):
    """KSeF's limits: come back at `until` (not a failure)."""

    def __init__(self, until: datetime) -> None:
        super().__init__(until.isoformat())
        self.until = until


class LeaseLost(Exception):
    """Another worker took the cursor over (our lease expired): drop what we were doing."""


@dataclass
class Engine:
    clock: Clock = field(default_factory=SystemClock)
    limiter: RateLimiter | None = None
    sleep: Callable[[float], None] = time.sleep
    lease: timedelta = LEASE
    jitter: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        if self.limiter is None:
            self.limiter = rate_limiter(self.clock)

    # --- claims ----------------------------------------------------------------------------

    def claim(self, cursor_id: int) -> str | None:
        now = self.clock.now()
        token = uuid.uuid4().hex
        free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
        taken = SyncCursor.objects.filter(free, pk=cursor_id).update(
            lease_until=now + self.lease, lease_token=token
        )
        return token if taken else None

    def release(self, cursor_id: int, token: str, next_at: datetime | None) -> None:
        SyncCursor.objects.filter(pk=cursor_id, lease_token=token).update(
            lease_until=None, lease_token="", next_run_at=next_at
        )

    @contextmanager
    def _locked(self, cursor: SyncCursor, token: str) -> Iterator[None]:
        """A transaction in which our lease is checked first (and held on PostgreSQL)."""
        with transaction.atomic():
            held = SyncCursor.objects.select_for_update().filter(pk=cursor.pk, lease_token=token)
            if not held.exists():
                raise LeaseLost()
            yield

    # --- one step --------------------------------------------------------------------------

    def step(self, cursor_id: int, *, force: bool = False) -> StepResult:
        token = self.claim(cursor_id)
        if token is None:
            return StepResult(claimed=False)
        next_at: datetime | None = None
        try:
            cursor = SyncCursor.objects.select_related("client__office").get(pk=cursor_id)
            if not force and cursor.next_run_at and cursor.next_run_at > self.clock.now():
                next_at = cursor.next_run_at  # another chain is scheduled for it
                return StepResult(claimed=True, state=cursor.state)
            result = self._guarded(cursor, token)
            next_at = result.next_at
            return result
        except LeaseLost:
            return StepResult(claimed=False)
        finally:
            self.release(cursor_id, token, next_at)

    def _guarded(self, cursor: SyncCursor, token: str) -> StepResult:
        try:
            return self._work(cursor, token)
        except Wait as wait:
            return self._waiting(cursor, token, wait.until)
        except StepFailure as failure:
            return self._failed(cursor, token, failure)
        except LeaseLost:
            raise
        except Exception as exc:
            # A bug or a database error: recorded on the cursor and backed off like any
            # failure, so one broken client cannot spin a worker or hide its trouble.
            logger.exception("sync step of cursor %s failed unexpectedly", cursor.pk)
            return self._failed(cursor, token, StepFailure("unexpected", kind=type(exc).__name__))

    def _work(self, cursor: SyncCursor, token: str) -> StepResult:
        if not self._should_sync(cursor):
            self._save(cursor, token, state=State.IDLE)
            return StepResult(claimed=True, state=State.IDLE)
        with self._translated(cursor), self._session(cursor) as (ctx, transport):
            if cursor.export_reference:
                transport.backfill = cursor.export_phase == Phase.BACKFILL
                return self._follow_export(cursor, token, ctx)
            if self._incremental_due(cursor):
                return self._incremental(cursor, token, ctx)
            if not cursor.backfill_done:
                transport.backfill = True
                return self._probe(cursor, token, ctx, windows.backfill_request(cursor))
        self._save(cursor, token, state=State.IDLE)
        return StepResult(claimed=True, state=State.IDLE)

    def _should_sync(self, cursor: SyncCursor) -> bool:
        client = cursor.client
        state = InvoiceSyncState.objects.filter(client=client).first()
        return not client.is_archived and not (state and state.paused)

    def _incremental_due(self, cursor: SyncCursor) -> bool:
        return cursor.next_cycle_at is None or cursor.next_cycle_at <= self.clock.now()

    # --- KSeF session ------------------------------------------------------------------------

    @contextmanager
    def _session(
        self, cursor: SyncCursor
    ) -> Iterator[tuple[connection.KsefContext, LimitedTransport]]:
        client = cursor.client
        if client.access_model == AccessModel.UNDECIDED:
            raise StepFailure("no_access_model")
        credential = connection.credential_for_client_context(client)
        if credential is None:
            code = "no_office_credential" if client.access_model == AccessModel.OFFICE else ""
            raise StepFailure(code or "no_credential")
        assert self.limiter is not None
        transport = LimitedTransport(
            connection.transport() or httpx.HTTPTransport(),
            self.limiter,
            context=client.nip,
            api_base_url=settings.KSEF_BASE_URL,
        )
        http = httpx.Client(transport=transport, timeout=connection.TIMEOUT_SECONDS)
        with (
            http,
            connection.reusable_session(
                credential=credential,
                context_nip=client.nip,
                purpose="invoice_sync",
                http=http,
                now=self.clock.now,
                sleep=self.sleep,
            ) as ctx,
        ):
            transport.table = self.limiter.limits_table(
                client.nip, read=lambda: ctx.session.call(ctx.client.get_rate_limits)
            )
            yield ctx, transport

    def _public_key(self, ctx: connection.KsefContext) -> Any:
        # Per process, not per engine: a Celery worker builds an engine for every step.
        cached = _PUBLIC_KEYS.get(settings.KSEF_BASE_URL)
        if cached is None or cached[0] < self.clock.time():
            certificates = ctx.client.get_public_key_certificates()
            cached = (self.clock.time() + PUBLIC_KEY_TTL, certificates)
            _PUBLIC_KEYS[settings.KSEF_BASE_URL] = cached
        return select_public_key_certificate(cached[1], SYMMETRIC_KEY_ENCRYPTION, self.clock.now())

    @contextmanager
    def _translated(self, cursor: SyncCursor) -> Iterator[None]:
        """KSeF's and the custody's exceptions as the engine acts on them."""
        nip = cursor.client.nip
        try:
            yield
        except (Wait, StepFailure, LeaseLost):
            raise
        except SlotUnavailable as exc:
            raise Wait(self._at(exc.retry_at)) from None
        except errors.RateLimitedError as exc:
            raise Wait(self.clock.now() + timedelta(seconds=exc.retry_after or 60)) from None
        except SecretUnreadable:
            raise StepFailure("secret_unreadable") from None
        except errors.AuthenticationFailed as exc:
            if exc.code in (500, 550):
                raise StepFailure("ksef_unavailable", status=exc.code) from None
            raise StepFailure(f"auth_{exc.code}", nip=nip) from None
        except errors.ForbiddenError:
            raise StepFailure("no_invoice_read", nip=nip) from None
        except errors.ServerError as exc:
            raise StepFailure("ksef_unavailable", status=exc.status_code) from None
        except (errors.KsefTransportError, errors.OperationTimeout, httpx.HTTPError):
            raise StepFailure("timeout") from None
        except (errors.ExportPartCorrupted, PackageCorrupt) as exc:
            raise StepFailure("package_corrupt", reason=str(exc)) from None
        except errors.ExportPackageInvalid as exc:
            raise StepFailure("package_corrupt", clear_export=True, reason=str(exc)) from None
        except errors.KsefApiError as exc:
            details = "; ".join(exc.details) or exc.description or "—"
            raise StepFailure("ksef_rejected", status=exc.status_code, details=details) from None

    def _at(self, epoch: float) -> datetime:
        return self.clock.now() + timedelta(seconds=max(0.0, epoch - self.clock.time()))

    # --- incremental ---------------------------------------------------------------------

    def _incremental(
        self, cursor: SyncCursor, token: str, ctx: connection.KsefContext
    ) -> StepResult:
        now = self.clock.now()
        request = windows.incremental_request(cursor, now)
        if cursor.cycle_started_at is None or cursor.state not in (State.SYNCING, State.WAITING):
            cursor.cycle_started_at = now
        return self._probe(cursor, token, ctx, request)

    def _probe(
        self,
        cursor: SyncCursor,
        token: str,
        ctx: connection.KsefContext,
        request: windows.Request,
    ) -> StepResult:
        """Ask the metadata query whether the range holds anything; export only if it does.

        An empty range (most incremental cycles, quiet months of a small client) then
        costs one metadata request instead of an export, its status and its download."""
        try:
            page = ctx.session.call(
                ctx.client.query_invoice_metadata,
                self._filters(cursor, request),
                page_offset=0,
                page_size=PROBE_PAGE,
            )
        except errors.BadRequestError as exc:
            if not exc.has_code(HWM_NOT_REACHED):
                raise
            return self._hwm_not_reached(cursor, token, request)
        if page.invoices or page.has_more:
            return self._start_export(cursor, token, ctx, request)
        end = windows.PackageEnd(False, None, page.permanent_storage_hwm_date)
        return self._store(cursor, token, request, end, reader=None)

    def _hwm_not_reached(
        self, cursor: SyncCursor, token: str, request: windows.Request
    ) -> StepResult:
        """KSeF's high-water mark has not reached `from` yet (21183): nothing before it is
        final. An incremental cycle has nothing new; a backfill window must wait, or the
        invoices still landing just before the incremental start would be skipped."""
        if request.phase == Phase.INCREMENTAL:
            end = windows.PackageEnd(False, None, None)
            return self._store(cursor, token, request, end, reader=None)
        next_at = self.clock.now() + HWM_WAIT
        return StepResult(claimed=True, next_at=next_at, state=cursor.state)

    def _filters(self, cursor: SyncCursor, request: windows.Request) -> InvoiceQueryFilters:
        return InvoiceQueryFilters(
            subject_type=cursor.subject_type,
            date_from=request.date_from,
            date_to=request.date_to,
            restrict_to_hwm=True,
        )

    # --- exports ---------------------------------------------------------------------------

    def _start_export(
        self,
        cursor: SyncCursor,
        token: str,
        ctx: connection.KsefContext,
        request: windows.Request,
    ) -> StepResult:
        export = ctx.session.call(
            ctx.client.start_invoice_export,
            self._filters(cursor, request),
            public_key=self._public_key(ctx),
        )
        now = self.clock.now()
        self._save(
            cursor,
            token,
            export_reference=export.reference_number,
            export_key=export.encryption.key + export.encryption.iv,
            export_phase=request.phase,
            export_from=request.date_from,
            export_to=request.date_to,
            export_started_at=now,
            state=self._busy_state(request.phase),
            cycle_started_at=cursor.cycle_started_at,
        )
        # Ask at once: a small package is often ready already, and the status budget
        # (600 an hour) is thirty times the exports' (20), so the extra call is cheap.
        return StepResult(claimed=True, next_at=now, state=cursor.state)

    def _busy_state(self, phase: str) -> str:
        return State.SYNCING if phase == Phase.INCREMENTAL else State.BACKFILLING

    def _pending_request(self, cursor: SyncCursor) -> windows.Request:
        assert cursor.export_from is not None
        return windows.Request(cursor.export_phase, cursor.export_from, cursor.export_to)

    def _follow_export(
        self, cursor: SyncCursor, token: str, ctx: connection.KsefContext
    ) -> StepResult:
        status = ctx.session.call(ctx.client.get_invoice_export_status, cursor.export_reference)
        code = status.status.code
        if code == 100:
            return StepResult(claimed=True, next_at=self._next_poll(cursor), state=cursor.state)
        if code == 200 and status.package is not None:
            return self._download(cursor, token, ctx, status.package)
        if code == 210:  # the package expired before we got it: the same `from` again
            self._clear_export(cursor, token)
            return StepResult(claimed=True, next_at=self.clock.now(), state=cursor.state)
        if code == 420:  # `from` is past KSeF's high-water mark: come back when it moved
            self._clear_export(cursor, token)
            return StepResult(claimed=True, next_at=self.clock.now() + HWM_WAIT, state=cursor.state)
        raise StepFailure(
            "export_failed",
            clear_export=True,
            code=code,
            description=status.status.description or "—",
        )

    def _next_poll(self, cursor: SyncCursor) -> datetime:
        now = self.clock.now()
        elapsed = now - (cursor.export_started_at or now)
        return now + min(POLL_MAX, max(POLL_FIRST, elapsed / 4))

    def _download(
        self,
        cursor: SyncCursor,
        token: str,
        ctx: connection.KsefContext,
        package: InvoicePackage,
    ) -> StepResult:
        key = bytes(cursor.export_key)
        encryption = EncryptionMaterial(key[:32], key[32:])
        end = windows.PackageEnd(
            package.is_truncated,
            package.last_permanent_storage_date,
            package.permanent_storage_hwm_date,
        )
        try:
            with ctx.client.open_export_package(package, encryption) as reader:
                return self._store(cursor, token, self._pending_request(cursor), end, reader)
        except errors.ExportLinkExpired:
            # Every status call hands out fresh links: ask again in a moment.
            next_at = self.clock.now() + POLL_FIRST
            return StepResult(claimed=True, next_at=next_at, state=cursor.state)

    # --- storing and moving the cursor -----------------------------------------------------

    def _store(
        self,
        cursor: SyncCursor,
        token: str,
        request: windows.Request,
        end: windows.PackageEnd,
        reader: Any,
    ) -> StepResult:
        now = self.clock.now()
        with self._locked(cursor, token):
            stored = 0
            if reader is not None:
                rows = zip(reader.metadata, reader.metadata_rows, strict=True)
                invoices = checked_invoices(rows, reader.iter_invoices())
                stored = store_invoices(
                    client_id=cursor.client_id, subject_type=cursor.subject_type, invoices=invoices
                ).links_new
            fields, next_at = self._advance(cursor, request, end, now)
            fields.update(self._cleared_export())
            self._apply(cursor, fields, stored, request.phase)
            if fields.get("state") == State.IDLE or request.phase == Phase.INCREMENTAL:
                self._summary_ok(cursor, now, cycle_done=fields.get("next_cycle_at") is not None)
        return StepResult(claimed=True, next_at=next_at, stored=stored, state=cursor.state)

    def _advance(
        self,
        cursor: SyncCursor,
        request: windows.Request,
        end: windows.PackageEnd,
        now: datetime,
    ) -> tuple[dict[str, Any], datetime | None]:
        start = windows.next_from(request, end)
        if request.phase == Phase.INCREMENTAL:
            fields: dict[str, Any] = {"high_water_mark": start}
            if windows.caught_up(request, end) and request.date_to is None:
                fields |= self._cycle_done(cursor, now)
                idle = cursor.backfill_done
                fields["state"] = State.IDLE if idle else State.BACKFILLING
                return fields, None if idle else now
            # A stored package ends a run of failures: only consecutive ones turn it red.
            recovered = {"failures": 0, "last_error_code": "", "last_error_params": {}}
            return fields | recovered | {"state": State.SYNCING}, now
        return self._backfill_advance(cursor, request, end, start, now)

    def _cycle_done(self, cursor: SyncCursor, now: datetime) -> dict[str, Any]:
        started = cursor.cycle_started_at or now
        return {
            "next_cycle_at": started + CADENCE,
            "last_success_at": now,
            "failures": 0,
            "last_error_code": "",
            "last_error_params": {},
            "waiting_until": None,
        }

    def _backfill_advance(
        self,
        cursor: SyncCursor,
        request: windows.Request,
        end: windows.PackageEnd,
        start: datetime,
        now: datetime,
    ) -> tuple[dict[str, Any], datetime | None]:
        fields: dict[str, Any] = {"failures": 0, "last_error_code": "", "last_error_params": {}}
        if end.is_truncated:
            return fields | {"backfill_window_from": start, "state": State.BACKFILLING}, now
        if not windows.caught_up(request, end):
            # The window reaches past KSeF's high-water mark: come back when it should be
            # there (the mark trails the clock by a steady lag), within a minute.
            return fields | {"backfill_window_from": start}, now + self._hwm_wait(request, end)
        window_from, _ = windows.backfill_window(cursor)
        fields |= {
            "backfill_next_to": window_from,
            "backfill_window_from": None,
            "backfill_windows_done": F("backfill_windows_done") + 1,
        }
        cursor.backfill_next_to = window_from
        done = cursor.backfill_done
        fields["state"] = (
            State.IDLE if done and not self._incremental_due(cursor) else (State.BACKFILLING)
        )
        return fields, None if done and fields["state"] == State.IDLE else now

    def _hwm_wait(self, request: windows.Request, end: windows.PackageEnd) -> timedelta:
        hwm = end.permanent_storage_hwm_date
        if hwm is None or request.date_to is None:
            return HWM_WAIT
        return min(HWM_WAIT, max(HWM_WAIT_MIN, request.date_to - hwm))

    def _apply(self, cursor: SyncCursor, fields: dict[str, Any], stored: int, phase: str) -> None:
        fields["invoices_stored"] = F("invoices_stored") + stored
        if phase == Phase.BACKFILL:
            fields["backfill_invoices_stored"] = F("backfill_invoices_stored") + stored
        SyncCursor.objects.filter(pk=cursor.pk).update(**fields)
        cursor.refresh_from_db()

    def _summary_ok(self, cursor: SyncCursor, now: datetime, *, cycle_done: bool) -> None:
        """The client's summary row: success once every subject type is out of trouble."""
        state, _ = InvoiceSyncState.objects.get_or_create(client_id=cursor.client_id)
        troubled = SyncCursor.objects.filter(client_id=cursor.client_id, failures__gt=0)
        fields: dict[str, Any] = {}
        if cycle_done:
            fields["last_success_at"] = now
        if not troubled.exists():
            fields |= {"last_error_code": "", "last_error_params": {}, "last_error_at": None}
        if fields:
            InvoiceSyncState.objects.filter(pk=state.pk).update(**fields)

    def _cleared_export(self) -> dict[str, Any]:
        return {
            "export_key": b"",
            "export_reference": "",
            "export_phase": "",
            "export_from": None,
            "export_to": None,
            "export_started_at": None,
        }

    def _clear_export(self, cursor: SyncCursor, token: str) -> None:
        self._save(cursor, token, **self._cleared_export())

    def _save(self, cursor: SyncCursor, token: str, **fields: Any) -> None:
        with self._locked(cursor, token):
            for name, value in fields.items():
                setattr(cursor, name, value)
            cursor.save(update_fields=[*fields, "updated_at"])

    # --- waiting and failing ---------------------------------------------------------------

    def _waiting(self, cursor: SyncCursor, token: str, until: datetime) -> StepResult:
        # Many cursors refused at once are told the same first free slot; spread their
        # return so that they do not all come back for it (and nearly all be refused
        # again): the per-IP login counter (60/s) is shared by every client of the office.
        until += WAIT_SPREAD * self.jitter()
        self._save(cursor, token, state=State.WAITING, waiting_until=until)
        return StepResult(claimed=True, next_at=until, state=State.WAITING)

    def _failed(self, cursor: SyncCursor, token: str, failure: StepFailure) -> StepResult:
        now = self.clock.now()
        permanent = is_permanent(failure.code)
        failures = cursor.failures + 1
        retry = PERMANENT_RETRY if permanent else self._backoff(failures)
        fields: dict[str, Any] = {
            "failures": failures,
            "last_error_code": failure.code,
            "last_error_params": failure.params,
            "last_error_at": now,
            "waiting_until": None,
        }
        if permanent or failures >= FAILING_AFTER:
            fields["state"] = State.FAILING
        if failure.clear_export:
            fields |= self._cleared_export()
        self._save(cursor, token, **fields)
        InvoiceSyncState.objects.update_or_create(
            client_id=cursor.client_id,
            defaults={
                "last_error_code": failure.code,
                "last_error_params": failure.params,
                "last_error_at": now,
            },
        )
        logger.info(
            "sync of client %s %s failed (%s, %d in a row)",
            cursor.client_id,
            cursor.subject_type,
            failure.code,
            failures,
        )
        return StepResult(
            claimed=True,
            next_at=now + retry,
            state=cursor.state,
            error_code=failure.code,
            permanent=permanent,
        )

    def _backoff(self, failures: int) -> timedelta:
        """Equal-jitter exponential backoff, so a failing KSeF is not met with a storm."""
        ceiling = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (failures - 1))
        return ceiling / 2 + ceiling / 2 * self.jitter()
