"""The sender: one job's queued invoices to KSeF in an online session, followed to the end
(or in batch sessions: invoices/sending/batch.py, chosen by `batch.choose_session_kind`).

Run by the Celery task `invoices.send_job_run(job_id)` and, in the foreground, by
`manage.py send_invoices`. One run:

1. claims the job (a conditional UPDATE with a lease, so two workers never send it twice);
2. logs in to the client's context (certificates.connection: the use goes to the
   credential's custody log);
3. settles every session an earlier run left invoices in ("sending"): closes it, waits for
   KSeF to finish it and looks its invoices up by hash — found ones get their KSeF number
   or rejection, missing ones go back to the queue;
4. opens an online session and sends each queued invoice, writing "sending in session S"
   (committed) BEFORE the POST; after an ambiguous failure (timeout, 5xx, a dropped
   connection: KSeF may have taken the invoice) it stops sending and settles the session
   first, so an invoice never gets two KSeF numbers;
5. closes the session, follows it in KSeF's time, stores each KSeF number, acquisition
   date and UPO, and each sent invoice as Invoice + ClientInvoice (Subject1) exactly as
   the sync stores it, so the next sync links the same row instead of adding one.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from certificates import connection
from certificates.custody import SecretUnreadable
from certificates.models import Credential
from clients.models import AccessModel, Client
from invoices.models import Invoice, OutgoingInvoice, SendJob, SubjectType
from invoices.sending import batch, offline
from invoices.sending.services import audit_sent, send_blocked_reason
from invoices.sending.write_access import (
    PERSON_WITHOUT_INVOICE_WRITE,
    TOKEN_WITHOUT_INVOICE_WRITE,
    forget_write_access,
    holds_owner_rights,
)
from invoices.sync.ingest import store_invoices
from ksef import errors, fa3
from ksef.crypto import SYMMETRIC_KEY_ENCRYPTION, select_public_key_certificate
from ksef.models import SessionInvoiceStatus
from portal.audit import audit_record

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=15)
# KSeF processes an online session within seconds; past this the run ends and the task
# comes back later (the invoices stay "sending" and the next run settles the session).
WAIT_LIMIT_SECONDS = 300.0
# KSeF processes a batch in minutes; the run waits this long (renewing its lease), then
# comes back later.
BATCH_WAIT_LIMIT_SECONDS = 600.0
POLL_SECONDS = 2.0
ROUNDS = 3  # sessions opened in one run after ambiguous failures
_IN_PROGRESS = {100, 150, 170}
_AMBIGUOUS = (
    errors.ServerError,
    errors.KsefTransportError,
    errors.OperationTimeout,
    httpx.HTTPError,
    OSError,
)
# Failures that are KSeF's answers: KSeF is up, so a detected outage ends.
_KSEF_ANSWERED = {"no_invoice_write", "ksef_rejected", "session_failed"}
State = OutgoingInvoice.State
JobState = SendJob.State

# KSeF's invoice types (InvoiceMetadata.invoiceType) of the FA(3) RodzajFaktury codes.
INVOICE_TYPES = {
    "VAT": "Vat",
    "ZAL": "Zal",
    "KOR": "Kor",
    "ROZ": "Roz",
    "UPR": "Upr",
    "KOR_ZAL": "KorZal",
    "KOR_ROZ": "KorRoz",
}


class ComeBack(Exception):
    """The run ends without finishing: the task is queued again after `countdown` s.
    `unavailable`: KSeF did not answer (5xx, transport errors) — the task backs off."""

    def __init__(self, countdown: float, code: str = "", *, unavailable: bool = False) -> None:
        super().__init__(code or "come back")
        self.countdown = countdown
        self.code = code
        self.unavailable = unavailable


class _Failed(Exception):
    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass
class Sender:
    now: Callable[[], datetime] = timezone.now
    sleep: Callable[[float], None] = time.sleep
    wait_limit: float = WAIT_LIMIT_SECONDS
    poll: float = POLL_SECONDS
    batch_wait_limit: float = BATCH_WAIT_LIMIT_SECONDS
    # "online" or "batch" to override batch.choose_session_kind (tests, benchmarks).
    session_kind: str | None = None

    # --- the run ---------------------------------------------------------------------

    def run(self, job_id: int) -> str:
        """Send job JOB_ID as far as KSeF lets it go; the job's final state, or "busy"."""
        token = self._claim(job_id)
        if token is None:
            return "busy"
        job = SendJob.objects.select_related("client", "client__office").get(pk=job_id)
        try:
            self._send(job)
        except _Failed as failure:
            if failure.code.startswith("auth_") or failure.code in _KSEF_ANSWERED:
                offline.record_available(self.now())
            self._fail(job, failure.code, failure.params)
            return str(JobState.FAILED)
        except ComeBack as again:
            if not again.unavailable:  # KSeF answered (busy or still processing)
                offline.record_available(self.now())
            SendJob.objects.filter(pk=job.pk, claim_token=token).update(
                lease_until=None, error_code=again.code
            )
            raise
        offline.record_available(self.now())  # a detected outage ends with KSeF's answer
        return self._finish_if_done(job)

    def _claim(self, job_id: int) -> str | None:
        now = self.now()
        token = secrets.token_hex(16)
        claimed = (
            SendJob.objects.filter(pk=job_id, state__in=[JobState.QUEUED, JobState.SENDING])
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .update(
                state=JobState.SENDING,
                claim_token=token,
                lease_until=now + LEASE,
                started_at=now,
            )
        )
        return token if claimed else None

    def _send(self, job: SendJob) -> None:
        client = job.client
        blocked = send_blocked_reason(client)
        if blocked:
            raise _Failed(blocked, nip=client.nip)
        credential = connection.credential_for_client_context(client)
        assert credential is not None
        with (
            self._translated(client.nip, forbidden=lambda: _forbidden_code(client, credential)),
            connection.ksef_context(
                credential=credential, context_nip=client.nip, purpose="invoice_send"
            ) as ctx,
        ):
            batches = batch.BatchSender(self, ctx, job)
            batches.recover_opening()
            for reference in self._unsettled_sessions(job):
                if batch.is_batch_reference(reference):
                    batches.settle(reference)
                else:
                    self._settle(ctx, job, reference)
            if not self._queued(job).exists():
                return
            kind = self.session_kind or batch.job_session_kind(job)
            SendJob.objects.filter(pk=job.pk).update(session_kind=kind)
            if kind == SendJob.SessionKind.BATCH:
                batches.send_queued()
                if self._queued(job).exists():  # a session KSeF cancelled: next run
                    raise ComeBack(30, "timeout")
                return
            for _round in range(ROUNDS):
                if not self._queued(job).exists():
                    return
                self._send_round(ctx, job)
            if self._queued(job).exists():
                raise ComeBack(60, "timeout")

    def _queued(self, job: SendJob) -> QuerySet[OutgoingInvoice]:
        return job.invoices.filter(state=State.QUEUED)

    def _unsettled_sessions(self, job: SendJob) -> list[str]:
        return sorted(
            set(
                job.invoices.filter(state=State.SENDING)
                .exclude(session_reference="")
                .values_list("session_reference", flat=True)
            )
        )

    # --- one session ------------------------------------------------------------------

    def _send_round(self, ctx: connection.KsefContext, job: SendJob) -> None:
        public_key = select_public_key_certificate(
            ctx.client.get_public_key_certificates(), SYMMETRIC_KEY_ENCRYPTION, self.now()
        )
        session = ctx.session.call(ctx.client.open_online_session, public_key=public_key)
        reference = session.reference_number
        ambiguous: Exception | None = None
        for invoice in job.invoices.filter(state=State.QUEUED).order_by("position"):
            # Committed before the POST: a crash after it leaves a trace to look up.
            OutgoingInvoice.objects.filter(pk=invoice.pk, state=State.QUEUED).update(
                state=State.SENDING, session_reference=reference, attempted_at=self.now()
            )
            try:
                sent = ctx.session.call(
                    ctx.client.send_invoice,
                    session,
                    bytes(invoice.xml),
                    offline_mode=invoice.invoicing_mode != OutgoingInvoice.Mode.ONLINE,
                )
            except _AMBIGUOUS as exc:
                logger.warning("send job %s: ambiguous failure in %s: %s", job.pk, reference, exc)
                ambiguous = exc
                break
            except errors.ForbiddenError:
                # Refused before KSeF took it (no InvoiceWrite): not in the session.
                OutgoingInvoice.objects.filter(pk=invoice.pk).update(
                    state=State.QUEUED, session_reference=""
                )
                raise
            except errors.KsefApiError as exc:  # refused before KSeF took it: not in S
                self._reject(invoice, exc.status_code, exc.description or "", list(exc.details))
                continue
            OutgoingInvoice.objects.filter(pk=invoice.pk).update(
                ksef_reference=sent.reference_number
            )
        self._settle(ctx, job, reference)
        if ambiguous is not None:
            logger.info("send job %s: session %s settled after a failure", job.pk, reference)

    def _settle(self, ctx: connection.KsefContext, job: SendJob, reference: str) -> None:
        """Close REFERENCE, wait for KSeF to finish it and give each of the job's invoices
        sent into it its outcome; an invoice KSeF never received goes back to the queue."""
        self._close_quietly(ctx, reference)
        self._wait_for_session(ctx, reference)
        received = {
            status.invoice_hash: status
            for status in ctx.session.call(ctx.client.iter_session_invoices, reference)
        }
        pending = job.invoices.filter(state=State.SENDING, session_reference=reference)
        for invoice in pending:
            status = received.get(invoice.invoice_hash)
            if status is None:
                OutgoingInvoice.objects.filter(pk=invoice.pk).update(
                    state=State.QUEUED, session_reference="", ksef_reference=""
                )
            elif status.status.code in _IN_PROGRESS:
                raise ComeBack(self.poll * 5, "timeout")
            elif status.status.code == 200 and status.ksef_number:
                self._store_sent(ctx, job, invoice, reference, status)
            else:
                self._reject(
                    invoice,
                    status.status.code,
                    status.status.description,
                    list(status.status.details),
                    reference=status.reference_number,
                )

    def _close_quietly(self, ctx: connection.KsefContext, reference: str) -> None:
        try:
            ctx.session.call(ctx.client.close_online_session, reference)
        except errors.KsefApiError as exc:
            if exc.status_code >= 500:
                raise
            # 400 21180 and the like: the session is closed already (or expired).

    def _wait_for_session(self, ctx: connection.KsefContext, reference: str) -> None:
        waited = 0.0
        while True:
            status = ctx.session.call(ctx.client.get_session_status, reference)
            if status.status.code not in _IN_PROGRESS:
                return
            if waited >= self.wait_limit:
                raise ComeBack(30, "timeout")
            self.sleep(self.poll)
            waited += self.poll

    # --- outcomes ----------------------------------------------------------------------

    def _store_sent(
        self,
        ctx: connection.KsefContext,
        job: SendJob,
        invoice: OutgoingInvoice,
        reference: str,
        status: SessionInvoiceStatus,
    ) -> None:
        upo = ctx.session.call(ctx.client.download_invoice_upo, reference, status.reference_number)
        row = invoice_row(invoice, status)
        with transaction.atomic():
            store_invoices(
                client_id=invoice.client_id,
                subject_type=SubjectType.SUBJECT1,
                invoices=[row],
            )
            stored = Invoice.objects.only("pk").get(ksef_number=status.ksef_number)
            OutgoingInvoice.objects.filter(pk=invoice.pk).update(
                state=State.SENT,
                ksef_reference=status.reference_number,
                ksef_number=status.ksef_number,
                acquisition_date=status.acquisition_date,
                upo_xml=upo.content,
                status_code=status.status.code,
                status_description=status.status.description[:500],
                invoice=stored,
            )
            audit_sent(job, invoice, ksef_number=status.ksef_number, session=reference)

    def _reject(
        self,
        invoice: OutgoingInvoice,
        code: int,
        description: str,
        details: list[str],
        *,
        reference: str = "",
    ) -> None:
        with transaction.atomic():
            OutgoingInvoice.objects.filter(pk=invoice.pk).update(
                state=State.REJECTED,
                ksef_reference=reference or invoice.ksef_reference,
                status_code=code,
                status_description=(description or "")[:500],
                status_details=details,
            )
            audit_record(
                office=invoice.client.office,
                actor=None,
                action="invoices.send_rejected",
                obj=invoice,
                details={"file": invoice.file_name, "code": code},
                client_id=invoice.client_id,
            )

    def _fail(self, job: SendJob, code: str, params: dict[str, object]) -> None:
        with transaction.atomic():
            job.invoices.filter(state__in=[State.QUEUED, State.DRAFT]).update(state=State.DRAFT)
            SendJob.objects.filter(pk=job.pk).update(
                state=JobState.FAILED,
                error_code=code,
                error_params=params,
                lease_until=None,
                finished_at=self.now(),
            )
            audit_record(
                office=job.client.office,
                actor=None,
                action="invoices.send_failed",
                obj=job,
                details={"code": code},
                client_id=job.client_id,
            )

    def _finish_if_done(self, job: SendJob) -> str:
        invoices = job.invoices.all()
        if invoices.filter(state__in=[State.QUEUED, State.SENDING]).exists():
            raise ComeBack(30, "timeout")
        sent = invoices.filter(state=State.SENT).count()
        rejected = invoices.filter(state=State.REJECTED).count()
        with transaction.atomic():
            SendJob.objects.filter(pk=job.pk).update(
                state=JobState.DONE,
                sent_count=sent,
                rejected_count=rejected,
                error_code="",
                error_params={},
                lease_until=None,
                finished_at=self.now(),
            )
            audit_record(
                office=job.client.office,
                actor=job.created_by,
                action="invoices.send_finished",
                obj=job,
                details={"sent": sent, "rejected": rejected},
                client_id=job.client_id,
            )
        return str(JobState.DONE)

    # --- KSeF's exceptions as the sender acts on them ---------------------------------

    @contextmanager
    def _translated(
        self, nip: str, *, forbidden: Callable[[], str] = lambda: "no_invoice_write"
    ) -> Iterator[None]:
        try:
            yield
        except (_Failed, ComeBack):
            raise
        except SecretUnreadable:
            raise _Failed("secret_unreadable") from None
        except errors.AuthenticationFailed as exc:
            if exc.code in (500, 550):
                raise ComeBack(60, "ksef_unavailable") from None
            raise _Failed(f"auth_{exc.code}", nip=nip) from None
        except errors.ForbiddenError:
            raise _Failed(forbidden(), nip=nip) from None
        except errors.RateLimitedError as exc:
            raise ComeBack(float(exc.retry_after or 60), "rate_limited") from None
        except errors.ServerError:
            offline.record_unavailable(self.now())  # a detected outage (digest §7.1)
            raise ComeBack(60, "ksef_unavailable", unavailable=True) from None
        except _AMBIGUOUS:
            offline.record_unavailable(self.now())
            raise ComeBack(60, "timeout", unavailable=True) from None
        except errors.KsefApiError as exc:
            details = "; ".join(exc.details) or exc.description or "—"
            raise _Failed("ksef_rejected", status=exc.status_code, details=details) from None


def _forbidden_code(client: Client, credential: Credential) -> str:
    """What a KSeF 403 on sending means for this client: in the office model the missing
    entity grant; with the client's own credential, that its person or token lacks
    InvoiceWrite (the upload page's cached answer is dropped, so it asks KSeF again)."""
    if client.access_model == AccessModel.OFFICE or holds_owner_rights(client, credential):
        return "no_invoice_write"
    forget_write_access(client, credential)
    if credential.kind == Credential.Kind.TOKEN:
        return TOKEN_WITHOUT_INVOICE_WRITE
    return PERSON_WITHOUT_INVOICE_WRITE


def invoice_row(invoice: OutgoingInvoice, status: SessionInvoiceStatus) -> Invoice:
    """The Invoice the sync would store for this sent invoice (from the XML and KSeF's
    status), so the sales list shows it at once and the sync finds it by KSeF number."""
    xml = bytes(invoice.xml)
    summary = fa3.parse(xml)
    buyer = summary.buyer.identifier
    assert status.ksef_number and status.acquisition_date
    kinds = {fa3.IdentifierKind.NIP: "Nip", fa3.IdentifierKind.EU_VAT: "VatUe"}
    return Invoice(
        ksef_number=status.ksef_number,
        invoice_number=summary.number[:256],
        form_code="FA (3)",
        invoice_type=INVOICE_TYPES.get(summary.kind, "Vat"),
        invoicing_mode=(status.invoicing_mode or "Online")[:10],
        issue_date=summary.issue_date,
        invoicing_date=status.invoicing_date,
        acquisition_date=status.acquisition_date,
        permanent_storage_date=status.permanent_storage_date or status.acquisition_date,
        seller_nip=(summary.seller.identifier.value or "")[:10],
        seller_name=(summary.seller.name or "")[:512],
        buyer_identifier_type=kinds.get(buyer.kind, "Other" if buyer.value else "None")[:10],
        buyer_identifier=(buyer.value or "")[:50],
        buyer_name=(summary.buyer.name or "")[:512],
        net_amount=summary.net_total,
        vat_amount=summary.vat_total_pln or summary.vat_total,
        gross_amount=summary.gross_total,
        currency=summary.currency[:3],
        has_attachment=b"Zalacznik" in xml,
        invoice_hash=invoice.invoice_hash,
        metadata={"sentByPortal": True, "sessionInvoiceReference": status.reference_number},
        xml=xml,
        size=len(xml),
    )


def send_job_run(job_id: int, *, sender: Sender | None = None) -> str:
    """The task's entry point (one argument: the job's id)."""
    return (sender or Sender()).run(job_id)
