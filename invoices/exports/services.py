"""Bulk downloads of a filtered invoice list: straight away for a small list, as a
background job for a large one.

Which invoices: the list's own filter (`invoices.browse.filters.filtered_links`) applied to
the query string the list had, in the scope of the member who asked — the task makes the
selection again with the same function, so an accountant's export holds only the clients
assigned to them, and never more than the list showed.

Small or large. A register row costs a parse of the invoice's XML (well under a
millisecond), so up to `DIRECT_LIMITS[csv/xlsx]` = 500 rows are written while the request
waits (a fraction of a second). A ZIP costs a PDF per invoice: WeasyPrint takes ~0.5 s per
invoice here on an idle core and ~1 s on a loaded one (benchmarks/invoices_zip.py), so only
up to 10 invoices go straight into the response — a download that starts at once and
ends within ~10 s even on a loaded machine, far inside a web worker's timeout; more is a
job. A job covers at
most `JOB_LIMITS` invoices (5,000 for a ZIP: one to two hours of PDFs on one worker;
100,000 register rows) and says so instead of starting what would not end today.

A job: the row is created and the task queued by name after the commit
(`portal.queue.enqueue_on_commit`, id only). The task claims the row with a conditional
UPDATE (queued, or running with a heartbeat older than `LEASE`), so a task delivered twice
writes the file once; progress and the heartbeat are written only while the claim token is
still ours. The file is written under `EXPORTS_ROOT` as `.part` and renamed when complete.
`exports_cleanup` (beat, hourly) removes jobs and files older than `EXPORTS_KEEP_DAYS`,
ends jobs whose worker died, and re-queues jobs whose message was lost.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone, translation

from clients.models import Client
from clients.selectors import clients_visible_to
from invoices.browse.filters import filtered_links
from invoices.exports import archive, registers
from invoices.models import ClientInvoice, ExportJob, Invoice
from portal.audit import audit_record
from portal.models import Membership
from portal.queue import enqueue, enqueue_on_commit

logger = logging.getLogger(__name__)

RUN_TASK = "invoices.export_run"
Kind = ExportJob.Kind
State = ExportJob.State

DIRECT_LIMITS = {Kind.ZIP: 10, Kind.CSV: 500, Kind.XLSX: 500}
JOB_LIMITS = {Kind.ZIP: 5_000, Kind.CSV: 100_000, Kind.XLSX: 100_000}
LEASE = dt.timedelta(minutes=10)
EXTENSIONS = {Kind.ZIP: "zip", Kind.CSV: "csv", Kind.XLSX: "xlsx"}
CONTENT_TYPES = {
    Kind.ZIP: "application/zip",
    Kind.CSV: "text/csv; charset=utf-8",
    Kind.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Query parameters of the list that do not change which invoices it holds.
IGNORED_PARAMS = frozenset({"page", "per_page", "partial"})
MAX_PDF_FAILURES_LISTED = 10


class ExportRefused(Exception):
    """The selection cannot be exported as asked; `code`/`params` say why."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


class _ClaimLost(Exception):
    """Another run took the job over (ours was presumed dead): stop writing."""


# --- The selection --------------------------------------------------------------------------


def list_params(query: QueryDict | Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The list's query string as stored on a job (JSON): every value of every filter."""
    items = query.lists() if isinstance(query, QueryDict) else query.items()
    return {name: list(values) for name, values in items if name not in IGNORED_PARAMS}


def _query(params: Mapping[str, list[str]]) -> QueryDict:
    query = QueryDict(mutable=True)
    for name, values in params.items():
        query.setlist(name, [str(value) for value in values])
    return query


def export_links(
    *, membership: Membership, params: Mapping[str, list[str]], client: Client | None
) -> QuerySet[ClientInvoice]:
    """The invoices of the list the member was looking at, in its order and scope."""
    return filtered_links(membership=membership, params=_query(params), client=client)


# --- Direct downloads -----------------------------------------------------------------------


@dataclass
class Download:
    filename: str
    content_type: str
    stream: Iterator[bytes] | None = None
    path: Path | None = None  # a temporary file, removed once it is opened


def download_name(kind: str, *, client: Client | None, when: dt.datetime) -> str:
    local = timezone.localtime(when)
    who = f"-{client.nip}" if client is not None else ""
    label = "faktury" if kind == Kind.ZIP else "rejestr-faktur"
    return f"{label}{who}-{local:%Y%m%d-%H%M}.{EXTENSIONS[Kind(kind)]}"


def export_direct(
    *, membership: Membership, kind: str, links: QuerySet[ClientInvoice], client: Client | None
) -> Download:
    """A small list's file, produced while the response is sent (and audited, as a job's
    download is)."""
    name = download_name(kind, client=client, when=timezone.now())
    audit_record(
        office=membership.office,
        actor=membership.user,
        action="invoices.export_downloaded",
        details={"kind": kind, "client": client.pk if client else None, "direct": True},
    )
    if kind == Kind.ZIP:
        # A PDF that cannot be made leaves its XML alone in the archive (logged), rather
        # than breaking a download that is already under way.
        stream = archive.archive_stream(links, pdf=_PdfLog().renderer(None))
        return Download(name, CONTENT_TYPES[Kind.ZIP], stream=stream)
    if kind == Kind.CSV:
        text = registers.csv_chunks(registers.register_rows(links))
        return Download(name, CONTENT_TYPES[Kind.CSV], stream=(p.encode("utf-8") for p in text))
    handle, raw = tempfile.mkstemp(suffix=".xlsx", prefix="rejestr-")
    os.close(handle)
    path = Path(raw)
    registers.xlsx_write(registers.register_rows(links), path)
    return Download(name, CONTENT_TYPES[Kind.XLSX], path=path)


# --- Jobs -----------------------------------------------------------------------------------


def export_start(
    *,
    membership: Membership,
    kind: str,
    params: Mapping[str, list[str]],
    client: Client | None,
    count: int | None = None,
) -> ExportJob:
    """Create the job and queue it after the commit (refused: too many invoices)."""
    kind = Kind(kind)
    if count is None:
        count = export_links(membership=membership, params=params, client=client).count()
    if count > JOB_LIMITS[kind]:
        raise ExportRefused("too_large", count=count, limit=JOB_LIMITS[kind])
    if count == 0:
        raise ExportRefused("empty")
    with transaction.atomic():
        job = ExportJob.objects.create(
            office=membership.office,
            requested_by=membership,
            client=client,
            kind=kind,
            params=dict(params),
            total=count,
            language=translation.get_language() or settings.LANGUAGE_CODE,
        )
        audit_record(
            office=membership.office,
            actor=membership.user,
            action="invoices.export_requested",
            obj=job,
            details={"kind": kind, "client": client.pk if client else None, "count": count},
        )
        enqueue_on_commit(RUN_TASK, job.pk)
    return job


def _claimable(now: dt.datetime) -> Q:
    return Q(state=State.QUEUED) | Q(state=State.RUNNING, heartbeat_at__lt=now - LEASE)


def export_claim(job_id: int) -> ExportJob | None:
    """Take the job (None: done, failed, or being written by a live run)."""
    now = timezone.now()
    token = uuid.uuid4().hex
    taken = (
        ExportJob.objects.filter(pk=job_id)
        .filter(_claimable(now))
        .update(
            state=State.RUNNING,
            claim_token=token,
            started_at=now,
            heartbeat_at=now,
            done=0,
            error_code="",
            error_params={},
        )
    )
    if not taken:
        return None
    return ExportJob.objects.select_related("office", "requested_by__user", "client").get(pk=job_id)


def _ours(job: ExportJob) -> QuerySet[ExportJob]:
    return ExportJob.objects.filter(pk=job.pk, state=State.RUNNING, claim_token=job.claim_token)


def _progress(job: ExportJob) -> Callable[[int], None]:
    def advance(rows: int) -> None:
        job.done += rows
        if not _ours(job).update(done=job.done, heartbeat_at=timezone.now()):
            raise _ClaimLost

    return advance


def _fail(job: ExportJob, code: str, **params: Any) -> str:
    _ours(job).update(
        state=State.FAILED,
        error_code=code,
        error_params=params,
        finished_at=timezone.now(),
    )
    return str(State.FAILED)


def exports_root() -> Path:
    return Path(settings.EXPORTS_ROOT)


@dataclass
class _PdfLog:
    """PDFs that could not be made: the archive keeps going with the XML alone."""

    missing: list[str] = field(default_factory=list)
    count: int = 0

    def renderer(self, render: archive.PdfRenderer | None) -> archive.PdfRenderer:
        render = render or archive.default_pdf_renderer()

        def safe(invoice: Invoice) -> bytes | None:
            try:
                return render(invoice)
            except Exception:
                logger.exception("Export: no PDF for invoice %s", invoice.ksef_number)
                self.count += 1
                if len(self.missing) < MAX_PDF_FAILURES_LISTED:
                    self.missing.append(invoice.ksef_number)
                return None

        return safe


def export_run(job_id: int, *, pdf: archive.PdfRenderer | None = None) -> str:
    """The task's work: claim, select, write the file, finish. Returns the final state
    (or "skipped" when the job was not ours to run)."""
    job = export_claim(job_id)
    if job is None:
        return "skipped"
    member = job.requested_by
    hidden = job.client_id is not None and not clients_visible_to(member).filter(pk=job.client_id)
    if not member.user.is_active or hidden:
        return _fail(job, "no_access")
    links = export_links(membership=member, params=job.params, client=job.client)
    total = links.count()
    if total > JOB_LIMITS[Kind(job.kind)]:
        return _fail(job, "too_large", count=total, limit=JOB_LIMITS[Kind(job.kind)])
    _ours(job).update(total=total)
    folder = exports_root() / str(job.office_id)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{job.pk}-{job.claim_token}.{EXTENSIONS[Kind(job.kind)]}"
    part = final.with_suffix(final.suffix + ".part")
    pdf_log = _PdfLog()
    try:
        with translation.override(job.language), _job_pdf_renderer(job, pdf) as render:
            _write(job, links, part, pdf=pdf_log.renderer(render) if render else None)
        part.rename(final)
    except _ClaimLost:
        part.unlink(missing_ok=True)
        return "skipped"
    except Exception:
        logger.exception("Export job #%s failed", job.pk)
        part.unlink(missing_ok=True)
        return _fail(job, "failed")
    warning: dict[str, Any] = {}
    if pdf_log.count:
        warning = {
            "error_code": "pdf_missing",
            "error_params": {"count": pdf_log.count, "ksef_numbers": pdf_log.missing},
        }
    finished = _ours(job).update(
        state=State.DONE,
        done=total,
        file_name=str(final.relative_to(exports_root())),
        file_size=final.stat().st_size,
        finished_at=timezone.now(),
        **warning,
    )
    if not finished:
        final.unlink(missing_ok=True)
        return "skipped"
    return str(State.DONE)


@contextmanager
def _job_pdf_renderer(
    job: ExportJob, pdf: archive.PdfRenderer | None
) -> Iterator[archive.PdfRenderer | None]:
    """The job's PDF renderer: none for a register, the given one (tests), else the portal's
    own in a recycled child process (see archive.isolated_pdf_renderer)."""
    if job.kind != Kind.ZIP:
        yield None
    elif pdf is not None:
        yield pdf
    else:
        with archive.isolated_pdf_renderer() as render:
            yield render


def _write(
    job: ExportJob,
    links: QuerySet[ClientInvoice],
    path: Path,
    *,
    pdf: archive.PdfRenderer | None,
) -> None:
    advance = _progress(job)
    if job.kind == Kind.ZIP:
        archive.archive_file(path, links, pdf=pdf, on_chunk=advance)
    elif job.kind == Kind.CSV:
        registers.csv_write(registers.register_rows(links, on_chunk=advance), path)
    else:
        registers.xlsx_write(registers.register_rows(links, on_chunk=advance), path)


def export_file(job: ExportJob) -> Path | None:
    """The finished job's file on disk (None: not done, or already removed)."""
    if job.state != State.DONE or not job.file_name:
        return None
    path = exports_root() / job.file_name
    return path if path.is_file() else None


def exports_cleanup(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat (hourly): expire old jobs with their files, end dead runs, re-queue lost ones."""
    now = now or timezone.now()
    keep = dt.timedelta(days=settings.EXPORTS_KEEP_DAYS)
    removed = 0
    for job in ExportJob.objects.filter(created_at__lt=now - keep).iterator():
        path = export_file(job)
        if path is not None:
            path.unlink(missing_ok=True)
        job.delete()
        removed += 1
    interrupted = ExportJob.objects.filter(
        state=State.RUNNING, heartbeat_at__lt=now - 3 * LEASE
    ).update(state=State.FAILED, error_code="interrupted", finished_at=now)
    requeued = 0
    for pk in ExportJob.objects.filter(state=State.QUEUED, created_at__lt=now - LEASE).values_list(
        "pk", flat=True
    ):
        enqueue(RUN_TASK, pk)
        requeued += 1
    orphans = _remove_orphans(now - keep)
    return {"removed": removed, "interrupted": interrupted, "requeued": requeued, "files": orphans}


def _remove_orphans(before: dt.datetime) -> int:
    """Files no job points at any more (a run that died mid-write leaves a .part)."""
    root = exports_root()
    if not root.is_dir():
        return 0
    known = set(ExportJob.objects.exclude(file_name="").values_list("file_name", flat=True))
    removed = 0
    for path in root.glob("*/*"):
        if not path.is_file() or str(path.relative_to(root)) in known:
            continue
        if dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC) < before:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
