"""Sending a client's invoices: whether the portal may, the job of one upload, its start.

`send_blocked_reason` is asked before an upload is accepted (no credential, no
InvoiceWrite grant); `send_job_create` keeps the checked upload (valid files as draft
invoices, refusals with their messages); `send_job_start` queues the drafts and the
sender's task (invoices/sending/sender.py does the work).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from certificates.connection import credential_for_client_context
from clients.models import AccessModel, Client
from grants.models import PermissionGrant
from invoices.models import OutgoingInvoice, SendJob
from invoices.sending.checks import CheckedFile
from invoices.sending.write_access import credential_write_problem
from portal.audit import audit_record
from portal.messages import StoredText, deferred, to_data
from portal.queue import enqueue_on_commit

RUN_TASK = "invoices.send_job_run"


def send_blocked_reason(client: Client, *, ask_ksef: bool = False) -> str:
    """Why the portal cannot send for CLIENT ("" when it can), as a job error code.

    In the office model KSeF admits the office into the client's context only through
    the entity grant with InvoiceWrite the client gave it; without one every send would
    end in 403, so the upload is refused before anything is accepted. In the client
    credential model the owner's certificate may issue; a ZAW-FA person's certificate or
    a KSeF token only with InvoiceWrite, which `ask_ksef` (the upload page) asks KSeF
    about (write_access.py, cached)."""
    if client.access_model == AccessModel.UNDECIDED:
        return "no_access_model"
    credential = credential_for_client_context(client)
    if credential is None:
        if client.access_model == AccessModel.OFFICE:
            return "no_office_credential"
        return "no_credential"
    if client.access_model == AccessModel.OFFICE:
        return "" if _office_may_issue(client) else "no_invoice_write"
    if ask_ksef:
        return credential_write_problem(client, credential)
    return ""


def _office_may_issue(client: Client) -> bool:
    grants = PermissionGrant.objects.filter(
        client=client,
        grantee_kind=PermissionGrant.GranteeKind.ENTITY,
        state=PermissionGrant.State.GRANTED,
    ).exclude(
        verification__in=[
            PermissionGrant.Verification.MISSING,
            PermissionGrant.Verification.REVOKED_OUTSIDE,
        ]
    )
    return any("InvoiceWrite" in (grant.permissions or []) for grant in grants)


def send_job_create(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    client: Client,
    checked: Sequence[CheckedFile],
    unpack_problems: Sequence[tuple[str, StoredText]] = (),
) -> SendJob:
    """Keep one checked upload: its valid files as draft invoices, the rest as refusals."""
    refusals = [
        {"name": name, "problems": [to_data(problem)], "duplicate_of": None}
        for name, problem in unpack_problems
    ] + [
        {
            "name": file.name,
            "problems": [to_data(p) for p in file.problems],
            "duplicate_of": file.duplicate_of,
        }
        for file in checked
        if not file.ok
    ]
    user: Any = actor if isinstance(actor, AbstractBaseUser) else None
    with transaction.atomic():
        job = SendJob.objects.create(
            client=client,
            created_by=user,
            file_count=len(checked) + len(unpack_problems),
            refused_count=len(refusals),
            refusals=refusals,
        )
        OutgoingInvoice.objects.bulk_create(
            OutgoingInvoice(
                client=client,
                job=job,
                position=position,
                file_name=file.name[:500],
                xml=file.content,
                invoice_hash=file.invoice_hash,
                size=len(file.content),
                invoice_number=file.number[:256],
                issue_date=file.issue_date,
                buyer_name=file.buyer_name[:512],
                gross_amount=file.gross_total,
                currency=file.currency[:3],
            )
            for position, file in enumerate(checked)
            if file.ok
        )
        audit_record(
            office=client.office,
            actor=actor,
            action="invoices.send_checked",
            obj=job,
            details={"files": job.file_count, "refused": job.refused_count},
            client_id=client.pk,
        )
    return job


_ALREADY_QUEUED = gettext_noop(
    "Ten sam plik jest już wysyłany albo wysłany w innej wysyłce tego klienta."
)


def send_job_start(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    job: SendJob,
    enqueue: bool = True,
    mode: str = OutgoingInvoice.Mode.ONLINE,
) -> SendJob:
    """Queue the job's drafts for KSeF (once: a started job is left as it is).

    MODE other than online issues the drafts offline first (offline.issue_offline: KOD II
    signed, deadlines set, all or nothing; `offline.OfflineRefused` when it cannot).

    A failed job starts again the same way ("Spróbuj ponownie", after the missing
    credential or grant is in place): its drafts are queued again, and invoices it left
    "sending" stay so — the sender first looks their session up in KSeF, so none is sent
    twice. A draft whose bytes another job queued meanwhile is refused here (the unique
    constraint is the last line of defence behind the checks)."""
    if mode != OutgoingInvoice.Mode.ONLINE:
        from invoices.sending.offline import issue_offline

        return issue_offline(actor=actor, job=job, mode=mode, enqueue=enqueue)
    with transaction.atomic():
        claimed = SendJob.objects.filter(
            pk=job.pk, state__in=[SendJob.State.CHECKED, SendJob.State.FAILED]
        ).update(state=SendJob.State.QUEUED, error_code="", error_params={}, finished_at=None)
        job.refresh_from_db()
        if not claimed:
            return job
        for draft in job.invoices.filter(state=OutgoingInvoice.State.DRAFT):
            try:
                with transaction.atomic():
                    OutgoingInvoice.objects.filter(pk=draft.pk).update(
                        state=OutgoingInvoice.State.QUEUED
                    )
            except IntegrityError:
                job.refusals.append(
                    {
                        "name": draft.file_name,
                        "problems": [to_data(deferred(_ALREADY_QUEUED))],
                        "duplicate_of": None,
                    }
                )
                draft.delete()
        job.refused_count = len(job.refusals)
        if not job.invoices.exists():
            job.state = SendJob.State.DONE
        job.save(update_fields=["refusals", "refused_count", "state"])
        audit_record(
            office=job.client.office,
            actor=actor,
            action="invoices.send_started",
            obj=job,
            details={"invoices": job.invoices.count()},
            client_id=job.client_id,
        )
        if enqueue and job.state == SendJob.State.QUEUED:
            enqueue_on_commit(RUN_TASK, job.pk)
    return job


class CancelRefused(Exception):
    """Why a job cannot be cancelled, as a code (`invoices.sending.views` words it)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def send_job_cancel(*, actor: AbstractBaseUser | AnonymousUser | None, job: SendJob) -> int:
    """Cancel a job nothing of which is on its way to KSeF; returns how many drafts it
    deleted (so their files can be uploaded again).

    Allowed for a checked job, and for a failed one with no invoice "sending" (that one
    may already be in KSeF: the sender settles it first) or queued. Never when the job
    holds an invoice issued offline: it is an issued invoice that must still reach KSeF
    by its deadline. Invoices KSeF took or rejected stay with the job. The job row is
    locked while it is decided, so a concurrent "Wyślij" either wins (and the cancel is
    refused) or finds the job cancelled."""
    with transaction.atomic():
        locked = SendJob.objects.select_for_update().get(pk=job.pk)
        if locked.state not in (SendJob.State.CHECKED, SendJob.State.FAILED):
            raise CancelRefused(f"state_{locked.state}")
        invoices = locked.invoices.all()
        if invoices.filter(
            state__in=[OutgoingInvoice.State.QUEUED, OutgoingInvoice.State.SENDING]
        ).exists():
            raise CancelRefused("sending")
        if (
            invoices.filter(issued_offline_at__isnull=False)
            .exclude(state=OutgoingInvoice.State.SENT)
            .exists()
        ):
            raise CancelRefused("offline_issued")
        drafts = invoices.filter(state=OutgoingInvoice.State.DRAFT)
        names = list(drafts.order_by("position").values_list("file_name", flat=True))
        deleted, _by_model = drafts.delete()
        was = locked.state
        locked.state = SendJob.State.CANCELLED
        locked.finished_at = timezone.now()
        locked.save(update_fields=["state", "finished_at"])
        audit_record(
            office=locked.client.office,
            actor=actor,
            action="invoices.send_cancelled",
            obj=locked,
            details={"drafts_deleted": deleted, "files": names[:100], "was": was},
            client_id=locked.client_id,
        )
    job.refresh_from_db()
    return deleted


def audit_sent(
    job: SendJob, invoice: OutgoingInvoice, *, ksef_number: str | None, session: str
) -> None:
    """The audit record of one invoice KSeF gave a number (online and batch alike)."""
    audit_record(
        office=job.client.office,
        actor=job.created_by,
        action="invoices.sent",
        obj=invoice,
        details={
            "file": invoice.file_name,
            "number": invoice.invoice_number,
            "ksef_number": ksef_number,
            "session": session,
        },
        client_id=invoice.client_id,
    )
