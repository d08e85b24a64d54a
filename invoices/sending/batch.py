"""Batch sessions of the sender: which kind of session a job goes in, and the batch path
with the same exactly-once guarantees as the online one (digest §5.4, §5.5, §8).

One batch of a job (at most one session's worth of invoices, see `split_batches`):

1. the package is built on disk (ksef.batch: ZIP, cut into parts, AES per part);
2. a `SendSession` row in state "opening" and the batch's invoices as "sending" in it are
   committed BEFORE `POST /sessions/batch`;
3. KSeF's reference is committed (session and invoices) as soon as the open returns;
4. the parts are uploaded to their pre-signed links (retried: a part upload overwrites the
   same blob), the session is closed and followed in KSeF's time (`ComeBack` when it takes
   longer than the run may wait); then every invoice is looked up by hash in the session's
   invoice list: KSeF number and acquisition date stored as Invoice + ClientInvoice exactly
   as the online path stores them, rejections with KSeF's code; the session UPO pages are
   stored once (`SessionUpoPage`) and each invoice points at the page that lists it.

After a timeout, a 5xx or a killed worker at any step the next run looks the session up
before anything is sent again:

* "opening" (the open's answer never came): KSeF may have opened a session, but the
  upload links came only in that answer, so nothing can have been uploaded into it and
  KSeF cancels it (440) when its upload window ends. Its invoices go back to the queue;
  the session, when `GET /sessions` shows one opened then, is recorded as an orphan.
* with a reference: `GET /sessions/{ref}` decides. 100 (open): the close is tried again —
  accepted, the session is followed; refused because a part is missing or the window is
  over (21205, 21157, 21208), the session can never be processed, so its invoices go back
  to the queue. 150: followed. 200/445: outcomes stored. 440 (cancelled): back to the
  queue. Another session error (405, 415, 420, 430, 435, 500) ends the job with KSeF's
  code, its invoices drafts again for "Spróbuj ponownie".

An invoice is put into a new session only once KSeF's state of the previous one says it
cannot hold it: no invoice gets two KSeF numbers, none is lost.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.db import transaction
from lxml import etree

from certificates import connection
from invoices.models import (
    Invoice,
    OutgoingInvoice,
    SendJob,
    SendSession,
    SessionUpoPage,
    SubjectType,
)
from invoices.sending.services import audit_sent
from invoices.sync.ingest import store_invoices
from ksef import errors
from ksef.batch import (
    MAX_PART_BYTES,
    MAX_PARTS,
    BatchPackage,
    BatchPartUploadError,
    build_batch_package,
)
from ksef.crypto import SYMMETRIC_KEY_ENCRYPTION, select_public_key_certificate
from ksef.models import BatchSession, SessionInvoiceStatus, SessionStatus

if TYPE_CHECKING:
    from invoices.sending.sender import Sender

logger = logging.getLogger(__name__)

State = OutgoingInvoice.State
SessionState = SendSession.State
Kind = SendJob.SessionKind
R = TypeVar("R")

# --- which kind of session --------------------------------------------------------------

# KSeF's limits of one session (digest §8): 10,000 invoices; a package of at most 50 parts
# of at most 100 MB each before encryption. Settings may lower them (tests force parts).
MAX_SESSION_INVOICES = 10_000
ONLINE_MAX_INVOICES = 30
# What the ZIP adds per file at most (local header + central directory entry with a name
# of ≤ 128 characters, deflate's worst case for a few-KB file), so that the sum of the file
# sizes plus this bounds the archive before it is built.
_ZIP_OVERHEAD = 400


def part_bytes() -> int:
    return min(int(settings.KSEF_BATCH_PART_BYTES), MAX_PART_BYTES)


def session_invoice_limit() -> int:
    return min(int(settings.KSEF_BATCH_MAX_INVOICES), MAX_SESSION_INVOICES)


def choose_session_kind(count: int, total_bytes: int, has_attachments: bool) -> str:
    """ "online" or "batch" for COUNT invoices of TOTAL_BYTES, from KSeF's limits.

    The rule: **batch when any invoice has an attachment, or there are more than 30
    invoices; online otherwise** (a job of more than one batch session's worth is split
    by `split_batches`).

    Why (production limits, contract 2.6.0, digest §5, §8):

    * KSeF takes an invoice with attachments only in a batch session (online: 415).
    * Online, every invoice is its own POST in the group `invoiceSend` (10/s, 30/min,
      180/h, counted per context and shared by every job of the client) and its UPO one
      more GET in `sessionMisc` (10/s, 120/min, 1200/h). Up to 30 invoices go out within
      one minute's window and each has its KSeF number within seconds — nothing is faster.
      Beyond that each further 30 cost a minute and each 180 an hour (1,000 invoices:
      more than 5 hours), and the hour's budget is gone for the client's other jobs.
    * A batch costs two calls of `batchSession` (open, close: 10/s, 20/min, 60/h) whatever
      it holds, parts are not rate-limited, and the session's invoices are read 1,000 per
      page with one UPO page per 10,000: its price is KSeF's processing time (a minute or
      more), which for more than 30 invoices is less than what online sending waits for.
    * TOTAL_BYTES does not change the choice (an online invoice is at most 1 MB, the same
      as in a batch); it decides how many sessions a batch job needs (`split_batches`).
    """
    del total_bytes
    if has_attachments or count > ONLINE_MAX_INVOICES:
        return str(Kind.BATCH)
    return str(Kind.ONLINE)


def job_session_kind(job: SendJob) -> str:
    """The kind for the job's queued invoices (also stored on the job)."""
    queued = job.invoices.filter(state=State.QUEUED)
    count = queued.count()
    sizes = list(queued.values_list("size", flat=True))
    attachments = False
    if count <= ONLINE_MAX_INVOICES:
        contents = queued.values_list("xml", flat=True)
        attachments = any(b"Zalacznik" in bytes(xml) for xml in contents)
    return choose_session_kind(count, sum(sizes), attachments)


def split_batches(invoices: Sequence[tuple[int, int]]) -> list[list[int]]:
    """(pk, size) in order -> groups of pks, each within one batch session's limits: at
    most `session_invoice_limit()` invoices and an archive that surely fits 50 parts."""
    budget = MAX_PARTS * part_bytes()
    limit = session_invoice_limit()
    groups: list[list[int]] = []
    current: list[int] = []
    used = 0
    for pk, size in invoices:
        cost = size + _ZIP_OVERHEAD
        if current and (len(current) >= limit or used + cost > budget):
            groups.append(current)
            current, used = [], 0
        current.append(pk)
        used += cost
    if current:
        groups.append(current)
    return groups


# --- sending ------------------------------------------------------------------------------

_PACKAGE_DEAD = {21157, 21205, 21208}  # close refused: a part is missing/wrong, window over
_IN_PROGRESS = {100, 150}
_UPLOAD_ATTEMPTS = 4
_RATE_LIMIT_WAITS = 20
_STORE_CHUNK = 500
_POLL_MAX = 30.0  # seconds between status polls at most (sessionMisc: 1,200/h)
_POLL_SHARE = 0.2
_ORPHAN_SLACK = timedelta(minutes=2)


class BatchSender:
    """The batch path of one run of `Sender` (its clock, sleep and limits)."""

    def __init__(self, sender: Sender, ctx: connection.KsefContext, job: SendJob) -> None:
        self.sender = sender
        self.ctx = ctx
        self.job = job

    # --- calls ------------------------------------------------------------------------

    def call(self, operation: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """A session call that waits out 429 (Retry-After) instead of ending the run: a
        batch's steps are cheap to repeat but its invoice list is read page by page."""
        for _attempt in range(_RATE_LIMIT_WAITS):
            try:
                return self.ctx.session.call(operation, *args, **kwargs)
            except errors.RateLimitedError as exc:
                wait = float(exc.retry_after or 1.0)
                if wait > 300:
                    raise
                self.sender.sleep(wait)
        return self.ctx.session.call(operation, *args, **kwargs)

    # --- recovery of what an earlier run left ------------------------------------------

    def recover_opening(self) -> None:
        """Sessions whose open never returned: back to the queue (nothing was uploaded)."""
        for marker in SendSession.objects.filter(
            job=self.job, kind=SendSession.Kind.BATCH, state=SessionState.OPENING
        ):
            orphans = self._orphans(marker)
            with transaction.atomic():
                self._requeue(marker)
                SendSession.objects.filter(pk=marker.pk).update(
                    state=SessionState.ABANDONED, orphans=orphans
                )
            logger.info(
                "send job %s: batch open of %s lost; %d orphan session(s), invoices queued again",
                self.job.pk,
                marker.opened_at,
                len(orphans),
            )

    def _orphans(self, marker: SendSession) -> list[str]:
        known = set(
            SendSession.objects.filter(client=marker.client)
            .exclude(reference="")
            .values_list("reference", flat=True)
        )
        try:
            page = self.call(
                self.ctx.client.list_sessions,
                "Batch",
                date_created_from=marker.opened_at - _ORPHAN_SLACK,
                page_size=100,
            )
        except (errors.KsefApiError, errors.KsefTransportError) as exc:
            logger.warning("send job %s: sessions not listed: %s", self.job.pk, exc)
            return []
        return sorted(
            s.reference_number
            for s in page.sessions
            if s.reference_number not in known and not s.successful_invoice_count
        )

    # --- one job ------------------------------------------------------------------------

    def send_queued(self) -> None:
        """The queued invoices in sessions of their own per offline flag (`offlineMode` is
        declared for a whole batch), each within one session's limits."""
        queued = self.job.invoices.filter(state=State.QUEUED).order_by("position")
        rows = list(queued.values_list("pk", "size", "invoicing_mode"))
        online = [(pk, size) for pk, size, mode in rows if mode == OutgoingInvoice.Mode.ONLINE]
        offline = [(pk, size) for pk, size, mode in rows if mode != OutgoingInvoice.Mode.ONLINE]
        for invoices, offline_mode in ((online, False), (offline, True)):
            for group in split_batches(invoices):
                self.send_group(group, offline_mode=offline_mode)

    def send_group(self, pks: list[int], *, offline_mode: bool = False) -> None:
        ctx = self.ctx
        public_key = select_public_key_certificate(
            ctx.client.get_public_key_certificates(),
            SYMMETRIC_KEY_ENCRYPTION,
            self.sender.now(),
        )
        with build_batch_package(self._files(pks), part_size=part_bytes()) as package:
            marker = self._mark(pks, package)
            try:
                session = self.call(
                    ctx.client.open_batch_session,
                    package,
                    public_key=public_key,
                    offline_mode=offline_mode,
                )
            except errors.KsefApiError as exc:
                if exc.status_code >= 500:
                    raise  # ambiguous: the next run's recover_opening settles it
                # Refused (403 no InvoiceWrite, 400, 429 after waiting): no session exists.
                with transaction.atomic():
                    self._requeue(marker)
                    SendSession.objects.filter(pk=marker.pk).update(
                        state=SessionState.ABANDONED, status_code=exc.status_code
                    )
                raise
            reference = session.reference_number
            with transaction.atomic():
                SendSession.objects.filter(pk=marker.pk).update(
                    reference=reference, state=SessionState.OPEN
                )
                OutgoingInvoice.objects.filter(send_session=marker, state=State.SENDING).update(
                    session_reference=reference
                )
            try:
                self._upload(session, package)
            except BatchPartUploadError as exc:
                from invoices.sending.sender import ComeBack

                # The session stays open: the next run's close decides what it holds.
                logger.warning("send job %s: %s", self.job.pk, exc)
                raise ComeBack(60, "timeout") from None
        self.close(reference)
        self.settle(reference)

    def _files(self, pks: list[int]) -> Iterator[tuple[str, bytes]]:
        rows = (
            OutgoingInvoice.objects.filter(pk__in=pks)
            .order_by("position")
            .values_list("position", "file_name", "xml")
        )
        for position, file_name, xml in rows.iterator(chunk_size=500):
            base = file_name.rsplit("/", 1)[-1] or "faktura.xml"
            yield f"{position:05d}-{base}"[:128], bytes(xml)

    def _mark(self, pks: list[int], package: BatchPackage) -> SendSession:
        """The trace committed before the open: the session row and its invoices."""
        with transaction.atomic():
            marker = SendSession.objects.create(
                job=self.job,
                client=self.job.client,
                kind=SendSession.Kind.BATCH,
                state=SessionState.OPENING,
                opened_at=self.sender.now(),
                invoice_count=len(pks),
                part_count=len(package.parts),
                package_bytes=package.file_size,
            )
            marked = OutgoingInvoice.objects.filter(pk__in=pks, state=State.QUEUED).update(
                state=State.SENDING,
                send_session=marker,
                session_reference="",
                ksef_reference="",
                attempted_at=self.sender.now(),
            )
            if marked != len(pks):  # the job is leased to this run: cannot happen
                raise RuntimeError(f"send job {self.job.pk}: {marked} of {len(pks)} queued")
        return marker

    def _upload(self, session: BatchSession, package: BatchPackage) -> None:
        """Each part to its link; a failure (5xx, broken connection) is repeated, 403
        (window over, link refused) is not — the session's close then says what is next."""
        for request in session.part_upload_requests:
            one = dataclasses.replace(session, part_upload_requests=(request,))
            for attempt in range(1, _UPLOAD_ATTEMPTS + 1):
                try:
                    self.ctx.client.upload_batch_parts(one, package)
                    break
                except BatchPartUploadError as exc:
                    if exc.status_code == 403 or attempt == _UPLOAD_ATTEMPTS:
                        raise
                    logger.warning("send job %s: %s; again", self.job.pk, exc)
                    self.sender.sleep(float(2**attempt))

    def close(self, reference: str) -> bool:
        """Close REFERENCE; False when KSeF says the package can never be processed."""
        try:
            self.call(self.ctx.client.close_batch_session, reference)
        except errors.KsefApiError as exc:
            if exc.status_code >= 500 or exc.status_code in (401, 403, 429):
                raise
            if any(code in _PACKAGE_DEAD for code in exc.codes):
                return False
            # 21180: closed already (an earlier close whose answer was lost) — follow it.
        SendSession.objects.filter(reference=reference, state=SessionState.OPEN).update(
            state=SessionState.CLOSED
        )
        return True

    # --- following a session to the end --------------------------------------------------

    def settle(self, reference: str) -> None:
        """Give every invoice of batch session REFERENCE still "sending" its outcome."""
        row = SendSession.objects.get(reference=reference)
        status = self.call(self.ctx.client.get_session_status, reference)
        if status.status.code == 100:
            if not self.close(reference):
                self._cancelled(row, status, "package incomplete")
                return
            status = self.call(self.ctx.client.get_session_status, reference)
        status = self._wait(reference, status)
        code = status.status.code
        if code == 440:
            self._cancelled(row, status, "cancelled by KSeF")
            return
        if code not in (200, 445):
            self._session_failed(row, status)
        pages = self._upo_pages(row, status) if code == 200 else {}
        self._store_outcomes(row, reference, pages)
        SendSession.objects.filter(pk=row.pk).update(
            state=SessionState.DONE,
            status_code=code,
            status_description=status.status.description[:500],
            status_details=list(status.status.details),
        )

    def _wait(self, reference: str, status: SessionStatus) -> SessionStatus:
        """Poll while KSeF processes the package: while nothing moves the interval is a
        fifth of the time waited (at least `poll`, at most 30 s: sessionMisc allows 1,200
        status calls an hour), when KSeF reports progress it drops back to `poll`; past the
        sender's batch_wait_limit the run comes back later."""
        from invoices.sending.sender import LEASE, ComeBack

        waited = 0.0
        interval = self.sender.poll
        progress = _progress(status)
        while status.status.code in _IN_PROGRESS:
            if waited >= self.sender.batch_wait_limit:
                raise ComeBack(60, "timeout")
            self.sender.sleep(interval)
            waited += interval
            # Still this run's job while it waits (the lease is shorter than a long batch).
            SendJob.objects.filter(pk=self.job.pk, state=SendJob.State.SENDING).update(
                lease_until=self.sender.now() + LEASE
            )
            status = self.call(self.ctx.client.get_session_status, reference)
            moved = _progress(status)
            # A fifth of the time waited so far: the wait ends at most ~20% after KSeF's.
            slower = min(max(self.sender.poll, waited * _POLL_SHARE), _POLL_MAX)
            interval = self.sender.poll if moved != progress else slower
            progress = moved
        return status

    def _upo_pages(self, row: SendSession, status: SessionStatus) -> dict[str, SessionUpoPage]:
        """The session UPO, stored once per page; KSeF number -> the page listing it."""
        stored = {page.number: page for page in row.upo_pages.all()}
        for number, offered in enumerate(status.upo_pages, start=1):
            if number in stored:
                continue
            document = self.call(
                self.ctx.client.download_session_upo, row.reference, offered.reference_number
            )
            stored[number] = SessionUpoPage.objects.create(
                session=row,
                number=number,
                reference=offered.reference_number,
                xml=document.content,
            )
        listed: dict[str, SessionUpoPage] = {}
        for page in stored.values():
            for ksef_number in upo_ksef_numbers(bytes(page.xml)):
                listed[ksef_number] = page
        return listed

    def _store_outcomes(
        self, row: SendSession, reference: str, pages: dict[str, SessionUpoPage]
    ) -> None:
        from invoices.sending.sender import ComeBack

        pending = {
            invoice.invoice_hash: invoice
            for invoice in self.job.invoices.filter(
                state=State.SENDING, session_reference=reference
            )
        }
        if not pending:
            return
        received: dict[str, SessionInvoiceStatus] = {}
        token: str | None = None
        while True:
            page = self.call(
                self.ctx.client.list_session_invoices,
                reference,
                page_size=1000,
                continuation_token=token,
            )
            for status in page.invoices:
                received[status.invoice_hash] = status
            token = page.continuation_token
            if not token:
                break
        accepted: list[tuple[OutgoingInvoice, SessionInvoiceStatus]] = []
        missing: list[int] = []
        for invoice_hash, invoice in pending.items():
            found = received.get(invoice_hash)
            if found is None:
                missing.append(invoice.pk)
            elif found.status.code in (100, 150):
                raise ComeBack(self.sender.poll * 5, "timeout")
            elif found.status.code == 200 and found.ksef_number:
                accepted.append((invoice, found))
            else:
                self.sender._reject(
                    invoice,
                    found.status.code,
                    found.status.description,
                    list(found.status.details),
                    reference=found.reference_number,
                )
        for start in range(0, len(accepted), _STORE_CHUNK):
            self._store_sent(row, accepted[start : start + _STORE_CHUNK], pages)
        if missing:
            OutgoingInvoice.objects.filter(pk__in=missing).update(
                state=State.QUEUED, session_reference="", ksef_reference="", send_session=None
            )

    def _store_sent(
        self,
        row: SendSession,
        chunk: list[tuple[OutgoingInvoice, SessionInvoiceStatus]],
        pages: dict[str, SessionUpoPage],
    ) -> None:
        from invoices.sending.sender import invoice_row

        job = self.job
        with transaction.atomic():
            store_invoices(
                client_id=job.client_id,
                subject_type=SubjectType.SUBJECT1,
                invoices=[invoice_row(invoice, status) for invoice, status in chunk],
            )
            ids = dict(
                Invoice.objects.filter(
                    ksef_number__in=[status.ksef_number for _, status in chunk]
                ).values_list("ksef_number", "pk")
            )
            updated = []
            for invoice, status in chunk:
                assert status.ksef_number
                invoice.state = State.SENT
                invoice.ksef_reference = status.reference_number
                invoice.ksef_number = status.ksef_number
                invoice.acquisition_date = status.acquisition_date
                invoice.status_code = status.status.code
                invoice.status_description = status.status.description[:500]
                invoice.invoice_id = ids[status.ksef_number]
                invoice.upo_page = pages.get(status.ksef_number)
                updated.append(invoice)
            OutgoingInvoice.objects.bulk_update(
                updated,
                [
                    "state",
                    "ksef_reference",
                    "ksef_number",
                    "acquisition_date",
                    "status_code",
                    "status_description",
                    "invoice",
                    "upo_page",
                ],
            )
            for invoice, status in chunk:
                audit_sent(job, invoice, ksef_number=status.ksef_number, session=row.reference)

    # --- sessions that cannot hold the invoices -----------------------------------------

    def _requeue(self, row: SendSession) -> int:
        return OutgoingInvoice.objects.filter(send_session=row, state=State.SENDING).update(
            state=State.QUEUED, session_reference="", ksef_reference="", send_session=None
        )

    def _cancelled(self, row: SendSession, status: SessionStatus, why: str) -> None:
        with transaction.atomic():
            count = self._requeue(row)
            SendSession.objects.filter(pk=row.pk).update(
                state=SessionState.CANCELLED,
                status_code=status.status.code,
                status_description=status.status.description[:500],
                status_details=list(status.status.details),
            )
        logger.info(
            "send job %s: batch %s %s; %d invoice(s) queued again",
            self.job.pk,
            row.reference,
            why,
            count,
        )

    def _session_failed(self, row: SendSession, status: SessionStatus) -> None:
        from invoices.sending.sender import _Failed

        with transaction.atomic():
            self._requeue(row)
            SendSession.objects.filter(pk=row.pk).update(
                state=SessionState.FAILED,
                status_code=status.status.code,
                status_description=status.status.description[:500],
                status_details=list(status.status.details),
            )
        failure = _Failed("session_failed")
        failure.params = {
            "code": status.status.code,
            "description": "; ".join(status.status.details) or status.status.description,
        }
        raise failure


def _progress(status: SessionStatus) -> tuple[int | None, int | None, int | None]:
    return (
        status.invoice_count,
        status.successful_invoice_count,
        status.failed_invoice_count,
    )


def upo_ksef_numbers(xml: bytes) -> Iterable[str]:
    """The KSeF numbers a UPO (invoice or session page) lists."""
    root = etree.fromstring(xml)
    for element in root.iter("{*}NumerKSeFDokumentu"):
        if element.text:
            yield element.text.strip()


def is_batch_reference(reference: str) -> bool:
    return SendSession.objects.filter(reference=reference, kind=SendSession.Kind.BATCH).exists()
