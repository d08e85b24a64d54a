"""Renewing a stored KSeF certificate through KSeF itself (digest §3, issue #17).

One renewal (`CredentialRenewal`, one row per renewed credential) runs these steps, each
persisted before the next so that a crash anywhere resumes instead of enrolling twice:

1. claim the row with a conditional UPDATE of its lease (two workers, or the daily job run
   twice, cannot both hold it — the pattern of invoices/sync/engine.py);
2. log in with the current authentication certificate of the same subject (an offline
   certificate is renewed with that session), read `/certificates/limits` and
   `/certificates/enrollments/data`;
3. generate the new key here, in the service that stores it, and keep it encrypted on the
   row (`pending_private_key_pem`) together with the certificate name sent to KSeF;
4. send the CSR with exactly the returned DN and a `validFrom` inside the old certificate's
   validity, and store the enrollment reference at once; if a crash loses the reference,
   the certificate is found again by its name (`/certificates/query`);
5. follow the enrollment, retrieve the certificate, validate it like an upload, store it
   encrypted as the slot's next credential; it becomes active at its validFrom and the old
   one is retired (secret destroyed) at its own end — not revoked, unless the office asked.

A failure never touches the working certificate. Every attempt and outcome goes to the
custody log (audit events "credential.renewal_*"); a failure stores a code and parameters
(certificates.renewal.failures) and the assigned accountants get one e-mail per failure
episode (portal.ledger). Transient trouble (KSeF unreachable, 5xx, 429, an enrollment still
processing) raises `RenewalBusy`: the Celery task retries with backoff and, when it gives
up, `renewal_give_up` records the failure and alerts.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from certificates import connection
from certificates.custody import SecretUnreadable
from certificates.models import (
    ClientRenewalChoice,
    Credential,
    CredentialRenewal,
    RenewalFailureNotice,
    RenewalSettings,
)
from certificates.renewal import selectors
from certificates.renewal.failures import (
    Failure,
    date_text,
    failure_message,
    in_progress_message,
    renewed_message,
)
from certificates.services import _metadata, _send_mail, _store, credential_validate, secret_destroy
from certificates.validation import CertificateUpload, Consent, CredentialRejected, UploadedFile
from clients.models import Client
from ksef import certificates as kc
from ksef import errors
from portal.access import MANAGERS
from portal.audit import audit_record
from portal.ledger import ledger_claim
from portal.messages import StoredText, to_data
from portal.models import Membership, Office
from portal.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

# Longer than one attempt can take (a login, a few requests, the enrollment poll).
LEASE = timedelta(minutes=10)
# How long one attempt waits for KSeF to issue the certificate before coming back later.
ENROLLMENT_WAIT_SECONDS = 20.0
ENROLLMENT_POLL_SECONDS = 1.0
# An enrollment KSeF may still be processing: before this, a lost reference is not re-sent.
LOST_ENROLLMENT_GRACE = timedelta(minutes=30)
NOTICE_LEASE = timedelta(minutes=10)
LIMIT_CODES = (25006, 25007)
CSR_CODES = (25003, 25004, 25010, 25011)
KSEF_TYPES: dict[str, str] = {
    Credential.Kind.AUTHENTICATION: "Authentication",
    Credential.Kind.OFFLINE: "Offline",
}


class RenewalBusy(Exception):
    """KSeF is unreachable, busy, or still issuing: come back later (the task retries)."""

    def __init__(self, message: StoredText, retry_after: float | None = None) -> None:
        self.message = message
        self.retry_after = retry_after
        super().__init__(str(message))


class RenewalFailed(Exception):
    """The renewal cannot go on; `code` and `message` are stored on the row."""

    def __init__(self, code: Failure, message: StoredText, *, reset: bool = True) -> None:
        self.code = code
        self.message = message
        # True: the next attempt starts afresh (new key, new enrollment); False: it resumes.
        self.reset = reset
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class RunReport:
    """What one run did, for the command's output and the task's return value."""

    renewal: CredentialRenewal | None
    outcome: str  # "renewed" | "stored" | "failed" | "busy" | "held" | "skipped"
    message: str = ""


# --- settings and consent -----------------------------------------------------------------


def renewal_settings_update(
    *, actor: User, office: Office, values: dict[str, Any]
) -> RenewalSettings:
    """Change the office's renewal settings; who and what is written to the audit log."""
    with transaction.atomic():
        current, _created = RenewalSettings.objects.select_for_update().get_or_create(office=office)
        changed = {}
        for name, value in values.items():
            if getattr(current, name) != value:
                changed[name] = {"from": getattr(current, name), "to": value}
                setattr(current, name, value)
        current.updated_by = actor
        current.save()
        if changed:
            audit_record(
                office=office,
                actor=actor,
                action="renewal.settings_changed",
                obj=current,
                details=changed,
            )
    return current


def client_renewal_choice_set(
    *, actor: User, client: Client, enabled: bool | None
) -> ClientRenewalChoice | None:
    """Record the client's own choice (None: follow the office default) in the custody log.

    The consent matters because, once it is given, the portal generates and keeps the
    client's new private key; the log says who enabled it and when.
    """
    with transaction.atomic():
        previous = ClientRenewalChoice.objects.select_for_update().filter(client=client).first()
        before = previous.enabled if previous else None
        choice: ClientRenewalChoice | None = None
        if enabled is None:
            ClientRenewalChoice.objects.filter(client=client).delete()
        else:
            choice, _created = ClientRenewalChoice.objects.update_or_create(
                client=client,
                defaults={
                    "office": client.office,
                    "enabled": enabled,
                    "changed_by": actor,
                    "changed_at": timezone.now(),
                },
            )
        if before != enabled:
            audit_record(
                office=client.office,
                actor=actor,
                action="credential.renewal_consent",
                obj=client,
                details={"from": _choice_code(before), "to": _choice_code(enabled)},
            )
    return choice


def _choice_code(enabled: bool | None) -> str:
    return {None: "office_default", True: "enabled", False: "disabled"}[enabled]


# --- scheduling ---------------------------------------------------------------------------


def renewal_for(credential: Credential, *, actor: User | None = None) -> CredentialRenewal:
    """The credential's renewal row, created once (the unique key settles a race)."""
    renewal, _created = CredentialRenewal.objects.get_or_create(
        credential=credential,
        defaults={
            "office": credential.office,
            "client": credential.client,
            "requested_by": actor,
        },
    )
    return renewal


def renewal_request(*, actor: User, credential: Credential) -> CredentialRenewal:
    """ "Odnów teraz": queue the renewal of one credential (managers and admins).

    Runs even when automatic renewal is off for the client: a person asked for it.
    """
    if not credential.is_active or not selectors.is_renewable(credential):
        raise ValueError("only an active KSeF certificate of a NIP can be renewed")
    with transaction.atomic():
        renewal = renewal_for(credential, actor=actor)
        audit_record(
            office=credential.office,
            actor=actor,
            action="credential.renewal_requested",
            obj=credential,
            details={"renewal_id": renewal.pk},
        )
        enqueue_on_commit("certificates.renewal_run", renewal.pk)
    return renewal


def renewals_daily(*, now: datetime | None = None) -> int:
    """The beat entry point: switch over, retire, and queue every renewal that is due."""
    now = now or timezone.now()
    renewals_activate_due(now=now)
    predecessors_retire(now=now)
    queued = 0
    for credential in selectors.credentials_due(now=now):
        renewal = renewal_for(credential)
        if renewal.state in (CredentialRenewal.State.STORED, CredentialRenewal.State.RENEWED):
            continue
        enqueue_on_commit("certificates.renewal_run", renewal.pk)
        queued += 1
    return queued


# --- the claim ----------------------------------------------------------------------------


def _claim(renewal_id: int, now: datetime) -> str | None:
    """Take the row's lease with one conditional UPDATE; None when another worker holds it."""
    token = uuid.uuid4().hex
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    taken = (
        CredentialRenewal.objects.filter(free, pk=renewal_id)
        .exclude(state__in=[CredentialRenewal.State.STORED, CredentialRenewal.State.RENEWED])
        .update(lease_until=now + LEASE, lease_token=token)
    )
    return token if taken else None


def _release(renewal: CredentialRenewal, token: str) -> None:
    CredentialRenewal.objects.filter(pk=renewal.pk, lease_token=token).update(
        lease_until=None, lease_token=""
    )


def _save(renewal: CredentialRenewal, *fields: str) -> None:
    """Persist progress at once (autocommit): what a crash must not lose."""
    renewal.save(update_fields=[*fields, "updated_at"])


# --- one run ------------------------------------------------------------------------------


def renewal_perform(
    *,
    renewal_id: int,
    now: Callable[[], datetime] = timezone.now,
    sleep: Callable[[float], None] = time.sleep,
) -> RunReport:
    """Run (or resume) one renewal. Raises `RenewalBusy` for the task to retry later."""
    token = _claim(renewal_id, now())
    renewal = CredentialRenewal.objects.select_related(
        "credential", "credential__office", "credential__client", "office", "client"
    ).get(pk=renewal_id)
    if token is None:
        outcome = "skipped" if renewal.state in _DONE else "held"
        return RunReport(renewal, outcome)
    try:
        return _run(renewal, now=now, sleep=sleep)
    except RenewalFailed as exc:
        _fail(renewal, exc)
        return RunReport(renewal, "failed", str(exc.message))
    except RenewalBusy as exc:
        _attempt_logged(renewal, outcome="busy", message=exc.message)
        raise
    finally:
        _release(renewal, token)


_DONE = (CredentialRenewal.State.STORED, CredentialRenewal.State.RENEWED)


def _run(
    renewal: CredentialRenewal, *, now: Callable[[], datetime], sleep: Callable[[float], None]
) -> RunReport:
    credential = renewal.credential
    in_flight = bool(renewal.enrollment_reference or renewal.certificate_serial)
    if not credential.is_active and not in_flight:
        # Replaced or deleted by a person since it was queued: nothing left to renew.
        return RunReport(renewal, "skipped")
    if not selectors.is_renewable(credential):
        raise RenewalFailed(Failure.NOT_RENEWABLE, failure_message(Failure.NOT_RENEWABLE))
    nip = _subject_nip(credential)
    if credential.valid_to is not None and credential.valid_to <= now() and not in_flight:
        raise RenewalFailed(
            Failure.CURRENT_EXPIRED,
            failure_message(
                Failure.CURRENT_EXPIRED, valid_to=date_text(credential.valid_to), nip=nip
            ),
        )
    login = _login_credential(credential)
    if login is None:
        raise RenewalFailed(
            Failure.NO_AUTHENTICATION_CERTIFICATE,
            failure_message(Failure.NO_AUTHENTICATION_CERTIFICATE, nip=nip),
        )
    if login.valid_to is not None and login.valid_to <= now():
        # An offline certificate whose authentication certificate already ended.
        raise RenewalFailed(
            Failure.CURRENT_EXPIRED,
            failure_message(Failure.CURRENT_EXPIRED, valid_to=date_text(login.valid_to), nip=nip),
        )
    renewal.attempts += 1
    renewal.failure_code = ""
    renewal.message_data = to_data(in_progress_message())
    _save(renewal, "attempts", "failure_code", "message_data")
    _attempt_logged(renewal, outcome="started", message=None)
    with _ksef(renewal, login, nip) as context:
        serial = renewal.certificate_serial or _enrol_or_resume(renewal, context, now, sleep)
        der = _retrieve(context, serial)
    return _store_renewed(renewal, der, now=now())


def _subject_nip(credential: Credential) -> str:
    return credential.client.nip if credential.client is not None else credential.office.nip


def _login_credential(credential: Credential) -> Credential | None:
    """The authentication certificate whose session requests the successor."""
    if credential.kind == Credential.Kind.AUTHENTICATION:
        return credential
    return (
        Credential.objects.filter(
            office=credential.office,
            client=credential.client,
            kind=Credential.Kind.AUTHENTICATION,
            status=Credential.Status.ACTIVE,
            owner_identifier_type=Credential.OwnerIdentifierType.NIP,
        )
        .order_by("-valid_to")
        .first()
    )


@contextmanager
def _ksef(
    renewal: CredentialRenewal, login: Credential, nip: str
) -> Iterator[connection.KsefContext]:
    """A session with the login certificate; KSeF's answers become Busy or Failed."""
    valid_to = date_text(renewal.credential.valid_to)
    try:
        with connection.ksef_context(
            credential=login, context_nip=nip, purpose="certificate_renewal"
        ) as context:
            yield context
    except SecretUnreadable:
        logger.exception("renewal %s: the login secret is unreadable", renewal.pk)
        raise RenewalFailed(
            Failure.SECRET_UNREADABLE, failure_message(Failure.SECRET_UNREADABLE)
        ) from None
    except errors.AuthenticationFailed as exc:
        if exc.code == 460:
            raise RenewalFailed(
                Failure.CURRENT_REVOKED, failure_message(Failure.CURRENT_REVOKED, nip=nip)
            ) from None
        if exc.code >= 500:
            raise _busy() from None
        raise RenewalFailed(
            Failure.LOGIN_REFUSED,
            failure_message(
                Failure.LOGIN_REFUSED,
                reason=connection.auth_failure_message(exc.code, nip),
                valid_to=valid_to,
            ),
        ) from None
    except errors.RateLimitedError as exc:
        raise _busy(exc.retry_after) from None
    except errors.BadRequestError as exc:
        raise _bad_request(exc, renewal, nip) from None
    except (errors.ServerError, errors.KsefTransportError, errors.OperationTimeout):
        raise _busy() from None
    except (httpx.HTTPError, OSError):
        raise _busy() from None


def _busy(retry_after: float | None = None) -> RenewalBusy:
    return RenewalBusy(in_progress_message(), retry_after)


def _bad_request(exc: errors.KsefApiError, renewal: CredentialRenewal, nip: str) -> RenewalFailed:
    valid_to = date_text(renewal.credential.valid_to)
    detail = "; ".join(part for part in (exc.description, *exc.details) if part)
    code = next((c for c in exc.codes), exc.status_code)
    if any(exc.has_code(c) for c in LIMIT_CODES):
        return RenewalFailed(
            Failure.LIMITS_REACHED,
            failure_message(
                Failure.LIMITS_REACHED,
                nip=nip,
                code=code,
                enrollments_left="0" if exc.has_code(25006) else "—",
                enrollments_limit="—",
                certificates_left="0" if exc.has_code(25007) else "—",
                certificates_limit="—",
                valid_to=valid_to,
            ),
        )
    return RenewalFailed(
        Failure.CSR_REJECTED,
        failure_message(
            Failure.CSR_REJECTED, code=code, detail=detail or str(code), valid_to=valid_to
        ),
    )


# --- enrollment -----------------------------------------------------------------------------


def _enrol_or_resume(
    renewal: CredentialRenewal,
    context: connection.KsefContext,
    now: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> str:
    """The new certificate's serial: followed, found again, or enrolled now."""
    if renewal.enrollment_reference:
        return _follow(renewal, context, now, sleep)
    if renewal.state == CredentialRenewal.State.ENROLLING and renewal.certificate_name:
        found = _find_by_name(renewal, context)
        if found:
            return found
        if renewal.enrolled_at and now() - renewal.enrolled_at < LOST_ENROLLMENT_GRACE:
            raise _busy()  # KSeF may still be processing the request we lost track of
    client, token = context.client, context.session.access_token
    limits = client.get_certificate_limits(token)
    if not limits.can_request:
        raise RenewalFailed(
            Failure.LIMITS_REACHED,
            failure_message(
                Failure.LIMITS_REACHED,
                nip=context.context_nip,
                code="canRequest=false",
                enrollments_left=limits.enrollment.remaining,
                enrollments_limit=limits.enrollment.limit,
                certificates_left=limits.certificate.remaining,
                certificates_limit=limits.certificate.limit,
                valid_to=date_text(renewal.credential.valid_to),
            ),
        )
    subject = client.get_certificate_enrollment_data(token).to_json()
    key = _pending_key(renewal)
    csr_der = _csr_der(key, subject)
    renewal.state = CredentialRenewal.State.ENROLLING
    renewal.enrolled_at = now()
    _save(renewal, "state", "enrolled_at")
    enrollment = client.enroll_certificate(
        token,
        name=renewal.certificate_name,
        certificate_type=KSEF_TYPES[renewal.credential.kind],
        csr_der=csr_der,
        valid_from=_valid_from(renewal.credential, now()),
    )
    _remember_reference(renewal, enrollment.reference_number)
    return _follow(renewal, context, now, sleep)


def _valid_from(credential: Credential, now: datetime) -> datetime:
    """From now, so the successor overlaps the old certificate for its remaining days.

    KSeF counts the two years from validFrom; starting now gives the portal the whole
    remaining window to switch over and to find out (by logging in) that the new one works.
    """
    del credential  # the rule may come to depend on it (a later start, a minimum overlap)
    return now.replace(microsecond=0)


def _pending_key(renewal: CredentialRenewal) -> kc.PrivateKey:
    """The key of this enrollment: generated once and kept encrypted until it is stored."""
    if renewal.pending_private_key_pem and renewal.certificate_name:
        return kc.load_private_key(renewal.pending_private_key_pem.encode("ascii"))
    settings_row = selectors.renewal_settings_of(renewal.office)
    rsa = settings_row.key_type == RenewalSettings.KeyType.RSA
    key = kc.generate_private_key("rsa" if rsa else "ec")
    renewal.pending_private_key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    renewal.certificate_name = f"Odnowienie portalu {renewal.pk} {secrets.token_hex(4)}"
    renewal.enrollment_reference = ""
    renewal.certificate_serial = ""
    _save(
        renewal,
        "pending_private_key_pem",
        "certificate_name",
        "enrollment_reference",
        "certificate_serial",
    )
    return key


def _csr_der(key: kc.PrivateKey, subject: dict[str, str]) -> bytes:
    """The CSR with exactly the DN KSeF returned (a changed DN is refused with 25003)."""
    csr_pem = kc.build_csr(key, subject)
    return x509.load_pem_x509_csr(csr_pem).public_bytes(serialization.Encoding.DER)


def _remember_reference(renewal: CredentialRenewal, reference: str) -> None:
    renewal.enrollment_reference = reference
    renewal.state = CredentialRenewal.State.ENROLLED
    _save(renewal, "enrollment_reference", "state")
    audit_record(
        office=renewal.office,
        actor=None,
        action="credential.renewal_enrolled",
        obj=renewal.credential,
        details={"renewal_id": renewal.pk, "enrollment": reference},
    )


def _find_by_name(renewal: CredentialRenewal, context: connection.KsefContext) -> str | None:
    """After a crash that lost the reference: the certificate KSeF issued under our name."""
    page = context.client.query_certificates(
        context.session.access_token, name=renewal.certificate_name
    )
    for item in page.certificates:
        if item.name == renewal.certificate_name:
            renewal.certificate_serial = item.serial_number
            renewal.state = CredentialRenewal.State.ENROLLED
            _save(renewal, "certificate_serial", "state")
            return item.serial_number
    return None


def _follow(
    renewal: CredentialRenewal,
    context: connection.KsefContext,
    now: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> str:
    """Poll the enrollment until KSeF issued the certificate (or come back later)."""
    started = now()
    valid_to = date_text(renewal.credential.valid_to)
    while True:
        result = context.client.get_certificate_enrollment_status(
            context.session.access_token, renewal.enrollment_reference
        )
        status = result.status
        if status.code == 200 and result.certificate_serial_number:
            renewal.certificate_serial = result.certificate_serial_number
            _save(renewal, "certificate_serial")
            return result.certificate_serial_number
        if status.code >= 400:
            detail = "; ".join([status.description, *status.details])
            failure = (
                Failure.ENROLLMENT_REJECTED if status.code < 500 else Failure.ENROLLMENT_FAILED
            )
            raise RenewalFailed(
                failure,
                failure_message(failure, code=status.code, detail=detail, valid_to=valid_to),
            )
        if (now() - started).total_seconds() >= ENROLLMENT_WAIT_SECONDS:
            raise _busy()  # still processing (code 100): the task comes back
        sleep(ENROLLMENT_POLL_SECONDS)


def _retrieve(context: connection.KsefContext, serial: str) -> bytes:
    [retrieved] = context.client.retrieve_certificates(context.session.access_token, [serial])
    return retrieved.certificate_der


# --- storing and switching over -----------------------------------------------------------------


def _store_renewed(renewal: CredentialRenewal, der: bytes, *, now: datetime) -> RunReport:
    """Validate like an upload, then store the successor encrypted as the slot's next one."""
    old = renewal.credential
    certificate_pem = kc.load_certificate(der).public_bytes(serialization.Encoding.PEM)
    upload = CertificateUpload(
        certificate=UploadedFile("renewed.pem", certificate_pem),
        private_key=UploadedFile("renewed.key", renewal.pending_private_key_pem.encode("ascii")),
    )
    try:
        validated = credential_validate(
            office=old.office, client=old.client, kind=old.kind, upload=upload
        )
    except CredentialRejected as exc:
        raise RenewalFailed(
            Failure.VALIDATION_FAILED,
            failure_message(
                Failure.VALIDATION_FAILED, reason=exc.message, valid_to=date_text(old.valid_to)
            ),
        ) from None
    info = validated.info
    assert info is not None
    if info.owner_identifier != old.owner_identifier:
        raise RenewalFailed(
            Failure.VALIDATION_FAILED,
            failure_message(
                Failure.VALIDATION_FAILED,
                reason=f"{info.owner_identifier_type} {info.owner_identifier}",
                valid_to=date_text(old.valid_to),
            ),
        )
    with transaction.atomic():
        _lock_slot(old)
        new = _store(
            office=old.office,
            client=old.client,
            validated=validated,
            consent=Consent(),
            actor=None,
            source=Credential.Source.RENEWAL,
            status=Credential.Status.SCHEDULED,
        )
        renewal.new_credential = new
        renewal.certificate_serial = new.serial_number
        renewal.pending_private_key_pem = ""
        renewal.state = CredentialRenewal.State.STORED
        renewal.in_failure = False
        renewal.failure_code = ""
        renewal.message_data = to_data(
            renewed_message(
                serial=new.serial_number,
                valid_from=info.valid_from,
                valid_to=info.valid_to,
            )
        )
        renewal.finished_at = now
        renewal.save()
        audit_record(
            office=old.office,
            actor=None,
            action="credential.renewed",
            obj=old,
            details=_metadata(new)
            | {"renewal_id": renewal.pk, "new_credential_id": new.pk, "attempt": renewal.attempts},
        )
    if info.valid_from <= now:
        renewal_activate(renewal=renewal, now=now)
    else:
        enqueue_on_commit("certificates.renewal_activate", renewal.pk)
    renewal.refresh_from_db()
    done = renewal.state == CredentialRenewal.State.RENEWED
    return RunReport(renewal, "renewed" if done else "stored", renewal.message_text)


def _lock_slot(credential: Credential) -> None:
    if credential.client_id is not None:
        Client.objects.select_for_update().get(pk=credential.client_id)
    else:
        Office.objects.select_for_update().get(pk=credential.office_id)


def renewal_activate(*, renewal: CredentialRenewal, now: datetime | None = None) -> bool:
    """At the successor's validFrom: it becomes the slot's active credential.

    The old one stops being used (status "replaced") but keeps its key until its own end,
    when `predecessors_retire` destroys it; it is not revoked unless the office asked. If
    a person stored another credential in the slot meanwhile, theirs wins and the
    successor is discarded.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = CredentialRenewal.objects.select_for_update().get(pk=renewal.pk)
        new = locked.new_credential
        if locked.state != CredentialRenewal.State.STORED or new is None:
            return False
        if new.valid_from is not None and new.valid_from > now:
            return False
        old = locked.credential
        _lock_slot(old)
        old.refresh_from_db()
        new.refresh_from_db()
        someone_else = (
            Credential.objects.filter(
                office=old.office, client=old.client, kind=old.kind, status=Credential.Status.ACTIVE
            )
            .exclude(pk=old.pk)
            .exists()
        )
        if someone_else or new.status != Credential.Status.SCHEDULED:
            new.status = Credential.Status.DELETED
            new.deleted_at = now
            new.save(update_fields=["status", "deleted_at"])
            secret_destroy(credential=new)
            audit_record(
                office=old.office,
                actor=None,
                action="credential.renewal_discarded",
                obj=new,
                details=_metadata(new) | {"renewal_id": locked.pk, "secret": "destroyed"},
            )
        else:
            if old.is_active:
                old.status = Credential.Status.REPLACED
                old.replaced_at = now
                old.replaced_by = new
                old.save(update_fields=["status", "replaced_at", "replaced_by"])
                old.session_tokens.all().delete()
            new.status = Credential.Status.ACTIVE
            new.save(update_fields=["status"])
            audit_record(
                office=old.office,
                actor=None,
                action="credential.renewal_activated",
                obj=new,
                details=_metadata(new) | {"renewal_id": locked.pk, "replaces": old.pk},
            )
        locked.state = CredentialRenewal.State.RENEWED
        locked.save(update_fields=["state", "updated_at"])
        if selectors.renewal_settings_of(old.office).revoke_previous:
            enqueue_on_commit("certificates.renewal_revoke_previous", locked.pk)
    return True


def renewals_activate_due(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    due = CredentialRenewal.objects.filter(
        state=CredentialRenewal.State.STORED, new_credential__valid_from__lte=now
    )
    return sum(renewal_activate(renewal=renewal, now=now) for renewal in due)


def predecessors_retire(*, now: datetime | None = None) -> int:
    """Destroy the keys of renewed certificates whose own validity has ended."""
    now = now or timezone.now()
    retired = 0
    for renewal in CredentialRenewal.objects.filter(
        state=CredentialRenewal.State.RENEWED,
        credential__valid_to__lt=now,
        credential__secret__destroyed_at__isnull=True,
    ).select_related("credential", "credential__office"):
        with transaction.atomic():
            secret_destroy(credential=renewal.credential)
            audit_record(
                office=renewal.office,
                actor=None,
                action="credential.retired",
                obj=renewal.credential,
                details=_metadata(renewal.credential) | {"secret": "destroyed"},
            )
        retired += 1
    return retired


def renewal_revoke_previous(*, renewal_id: int) -> bool:
    """The explicit option: revoke the old certificate in KSeF once the successor works."""
    renewal = CredentialRenewal.objects.select_related("credential", "new_credential").get(
        pk=renewal_id
    )
    old, new = renewal.credential, renewal.new_credential
    # For an authentication certificate its successor logs in; for an offline one, the
    # subject's active authentication certificate.
    login = _login_credential(new) if new is not None and new.is_active else None
    if login is None or not login.is_active or not old.serial_number:
        return False
    nip = _subject_nip(old)
    try:
        with connection.ksef_context(
            credential=login, context_nip=nip, purpose="certificate_revocation"
        ) as context:
            context.client.revoke_certificate(
                context.session.access_token, old.serial_number, reason="Superseded"
            )
    except (errors.KsefError, httpx.HTTPError, OSError, SecretUnreadable) as exc:
        audit_record(
            office=renewal.office,
            actor=None,
            action="credential.revocation_failed",
            obj=old,
            details={"renewal_id": renewal.pk, "error": type(exc).__name__},
        )
        return False
    audit_record(
        office=renewal.office,
        actor=None,
        action="credential.revoked",
        obj=old,
        details=_metadata(old) | {"renewal_id": renewal.pk, "reason": "Superseded"},
    )
    return True


# --- failures -------------------------------------------------------------------------------


def _attempt_logged(
    renewal: CredentialRenewal, *, outcome: str, message: StoredText | None
) -> None:
    details: dict[str, Any] = {
        "renewal_id": renewal.pk,
        "attempt": renewal.attempts,
        "outcome": outcome,
    }
    if message is not None:
        details["message"] = to_data(message)
    audit_record(
        office=renewal.office,
        actor=None,
        action="credential.renewal_attempt",
        obj=renewal.credential,
        details=details,
    )


def _fail(renewal: CredentialRenewal, failure: RenewalFailed) -> None:
    """Record the failure on the row and in the custody log; alert once per episode."""
    with transaction.atomic():
        renewal.refresh_from_db()
        renewal.state = CredentialRenewal.State.FAILED
        renewal.failure_code = failure.code
        renewal.message_data = to_data(failure.message)
        renewal.finished_at = timezone.now()
        if not renewal.in_failure:
            renewal.in_failure = True
            renewal.failure_episode += 1
        fields = ["state", "failure_code", "message_data", "finished_at", "in_failure"]
        fields.append("failure_episode")
        if failure.reset:
            renewal.pending_private_key_pem = ""
            renewal.certificate_name = ""
            renewal.enrollment_reference = ""
            renewal.certificate_serial = ""
            fields += [
                "pending_private_key_pem",
                "certificate_name",
                "enrollment_reference",
                "certificate_serial",
            ]
        _save(renewal, *fields)
        audit_record(
            office=renewal.office,
            actor=None,
            action="credential.renewal_failed",
            obj=renewal.credential,
            details={
                "renewal_id": renewal.pk,
                "attempt": renewal.attempts,
                "code": failure.code,
                "message": to_data(failure.message),
            },
        )
        episode = renewal.failure_episode
        transaction.on_commit(lambda: _notify_failure(renewal, episode))


def renewal_give_up(*, renewal_id: int) -> CredentialRenewal:
    """The task ran out of retries on a busy KSeF: record it (resumable) and alert."""
    renewal = CredentialRenewal.objects.select_related("credential").get(pk=renewal_id)
    failure = RenewalFailed(
        Failure.KSEF_UNAVAILABLE,
        failure_message(
            Failure.KSEF_UNAVAILABLE,
            url=settings.KSEF_BASE_URL,
            valid_to=date_text(renewal.credential.valid_to),
        ),
        reset=False,  # an enrollment KSeF accepted is followed again next time
    )
    _fail(renewal, failure)
    return renewal


def _recipients(renewal: CredentialRenewal) -> list[str]:
    members: list[Membership] = []
    if renewal.client is not None:
        members = [m for m in renewal.client.assigned_accountants.select_related("user")]
    if not members:
        members = list(
            Membership.objects.filter(office=renewal.office, role__in=MANAGERS).select_related(
                "user"
            )
        )
    return sorted({m.user.email for m in members if m.user.email and m.user.is_active})


def _notify_failure(renewal: CredentialRenewal, episode: int) -> None:
    """One e-mail per failure episode, claimed in the ledger before it is sent."""
    notice = ledger_claim(
        RenewalFailureNotice,
        lookup={"renewal": renewal, "episode": episode},
        lease=NOTICE_LEASE,
    )
    if notice is None:
        return
    recipients = _recipients(renewal)
    if not recipients:
        RenewalFailureNotice.objects.filter(pk=notice.pk).update(status="skipped")
        return
    url = settings.PORTAL_BASE_URL.rstrip("/") + (
        reverse("renewal:client", args=[renewal.client_id])
        if renewal.client_id
        else reverse("renewal:office")
    )
    context = {
        "renewal": renewal,
        "credential": renewal.credential,
        "client": renewal.client,
        "office": renewal.office,
        "url": url,
    }
    try:
        _send_mail("emails/certificates/renewal_failed", context, to=recipients)
    except Exception:
        logger.exception("renewal %s: the failure e-mail was not sent", renewal.pk)
        RenewalFailureNotice.objects.filter(pk=notice.pk).update(status="failed")
        return
    RenewalFailureNotice.objects.filter(pk=notice.pk, claim_token=notice.claim_token).update(
        status="sent", sent_at=timezone.now(), recipients=recipients
    )
