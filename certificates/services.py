"""Writes for stored credentials: upload, replace, delete, live checks, client upload links.

Every service owns its transaction and records audit events (the custody log). Secrets
appear here only as arguments in memory and as values written into the encrypted columns;
audit details carry metadata (serial, fingerprint, kind), never a secret.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from certificates import connection
from certificates.custody import SecretUnreadable, secret_read
from certificates.models import Credential, CredentialCheck, CredentialSecret, UploadLink
from certificates.validation import (
    CertificateUpload,
    Consent,
    CredentialRejected,
    Reason,
    Slot,
    ValidatedCredential,
    validate_certificate_upload,
    validate_token,
)
from clients.models import AccessModel, Client, LegalForm, Prerequisite
from portal.access import ADMINS, MANAGERS
from portal.audit import audit_record
from portal.messages import deferred, to_data
from portal.models import Membership, Office
from portal.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

UPLOAD_LINK_DEFAULT_DAYS = 7
UPLOAD_LINK_MAX_FAILED_ATTEMPTS = 10
# A check left "running" longer than this was lost with its worker; it may be claimed again.
CHECK_STALE_AFTER = timedelta(minutes=5)


@dataclass
class UploadResult:
    credential: Credential
    replaced: Credential | None = None
    warnings: list[str] = field(default_factory=list)


# --- access model -------------------------------------------------------------------------


def client_access_model_set(*, actor: User, client: Client, access_model: str) -> Client:
    """Record which way the office reaches the client's KSeF context."""
    if access_model not in AccessModel.values:
        raise ValueError(f"unknown access model {access_model!r}")
    previous = client.access_model
    with transaction.atomic():
        client.access_model = access_model
        client.save(update_fields=["access_model", "updated_at"])
        audit_record(
            office=client.office,
            actor=actor,
            action="client.access_model_set",
            obj=client,
            details={"from": previous, "to": access_model},
        )
    return client


# --- upload -------------------------------------------------------------------------------


def _slot(office: Office, client: Client | None, kind: str) -> Slot:
    if client is None:
        return Slot(office=office, kind=kind)
    prerequisite = Prerequisite.objects.filter(client=client).first()
    if prerequisite is None or not prerequisite.unlocks_credentials:
        raise CredentialRejected(
            Reason.PREREQUISITE_NOT_MET,
            _(
                "Najpierw zakończ krok ZAW-FA: poświadczenia można przesłać, gdy wymóg jest "
                "niewymagany albo potwierdzony."
            ),
        )
    return Slot(
        office=office,
        kind=kind,
        client_nip=client.nip,
        authorised_person=prerequisite.person_identifier or None,
        sole_proprietorship=client.legal_form == LegalForm.SOLE_PROPRIETORSHIP,
    )


def credential_validate(
    *,
    office: Office,
    client: Client | None,
    kind: str,
    upload: CertificateUpload | None = None,
    token: str = "",
    consent: Consent | None = None,
) -> ValidatedCredential:
    """Every check of the upload; raises `CredentialRejected`, stores nothing."""
    if kind not in Credential.Kind.values:
        raise ValueError(f"unknown credential kind {kind!r}")
    if client is None and kind == Credential.Kind.TOKEN:
        # The office's own slots: its authentication certificate, and its Offline
        # certificate, which signs KOD II for clients that gave it InvoiceWrite
        # (invoices/sending/offline.py offline_credential_for).
        raise ValueError("the office model stores certificates only, not a KSeF token")
    slot = _slot(office, client, kind)
    if kind == Credential.Kind.TOKEN:
        return validate_token(token, slot=slot)
    return validate_certificate_upload(
        upload or CertificateUpload(), slot=slot, consent=consent or Consent()
    )


def credential_upload(
    *,
    office: Office,
    client: Client | None,
    kind: str,
    upload: CertificateUpload | None = None,
    token: str = "",
    consent: Consent | None = None,
    actor: User | None,
    actor_label: str = "",
    source: str = Credential.Source.STAFF,
) -> UploadResult:
    """Validate, then store the credential (replacing the slot's active one) — or nothing."""
    validated = credential_validate(
        office=office, client=client, kind=kind, upload=upload, token=token, consent=consent
    )
    with transaction.atomic():
        # Serialise uploads into one slot: lock the holder row, then find the active one.
        if client is not None:
            Client.objects.select_for_update().get(pk=client.pk)
        else:
            Office.objects.select_for_update().get(pk=office.pk)
        previous = (
            Credential.objects.filter(
                office=office, client=client, kind=kind, status=Credential.Status.ACTIVE
            )
            .select_for_update()
            .first()
        )
        if previous is not None:
            _check_may_replace(actor, previous)
            _retire(previous, status=Credential.Status.REPLACED)
        credential = _store(
            office=office,
            client=client,
            validated=validated,
            consent=consent or Consent(),
            actor=actor,
            source=source,
        )
        _audit_upload(credential, previous, validated, actor=actor, actor_label=actor_label)
        if previous is not None:
            previous.replaced_by = credential
            previous.save(update_fields=["replaced_by"])
    return UploadResult(credential=credential, replaced=previous, warnings=validated.warnings)


def _check_may_replace(actor: User | None, previous: Credential) -> None:
    """Replacing a credential destroys its key, so it takes the right to delete one.

    An accountant's upload would otherwise be a way around that right: any self-made
    certificate for the client's NIP (accepted outside production) would destroy the
    working key. The client's own upload through a link (no actor) may replace it.
    """
    if actor is None:
        return
    membership = Membership.objects.filter(user=actor, office_id=previous.office_id).first()
    allowed = ADMINS if previous.client_id is None else MANAGERS
    if membership is not None and membership.role in allowed:
        return
    raise CredentialRejected(
        Reason.REPLACE_NEEDS_MANAGER,
        _(
            "Klient ma już aktywne poświadczenie tego rodzaju (%(label)s). Zastąpienie go "
            "niszczy zapisany klucz, więc może to zrobić tylko kierownik lub administrator "
            "biura — poproś go o przesłanie nowego pliku albo wyślij klientowi link do "
            "samodzielnego przesłania."
        )
        % {"label": str(previous)},
    )


def _store(
    *,
    office: Office,
    client: Client | None,
    validated: ValidatedCredential,
    consent: Consent,
    actor: User | None,
    source: str,
    status: str = Credential.Status.ACTIVE,
) -> Credential:
    credential = Credential(
        office=office,
        client=client,
        kind=validated.kind,
        status=status,
        source=source,
        uploaded_by=actor,
        token_reference=validated.token_reference,
        certificate_pem=validated.certificate_pem,
    )
    info = validated.info
    if info is not None:
        credential.owner_identifier_type = info.owner_identifier_type.value
        credential.owner_identifier = info.owner_identifier
        credential.owner_name = (info.common_name or "")[:300]
        credential.is_personal = info.is_personal
        credential.serial_number = info.serial_hex[:64]
        credential.fingerprint_sha256 = info.sha256_fingerprint
        credential.valid_from = info.valid_from
        credential.valid_to = info.valid_to
        credential.issuer = info.issuer[:500]
        credential.subject = info.subject[:500]
        credential.environment = info.environment.value
        credential.key_description = info.key_description[:40]
        if info.is_personal:
            credential.consent_given_by = consent.given_by.strip()[:200]
            credential.consent_given_on = consent.given_on.date() if consent.given_on else None
            credential.consent_recorded_by = credential.uploaded_by
    credential.save()
    CredentialSecret.objects.create(
        credential=credential,
        private_key_pem=validated.private_key_pem,
        key_password=validated.key_password,
        token=validated.token,
    )
    return credential


def _metadata(credential: Credential) -> dict[str, Any]:
    """What the custody log says about a credential: identifying facts, never a secret."""
    data: dict[str, Any] = {"kind": credential.kind}
    if credential.client_id:
        data["client_id"] = credential.client_id
    if credential.is_certificate:
        data.update(
            serial=credential.serial_number,
            fingerprint=credential.fingerprint_sha256,
            owner=f"{credential.owner_identifier_type} {credential.owner_identifier}",
            valid_to=credential.valid_to.isoformat() if credential.valid_to else None,
        )
    else:
        data["token_reference"] = credential.token_reference
    return data


def _audit_upload(
    credential: Credential,
    previous: Credential | None,
    validated: ValidatedCredential,
    *,
    actor: User | None,
    actor_label: str,
) -> None:
    details = _metadata(credential) | {"source": credential.source}
    if validated.warnings:
        details["warnings"] = validated.warnings
    audit_record(
        action="credential.uploaded",
        obj=credential,
        details=details,
        office=credential.office,
        actor=actor,
        actor_label=actor_label,
    )
    if credential.is_personal:
        audit_record(
            action="credential.consent_recorded",
            obj=credential,
            details={
                "given_by": credential.consent_given_by,
                "given_on": credential.consent_given_on.isoformat()
                if credential.consent_given_on
                else None,
            },
            office=credential.office,
            actor=actor,
            actor_label=actor_label,
        )
    if previous is not None:
        audit_record(
            action="credential.replaced",
            obj=previous,
            details=_metadata(previous) | {"replaced_by": credential.pk, "secret": "destroyed"},
            office=credential.office,
            actor=actor,
            actor_label=actor_label,
        )


def _retire(credential: Credential, *, status: str) -> None:
    """Mark the credential replaced/deleted and destroy its secret (metadata stays)."""
    now = timezone.now()
    credential.status = status
    if status == Credential.Status.REPLACED:
        credential.replaced_at = now
        credential.save(update_fields=["status", "replaced_at"])
    else:
        credential.deleted_at = now
        credential.save(update_fields=["status", "deleted_at", "deleted_by"])
    secret_destroy(credential=credential)


def secret_destroy(*, credential: Credential) -> None:
    """Overwrite the encrypted columns with empty values (the row records when)."""
    CredentialSecret.objects.filter(credential=credential).update(
        private_key_pem="", key_password="", token="", destroyed_at=timezone.now()
    )
    # Cached KSeF logins of the credential would outlive it by up to seven days.
    credential.session_tokens.all().delete()


def credential_delete(*, actor: User, credential: Credential) -> Credential:
    with transaction.atomic():
        locked = Credential.objects.select_for_update().get(pk=credential.pk)
        if not locked.is_active:
            return locked
        locked.deleted_by = actor
        _retire(locked, status=Credential.Status.DELETED)
        audit_record(
            office=locked.office,
            actor=actor,
            action="credential.deleted",
            obj=locked,
            details=_metadata(locked) | {"secret": "destroyed"},
        )
    return locked


# --- live check ---------------------------------------------------------------------------


def credential_check_request(
    *, actor: User, credential: Credential, client: Client
) -> CredentialCheck:
    """Queue a live login with `credential` into `client`'s context (task runs after commit)."""
    if not credential.is_active:
        raise ValueError("only an active credential can be checked")
    if credential.kind == Credential.Kind.OFFLINE:
        raise ValueError("an offline certificate cannot log in")
    if credential.client_id is not None and credential.client_id != client.pk:
        raise ValueError("a client's credential logs into that client's context only")
    with transaction.atomic():
        check = CredentialCheck.objects.create(
            credential=credential, client=client, requested_by=actor
        )
        audit_record(
            office=credential.office,
            actor=actor,
            action="credential.check_requested",
            obj=credential,
            details={"check_id": check.pk, "context_nip": client.nip},
        )
        enqueue_on_commit("certificates.credential_check_run", check.pk)
    return check


def _claim_check(check_id: int) -> bool:
    now = timezone.now()
    claimable = Q(state=CredentialCheck.State.QUEUED) | Q(
        state=CredentialCheck.State.RUNNING, started_at__lt=now - CHECK_STALE_AFTER
    )
    return bool(
        CredentialCheck.objects.filter(claimable, pk=check_id).update(
            state=CredentialCheck.State.RUNNING, started_at=now
        )
    )


def credential_check_perform(*, check_id: int) -> CredentialCheck | None:
    """Run one queued check; a second run of the same id does nothing (claimed once)."""
    if not _claim_check(check_id):
        return None
    check = CredentialCheck.objects.select_related(
        "credential", "client", "credential__office"
    ).get(pk=check_id)
    credential = check.credential
    try:
        material = secret_read(credential)
    except SecretUnreadable:
        logger.exception("credential check %s: secret unreadable", check_id)
        return _finish_check(
            check,
            ok=False,
            code="secret_unreadable",
            message=deferred(
                gettext_noop(
                    "Nie można odszyfrować zapisanego poświadczenia (zmieniony klucz "
                    "szyfrowania?). Powiadom administratora portalu."
                )
            ),
            used=False,
        )
    outcome = connection.test_login(
        credential=credential, material=material, context_nip=check.client.nip
    )
    del material
    return _finish_check(
        check, ok=outcome.ok, code=outcome.code, message=outcome.message, used=True
    )


def _finish_check(
    check: CredentialCheck, *, ok: bool, code: str, message: str, used: bool
) -> CredentialCheck:
    credential = check.credential
    with transaction.atomic():
        check.state = CredentialCheck.State.SUCCEEDED if ok else CredentialCheck.State.FAILED
        check.error_code = "" if ok else code
        check.message = message
        check.message_data = to_data(message)
        check.finished_at = timezone.now()
        check.save(update_fields=["state", "error_code", "message", "message_data", "finished_at"])
        actor, label = check.requested_by, "" if check.requested_by_id else "system"
        if used:
            audit_record(
                office=credential.office,
                actor=actor,
                actor_label=label,
                action="credential.used",
                obj=credential,
                details={"purpose": "live_check", "context_nip": check.client.nip},
            )
        audit_record(
            office=credential.office,
            actor=actor,
            actor_label=label,
            action="credential.checked",
            obj=credential,
            details={
                "check_id": check.pk,
                "context_nip": check.client.nip,
                "result": "ok" if ok else "failed",
                "code": check.error_code,
            },
        )
    return check


# --- client upload links ------------------------------------------------------------------


def upload_link_token_hash(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


def upload_link_create(
    *,
    actor: User,
    client: Client,
    kind: str,
    recipient_email: str,
    valid_days: int = UPLOAD_LINK_DEFAULT_DAYS,
) -> UploadLink:
    """Create a single-use link and e-mail it to the client contact (only the hash is kept)."""
    with transaction.atomic():
        link, url = upload_link_new(
            actor=actor,
            client=client,
            kind=kind,
            recipient_email=recipient_email,
            valid_days=valid_days,
        )
        # The link goes out only once the row is committed; the raw token lives nowhere else.
        transaction.on_commit(lambda: _send_upload_link(link, url))
    return link


def upload_link_new(
    *,
    actor: User | None,
    client: Client,
    kind: str,
    recipient_email: str,
    valid_days: int = UPLOAD_LINK_DEFAULT_DAYS,
) -> tuple[UploadLink, str]:
    """A single-use link (its row and audit entry) and its URL — the only place the raw
    token exists; the caller puts it into the one e-mail that carries it."""
    if kind not in Credential.Kind.values:
        raise ValueError(f"unknown credential kind {kind!r}")
    raw_token = secrets.token_urlsafe(32)
    with transaction.atomic():
        link = UploadLink.objects.create(
            office=client.office,
            client=client,
            kind=kind,
            token_hash=upload_link_token_hash(raw_token),
            recipient_email=recipient_email,
            created_by=actor,
            expires_at=timezone.now() + timedelta(days=valid_days),
        )
        audit_record(
            office=client.office,
            actor=actor,
            action="upload_link.created",
            obj=client,
            details={
                "link_id": link.pk,
                "kind": kind,
                "recipient": recipient_email,
                "expires_at": link.expires_at.isoformat(),
            },
        )
    url = settings.PORTAL_BASE_URL.rstrip("/") + reverse(
        "certificates:self_upload", kwargs={"token": raw_token}
    )
    return link, url


def _send_upload_link(link: UploadLink, url: str) -> None:
    context = {"link": link, "client": link.client, "url": url, "office": link.office}
    _send_mail("emails/certificates/upload_link", context, to=[link.recipient_email])


def _send_mail(template: str, context: dict[str, Any], *, to: list[str]) -> None:
    # E-mails go out in Polish even when the staff member who triggered them (e.g. created
    # an upload link for a client) browses the portal in English.
    with translation.override("pl"):
        subject = render_to_string(f"{template}_subject.txt", context).strip()
        body = render_to_string(f"{template}.txt", context)
        html = render_to_string(f"{template}.html", context)
    message = EmailMultiAlternatives(subject=" ".join(subject.split()), body=body, to=to)
    message.attach_alternative(html, "text/html")
    message.send()


def upload_link_revoke(*, actor: User, link: UploadLink) -> UploadLink:
    with transaction.atomic():
        updated = UploadLink.objects.filter(
            pk=link.pk, used_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
        if updated:
            audit_record(
                office=link.office,
                actor=actor,
                action="upload_link.revoked",
                obj=link.client,
                details={"link_id": link.pk},
            )
    link.refresh_from_db()
    return link


def upload_link_record_failure(*, link: UploadLink, reason: str, ip: str) -> None:
    """Count a refused attempt (the link dies after too many) and log it for the office."""
    UploadLink.objects.filter(pk=link.pk).update(failed_attempts=F("failed_attempts") + 1)
    audit_record(
        office=link.office,
        actor=None,
        actor_label="client_link",
        action="upload_link.attempt_refused",
        obj=link.client,
        details={"link_id": link.pk, "reason": reason, "ip": ip},
    )


def upload_link_submit(
    *,
    link: UploadLink,
    upload: CertificateUpload | None,
    token: str,
    consent: Consent | None,
    ip: str,
) -> UploadResult:
    """Store what the client uploaded through the link, then kill the link; notify staff."""
    label = f"client_link:{link.pk}"  # a code: the log renders it in the reader's language
    with transaction.atomic():
        locked = UploadLink.objects.select_for_update().get(pk=link.pk)
        if not locked.is_usable or locked.failed_attempts >= UPLOAD_LINK_MAX_FAILED_ATTEMPTS:
            raise CredentialRejected(
                Reason.NOTHING_UPLOADED, _("Ten link wygasł albo został już wykorzystany.")
            )
        result = credential_upload(
            office=locked.office,
            client=locked.client,
            kind=locked.kind,
            upload=upload,
            token=token,
            consent=consent,
            actor=None,
            actor_label=label,
            source=Credential.Source.CLIENT_LINK,
        )
        locked.used_at = timezone.now()
        locked.credential = result.credential
        locked.save(update_fields=["used_at", "credential"])
        audit_record(
            office=locked.office,
            actor=None,
            actor_label=label,
            action="upload_link.used",
            obj=locked.client,
            details={"link_id": locked.pk, "credential_id": result.credential.pk, "ip": ip},
        )
        transaction.on_commit(lambda: _notify_accountants(locked, result.credential))
    return result


def _notify_accountants(link: UploadLink, credential: Credential) -> None:
    recipients = [
        m.user.email
        for m in link.client.assigned_accountants.select_related("user")
        if m.user.email and m.user.is_active
    ]
    if not recipients and link.created_by is not None and link.created_by.email:
        recipients = [link.created_by.email]
    if not recipients:
        return
    url = settings.PORTAL_BASE_URL.rstrip("/") + reverse(
        "certificates:client", kwargs={"pk": link.client_id}
    )
    context = {"client": link.client, "credential": credential, "url": url}
    _send_mail("emails/certificates/client_uploaded", context, to=recipients)
