"""Issuing invoices offline: deadlines, the signing certificate, KSeF outages, issuance.

The public API the offline screens and e-mails build on (digest §7):

* `deadline_for(mode, issue_date, outage)` — the last day an offline invoice may reach KSeF;
* `offline_credential_for(client)` / `offline_blocked_reason(client, at=...)` — which
  certificate signs KOD II, and why none can ("" when one can);
* `current_outage()`, `outage_begin(...)`, `outage_end(...)` and the sender's
  `record_unavailable` / `record_available` — the KSeF outages the portal knows of, declared
  by an operator or detected when KSeF does not answer;
* `issue_offline(actor=..., job=..., mode=...)` — every draft of a checked job signed with
  KOD II and queued, all or nothing (`OfflineRefused` with a code otherwise).

Who signs KOD II. KSeF accepts the link when the certificate is of type Offline, active,
and its subject has InvoiceWrite in the context (digest §7.3). The client's own Offline
certificate always qualifies. In the office access model the portal logs in with the
office's certificate through the client's entity grant; KSeF checks the same grant for
KOD II, so when the client has no Offline certificate of its own the office's Offline
certificate signs — but only while the office holds InvoiceWrite in the client's context
(`send_blocked_reason` says "no_invoice_write" otherwise). In the client credential model
only the client's certificate may sign: the office has no permission in that context.
An Authentication certificate never signs (ksef.qr refuses it; so does this module first).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import F, Min, Q, QuerySet
from django.utils import timezone

from certificates.custody import SecretUnreadable, secret_read
from certificates.models import Credential
from clients.models import AccessModel, Client
from invoices.documents.render import qr_environment
from invoices.models import KsefOutage, OutgoingInvoice, SendJob
from invoices.sending.calendar import add_business_days, next_business_day
from invoices.sending.services import RUN_TASK, send_blocked_reason
from ksef import certificates as kc
from ksef import qr
from portal.audit import audit_record
from portal.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

WARSAW = ZoneInfo("Europe/Warsaw")
Mode = OutgoingInvoice.Mode
OFFLINE_MODES = (Mode.OFFLINE24, Mode.OFFLINE, Mode.EMERGENCY)
# Business days after an announced failure ends (ustawa o VAT art. 106nf; digest §7.1).
EMERGENCY_BUSINESS_DAYS = 7
# The credential-use purpose of a KOD II signature in the custody log.
SIGN_PURPOSE = "offline_sign"
# Invoices issued offline that have not reached KSeF yet.
WAITING_STATES = (
    OutgoingInvoice.State.DRAFT,
    OutgoingInvoice.State.QUEUED,
    OutgoingInvoice.State.SENDING,
)


class OfflineRefused(Exception):
    """Why invoices cannot be issued offline: a code of messages.job_error_message with its
    parameters. Nothing was changed."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def local_day(at: datetime) -> date:
    """The Polish calendar day of the moment AT (deadlines are days in Poland)."""
    return timezone.localtime(at, WARSAW).date()


# --- deadlines ---------------------------------------------------------------------------


def deadline_for(mode: str, issue_date: date | None, outage: KsefOutage | None) -> date | None:
    """The last day (inclusive) an invoice issued in MODE may reach KSeF, or None when it
    depends on an outage that has not ended (or the invoice is online: no deadline).

    OUTAGE is the one governing the invoice (`OutgoingInvoice.outage`): the one it was
    issued in, or an announced failure that began while it waited.
    """
    if mode == Mode.ONLINE:
        return None
    if outage is not None and outage.kind == KsefOutage.Kind.EMERGENCY:
        # Emergency mode: within 7 business days after the failure ends (ustawa o VAT
        # art. 106nf). A failure announced while an offline24/offline invoice waits moves
        # its deadline to 7 business days after the end of the last announced failure
        # (per the digest §7.1) — such invoices are attached to that failure.
        if outage.ended_at is None:
            return None
        return add_business_days(local_day(outage.ended_at), EMERGENCY_BUSINESS_DAYS)
    if mode == Mode.OFFLINE24:
        # offline24: by the next business day after the issue date, P_1 (ustawa o VAT
        # art. 106nda; digest §7.1).
        if issue_date is None:
            raise ValueError("an offline24 invoice needs its issue date (P_1)")
        return next_business_day(issue_date)
    if mode == Mode.OFFLINE:
        # KSeF unavailability: by the next business day after it ends (ustawa o VAT
        # art. 106nh; digest §7.1).
        if outage is None or outage.ended_at is None:
            return None
        return next_business_day(local_day(outage.ended_at))
    if mode == Mode.EMERGENCY:
        return None  # an emergency invoice whose failure is not known: no date yet
    raise ValueError(f"unknown invoicing mode {mode!r}")


# --- the signing certificate --------------------------------------------------------------


def _active_offline(credentials: QuerySet[Credential]) -> Credential | None:
    found: Credential | None = (
        credentials.filter(kind=Credential.Kind.OFFLINE, status=Credential.Status.ACTIVE)
        .order_by("-uploaded_at")
        .first()
    )
    return found


def offline_credential_for(client: Client) -> Credential | None:
    """The Offline certificate that signs the client's KOD II (see the module docstring):
    the client's own, or in the office model the office's."""
    own = _active_offline(Credential.objects.filter(client=client))
    if own is not None or client.access_model != AccessModel.OFFICE:
        return own
    return _active_offline(Credential.objects.filter(office_id=client.office_id, client=None))


def _certificate_problem(credential: Credential, at: datetime) -> tuple[str, dict[str, Any]]:
    """A refusal code for a stored certificate that cannot sign KOD II ("" when it can)."""
    try:
        info = kc.describe_certificate(kc.load_certificate(credential.certificate_pem.encode()))
    except (kc.CertificateError, ValueError, UnicodeEncodeError):
        return "offline_certificate_not_offline", {"serial": credential.serial_number or "—"}
    params: dict[str, Any] = {"serial": info.serial_hex}
    if info.kind is kc.KsefCertificateKind.AUTHENTICATION:
        return "offline_certificate_is_authentication", params
    if info.kind is not kc.KsefCertificateKind.OFFLINE:
        return "offline_certificate_not_offline", params
    if info.valid_to < at:
        return "offline_certificate_expired", {**params, "date": f"{local_day(info.valid_to)}"}
    if info.valid_from > at:
        return "offline_certificate_not_yet_valid", {
            **params,
            "date": f"{local_day(info.valid_from)}",
        }
    return "", {}


def offline_refusal(client: Client, *, at: datetime | None = None) -> OfflineRefused | None:
    """Why the client's invoices cannot be issued offline at AT, with the message's
    parameters; None when they can."""
    at = at or timezone.now()
    blocked = send_blocked_reason(client)
    if blocked:
        return OfflineRefused(blocked, nip=client.nip)
    credential = offline_credential_for(client)
    if credential is None:
        return OfflineRefused("no_offline_certificate")
    code, params = _certificate_problem(credential, at)
    return OfflineRefused(code, **params) if code else None


def offline_blocked_reason(client: Client, *, at: datetime | None = None) -> str:
    """Why the client's invoices cannot be issued offline at AT, as a code of
    messages.job_error_message ("" when they can): the sending prerequisites
    (`send_blocked_reason`: an offline invoice must still reach KSeF), then the Offline
    certificate (none, expired, not yet valid, an Authentication one, not a KSeF Offline)."""
    refusal = offline_refusal(client, at=at)
    return refusal.code if refusal else ""


# --- outages --------------------------------------------------------------------------------


def current_outage() -> KsefOutage | None:
    """The outage in force now, if any (one query on the partial unique index)."""
    found: KsefOutage | None = KsefOutage.objects.filter(ended_at__isnull=True).first()
    return found


def _waiting_offline() -> QuerySet[OutgoingInvoice]:
    return OutgoingInvoice.objects.filter(
        issued_offline_at__isnull=False, state__in=WAITING_STATES
    ).exclude(invoicing_mode=Mode.ONLINE)


def outage_begin(kind: str, source: str, at: datetime | None = None, note: str = "") -> KsefOutage:
    """Record that KSeF is down from AT; the ongoing outage if one is recorded already.

    One outage lasts at a time (a unique index): a second worker finding KSeF down gets
    the first one's row. An announced failure (`emergency`) over an ongoing unavailability
    turns that row into the failure. When a failure begins, every offline invoice still
    waiting for KSeF comes under it: its deadline becomes 7 business days after the
    failure ends (per the digest §7.1), so it is cleared until then.
    """
    if kind not in KsefOutage.Kind.values:
        raise ValueError(f"unknown outage kind {kind!r}")
    at = at or timezone.now()
    with transaction.atomic():
        outage = KsefOutage.objects.select_for_update().filter(ended_at__isnull=True).first()
        if outage is None:
            try:
                with transaction.atomic():
                    outage = KsefOutage.objects.create(
                        kind=kind, source=source, started_at=at, note=note[:500]
                    )
                logger.warning("KSeF outage begins (%s, %s) at %s", kind, source, at)
            except IntegrityError:  # another worker recorded it a moment ago
                outage = KsefOutage.objects.select_for_update().get(ended_at__isnull=True)
        elif kind == KsefOutage.Kind.EMERGENCY and outage.kind != kind:
            outage.kind = kind
            outage.source = source
            outage.note = note[:500] or outage.note
            outage.save(update_fields=["kind", "source", "note"])
        elif source == KsefOutage.Source.DECLARED and outage.source != source:
            outage.source = source  # an operator confirms what the portal detected
            outage.note = note[:500] or outage.note
            outage.save(update_fields=["source", "note"])
        if outage.kind == KsefOutage.Kind.EMERGENCY:
            _waiting_offline().exclude(outage=outage).update(outage=outage, offline_deadline=None)
    return outage


def outage_end(at: datetime | None = None, *, only_detected: bool = False) -> KsefOutage | None:
    """End the ongoing outage at AT and compute the deadlines of its invoices; None when
    none lasts (or, with ONLY_DETECTED, when the ongoing one was declared: an announced
    outage ends when an operator says so, not when one call succeeds)."""
    at = at or timezone.now()
    with transaction.atomic():
        ongoing = KsefOutage.objects.select_for_update().filter(ended_at__isnull=True)
        if only_detected:
            ongoing = ongoing.filter(source=KsefOutage.Source.DETECTED)
        outage = ongoing.first()
        if outage is None:
            return None
        outage.ended_at = max(at, outage.started_at)
        outage.save(update_fields=["ended_at"])
        logger.warning("KSeF outage %s (%s) ends at %s", outage.pk, outage.kind, outage.ended_at)
        invoices = OutgoingInvoice.objects.filter(outage=outage)
        groups = invoices.values_list("invoicing_mode", "issue_date").distinct()
        for mode, issue_date in list(groups):
            invoices.filter(invoicing_mode=mode, issue_date=issue_date).update(
                offline_deadline=deadline_for(mode, issue_date, outage)
            )
    return outage


def record_unavailable(at: datetime | None = None) -> KsefOutage:
    """The sender (or the sync) found KSeF not answering: the ongoing outage, detected now
    if none was recorded. Cheap when one lasts: one indexed query."""
    return current_outage() or outage_begin(
        KsefOutage.Kind.UNAVAILABLE, KsefOutage.Source.DETECTED, at
    )


def record_available(at: datetime | None = None) -> KsefOutage | None:
    """A KSeF call succeeded: a detected outage ends now (one query when none lasts)."""
    if not KsefOutage.objects.filter(
        ended_at__isnull=True, source=KsefOutage.Source.DETECTED
    ).exists():
        return None
    return outage_end(at, only_detected=True)


# --- issuance ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Signer:
    credential: Credential
    certificate: Any
    key: Any


def _outage_for(mode: str) -> KsefOutage | None:
    """The outage an invoice issued now in MODE belongs to; OfflineRefused when the mode
    needs one that is not in force. An offline24 invoice belongs to none: its deadline
    counts from its issue date, and only a failure announced later moves it."""
    if mode == Mode.OFFLINE24:
        return None
    outage = current_outage()
    if mode == Mode.OFFLINE:
        if outage is None or outage.kind != KsefOutage.Kind.UNAVAILABLE:
            raise OfflineRefused("offline_needs_unavailability")
        return outage
    if outage is None or outage.kind != KsefOutage.Kind.EMERGENCY:
        raise OfflineRefused("offline_needs_emergency")
    return outage


def issue_offline(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    job: SendJob,
    mode: str,
    enqueue: bool = True,
    at: datetime | None = None,
) -> SendJob:
    """Issue every draft of JOB offline in MODE and queue the job for KSeF.

    Each draft gets KOD II signed with the Offline certificate (the private key decrypted
    only here, once; each signature one custody-log entry "credential.used" and one
    "invoices.issued_offline" audit event), its mode, moment of issue, deadline and outage,
    and the state "queued". All or nothing: any refusal (`OfflineRefused`) or error leaves
    the job and its invoices exactly as they were.
    """
    if mode not in OFFLINE_MODES:
        raise OfflineRefused("offline_mode_unknown", mode=mode)
    at = at or timezone.now()
    client = job.client
    refusal = offline_refusal(client, at=at)
    if refusal is not None:
        raise refusal
    with transaction.atomic():
        locked = SendJob.objects.select_for_update().get(pk=job.pk)
        if locked.state not in (SendJob.State.CHECKED, SendJob.State.FAILED):
            raise OfflineRefused("offline_not_checked")
        outage = _outage_for(mode)
        pending = locked.invoices.filter(state=OutgoingInvoice.State.DRAFT)
        # A failed job's invoices issued offline before are issued already: they go back
        # to the queue as they are (the same KOD II, mode and deadline), never re-signed.
        issued_before = pending.filter(issued_offline_at__isnull=False)
        drafts = list(pending.filter(issued_offline_at=None).order_by("position"))
        if not drafts and not issued_before.exists():
            raise OfflineRefused("offline_nothing_to_issue")
        issued_before.update(state=OutgoingInvoice.State.QUEUED)
        credential = offline_credential_for(client)
        assert credential is not None  # offline_refusal said so
        if drafts:
            signer = _load_signer(credential)
            try:
                for draft in drafts:
                    _issue_one(actor, locked, draft, mode, outage, signer, at)
            finally:
                del signer
        locked.state = SendJob.State.QUEUED
        locked.error_code = ""
        locked.error_params = {}
        locked.finished_at = None
        locked.save(update_fields=["state", "error_code", "error_params", "finished_at"])
        audit_record(
            office=client.office,
            actor=actor,
            action="invoices.send_started",
            obj=locked,
            details={"invoices": len(drafts), "mode": mode},
            client_id=client.pk,
        )
        if enqueue:
            enqueue_on_commit(RUN_TASK, locked.pk)
    logger.info(
        "send job %s: %d invoices issued %s, KOD II signed with certificate %s",
        job.pk,
        len(drafts),
        mode,
        credential.serial_number,
    )
    job.refresh_from_db()
    return job


def _load_signer(credential: Credential) -> _Signer:
    try:
        material = secret_read(credential)
        key = kc.load_private_key(
            material.private_key_pem.encode("ascii"), material.key_password or None
        )
    except (SecretUnreadable, kc.CertificateError, UnicodeEncodeError):
        raise OfflineRefused("secret_unreadable") from None
    del material
    certificate = kc.load_certificate(credential.certificate_pem.encode("ascii"))
    return _Signer(credential, certificate, key)


def _issue_one(
    actor: AbstractBaseUser | AnonymousUser | None,
    job: SendJob,
    draft: OutgoingInvoice,
    mode: str,
    outage: KsefOutage | None,
    signer: _Signer,
    at: datetime,
) -> None:
    client = job.client
    try:
        url = qr.certificate_verification_url(
            qr_environment(),
            "Nip",
            client.nip,
            client.nip,
            signer.certificate,
            signer.key,
            bytes(draft.xml),
        )
    except qr.AuthenticationCertificateNotAllowedError:
        raise OfflineRefused(
            "offline_certificate_is_authentication", serial=signer.credential.serial_number
        ) from None
    except qr.OfflineCertificateRequiredError:
        raise OfflineRefused(
            "offline_certificate_not_offline", serial=signer.credential.serial_number
        ) from None
    except (qr.QrError, kc.CertificateError) as exc:
        raise OfflineRefused(
            "offline_sign_failed", file=draft.file_name, reason=type(exc).__name__
        ) from None
    deadline = deadline_for(mode, draft.issue_date or local_day(at), outage)
    try:
        with transaction.atomic():
            OutgoingInvoice.objects.filter(pk=draft.pk, state=OutgoingInvoice.State.DRAFT).update(
                state=OutgoingInvoice.State.QUEUED,
                invoicing_mode=mode,
                issued_offline_at=at,
                offline_deadline=deadline,
                outage=outage,
                certificate_url=url,
                offline_credential=signer.credential,
            )
    except IntegrityError:
        raise OfflineRefused("offline_already_queued", file=draft.file_name) from None
    details = {"purpose": SIGN_PURPOSE, "context_nip": client.nip, "file": draft.file_name}
    audit_record(
        office=signer.credential.office,
        actor=actor,
        action="credential.used",
        obj=signer.credential,
        details=details,
        client_id=client.pk,
    )
    audit_record(
        office=client.office,
        actor=actor,
        action="invoices.issued_offline",
        obj=draft,
        details={
            "file": draft.file_name,
            "number": draft.invoice_number,
            "mode": mode,
            "deadline": deadline.isoformat() if deadline else None,
            "certificate": signer.credential.serial_number,
            "outage": outage.pk if outage else None,
        },
        client_id=client.pk,
    )


def offline_sweep_jobs(*, now: datetime | None = None, idle_minutes: int = 30) -> list[int]:
    """Jobs holding unsent offline invoices that nothing is retrying: queued or sending,
    lease free, and not run for IDLE_MINUTES (a job coming back runs at least every ~23
    minutes: the task's backoff is capped at 15 minutes, plus jitter). Earliest deadline
    first, those still waiting for an outage's end last."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=idle_minutes)
    jobs = (
        SendJob.objects.filter(state__in=[SendJob.State.QUEUED, SendJob.State.SENDING])
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(
            Q(started_at__lt=cutoff) | Q(started_at__isnull=True, created_at__lt=cutoff),
        )
        .filter(
            invoices__issued_offline_at__isnull=False,
            invoices__state__in=[OutgoingInvoice.State.QUEUED, OutgoingInvoice.State.SENDING],
        )
        .annotate(deadline=Min("invoices__offline_deadline"))
        .order_by(F("deadline").asc(nulls_last=True), "pk")
        .values_list("pk", flat=True)
        .distinct()
    )
    return list(jobs)
