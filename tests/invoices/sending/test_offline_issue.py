"""Issuing a checked job offline: KOD I and KOD II verify (RSA-PSS and EC P-256), every
signature is one custody-log entry, the private key is never logged nor a task argument,
refusals (no Offline certificate, expired, an Authentication one) change nothing, and the
office model signs with the office's Offline certificate only with InvoiceWrite."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from certificates.selectors import credential_custody_log
from clients.models import AccessModel
from grants.models import PermissionGrant
from invoices.documents.render import qr_environment
from invoices.models import KsefOutage, OutgoingInvoice, SendJob
from invoices.sending import offline, services
from invoices.sending.calendar import add_business_days, next_business_day
from invoices.sending.messages import job_error_message
from invoices.sending.offline import OfflineRefused
from ksef import qr
from portal.models import AuditEvent
from tests.factories import make_client
from tests.invoices.sending.offline_core import (
    KOD_II,
    checked_job,
    replace_certificate,
    store_offline,
    verify_kod_ii,
)
from tests.invoices.sending.support import seller
from tests.ksef.keys import make_ec_key, make_rsa_key

State = OutgoingInvoice.State
KOD_I = re.compile(
    r"^https://qr-test\.ksef\.mf\.gov\.pl/invoice/(?P<seller>\d{10})/"
    r"(?P<day>\d{2}-\d{2}-\d{4})/(?P<hash>[A-Za-z0-9_-]{43})$"
)


def _start(job: SendJob, mode: str = "offline24", **kwargs) -> SendJob:  # type: ignore[no-untyped-def]
    return services.send_job_start(actor=None, job=job, enqueue=False, mode=mode, **kwargs)


def _unchanged(job: SendJob) -> None:
    job.refresh_from_db()
    assert job.state == SendJob.State.CHECKED
    for invoice in job.invoices.all():
        assert invoice.state == State.DRAFT
        assert invoice.invoicing_mode == OutgoingInvoice.Mode.ONLINE
        assert invoice.certificate_url == "" and invoice.issued_offline_at is None
        assert invoice.offline_credential_id is None and invoice.offline_deadline is None
    assert not AuditEvent.objects.filter(action="invoices.issued_offline").exists()
    assert not AuditEvent.objects.filter(details__purpose=offline.SIGN_PURPOSE).exists()


@pytest.mark.parametrize("make_key", [make_rsa_key, make_ec_key], ids=["rsa-pss", "ec-p256"])
def test_kod_i_and_kod_ii_of_an_invoice_issued_offline_verify(office, make_key, ksef_data):
    client = seller(office)
    signer = store_offline(office, client, key=make_key())
    job = checked_job(client, ["FV/OFF/1/2026", "FV/OFF/2/2026"])

    _start(job)

    job.refresh_from_db()
    assert job.state == SendJob.State.QUEUED
    invoices = list(job.invoices.order_by("position"))
    assert len(invoices) == 2
    for invoice in invoices:
        xml = bytes(invoice.xml)
        assert invoice.issue_date is not None
        assert invoice.state == State.QUEUED
        assert invoice.invoicing_mode == OutgoingInvoice.Mode.OFFLINE24
        assert invoice.issued_offline_at is not None
        assert invoice.offline_credential_id == signer.credential.pk
        assert invoice.offline_deadline == next_business_day(invoice.issue_date)
        assert invoice.outage_id is None
        verify_kod_ii(invoice.certificate_url, xml, signer.certificate, client.nip)
        kod_i = qr.invoice_verification_url(qr_environment(), client.nip, invoice.issue_date, xml)
        match = KOD_I.match(kod_i)
        assert match and match["seller"] == client.nip
        assert match["day"] == invoice.issue_date.strftime("%d-%m-%Y")
        assert match["hash"] == qr.invoice_hash_b64url(xml)
        assert hashlib.sha256(xml).digest() == hashlib.sha256(invoice.xml).digest()
    # The pattern checked is the official template: the Ministry's own examples match it.
    vectors = json.loads((ksef_data / "samples/test-vectors/ksef-test-vectors.json").read_text())
    assert KOD_II.match(vectors["qrKodII"]["official_example"]["url"])
    assert KOD_I.match(vectors["qrKodI"]["official_example"]["url"])
    # ... and the check can fail: the link does not verify another invoice's bytes.
    with pytest.raises(AssertionError):
        verify_kod_ii(
            invoices[0].certificate_url, bytes(invoices[1].xml), signer.certificate, client.nip
        )


def test_a_tampered_signature_does_not_verify(office):
    from cryptography.exceptions import InvalidSignature

    client = seller(office)
    signer = store_offline(office, client, key=make_rsa_key())
    job = checked_job(client, ["FV/OFF/9/2026"])
    _start(job)
    invoice = job.invoices.get()
    head, signature = invoice.certificate_url.rsplit("/", 1)
    forged = head + "/" + ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(InvalidSignature):
        verify_kod_ii(forged, bytes(invoice.xml), signer.certificate, client.nip)


def test_each_signature_is_one_custody_entry_and_the_key_is_never_logged(
    office, caplog, monkeypatch, django_capture_on_commit_callbacks
):
    from tests.invoices.sending.offline_core import PASSWORD

    caplog.set_level(logging.DEBUG)
    queued: list[tuple[object, ...]] = []
    monkeypatch.setattr("portal.queue.enqueue", lambda name, *args: queued.append((name, *args)))
    client = seller(office)
    signer = store_offline(office, client)
    job = checked_job(client, [f"FV/OFF/{n}/2026" for n in range(1, 4)])

    with django_capture_on_commit_callbacks(execute=True):
        services.send_job_start(actor=None, job=job, mode="offline24")

    uses = credential_custody_log(signer.credential).filter(
        action="credential.used", details__purpose=offline.SIGN_PURPOSE
    )
    assert uses.count() == 3
    assert sorted(u.details["file"] for u in uses) == sorted(
        job.invoices.values_list("file_name", flat=True)
    )
    issued = AuditEvent.objects.filter(action="invoices.issued_offline", client_id=client.pk)
    assert issued.count() == 3
    assert {e.details["certificate"] for e in issued} == {signer.credential.serial_number}
    # The task gets the job's id only.
    assert queued == [(services.RUN_TASK, job.pk)]
    # Neither the key nor its password reaches a log line or an audit event.
    stored = AuditEvent.objects.filter(office=office).values_list("details", flat=True)
    texts = [caplog.text, json.dumps(list(stored))]
    for text in texts:
        assert "PRIVATE KEY" not in text and PASSWORD not in text
    assert caplog.records  # something was logged at all, so the check means something


# --- refusals -----------------------------------------------------------------------------


def test_without_an_offline_certificate_nothing_is_issued(office):
    client = seller(office)
    job = checked_job(client, ["FV/OFF/1/2026"])

    assert offline.offline_blocked_reason(client) == "no_offline_certificate"
    with pytest.raises(OfflineRefused) as refused:
        _start(job)
    assert refused.value.code == "no_offline_certificate"
    with translation.override("pl"):
        assert "certyfikatu offline" in job_error_message("no_offline_certificate", {})
    _unchanged(job)


def test_an_expired_offline_certificate_is_refused(office):
    client = seller(office)
    stored = store_offline(office, client)
    now = timezone.now()
    replace_certificate(
        stored,
        kind="Offline",
        not_before=now - timedelta(days=400),
        not_after=now - timedelta(days=2),
    )
    job = checked_job(client, ["FV/OFF/1/2026"])

    with pytest.raises(OfflineRefused) as refused:
        _start(job)
    assert refused.value.code == "offline_certificate_expired"
    with translation.override("pl"):
        text = job_error_message(refused.value.code, refused.value.params)
    assert "wygasł" in text and str(refused.value.params["serial"]) in text
    _unchanged(job)
    # The moment counts: before the expiry the same certificate signs.
    assert offline.offline_blocked_reason(client, at=now - timedelta(days=3)) == ""


def test_an_authentication_certificate_never_signs_kod_ii(office, monkeypatch):
    client = seller(office)
    stored = store_offline(office, client)
    replace_certificate(stored, kind="Authentication")
    job = checked_job(client, ["FV/OFF/1/2026"])

    assert offline.offline_blocked_reason(client) == "offline_certificate_is_authentication"
    with pytest.raises(OfflineRefused) as refused:
        _start(job)
    assert refused.value.code == "offline_certificate_is_authentication"
    with translation.override("pl"):
        text = job_error_message(refused.value.code, refused.value.params)
    assert "uwierzytelniającym" in text and "Offline" in text
    _unchanged(job)

    # Were the check before signing ever skipped, ksef.qr still refuses, and that refusal
    # reads the same.
    monkeypatch.setattr(offline, "_certificate_problem", lambda credential, at: ("", {}))
    with pytest.raises(OfflineRefused) as refused:
        _start(job)
    assert refused.value.code == "offline_certificate_is_authentication"
    _unchanged(job)


def test_a_certificate_of_no_ksef_type_is_refused(office):
    client = seller(office)
    replace_certificate(store_offline(office, client), kind=None)
    job = checked_job(client, ["FV/OFF/1/2026"])
    with pytest.raises(OfflineRefused) as refused:
        _start(job)
    assert refused.value.code == "offline_certificate_not_offline"
    _unchanged(job)


def test_a_signature_failing_midway_leaves_every_invoice_as_it_was(office, monkeypatch):
    client = seller(office)
    store_offline(office, client)
    job = checked_job(client, ["FV/OFF/1/2026", "FV/OFF/2/2026", "FV/OFF/3/2026"])
    real = qr.certificate_verification_url
    calls = {"n": 0}

    def second_fails(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise qr.QrError("the signature could not be made")
        return real(*args, **kwargs)

    monkeypatch.setattr(qr, "certificate_verification_url", second_fails)
    with pytest.raises(OfflineRefused) as refused:
        _start(job)
    assert refused.value.code == "offline_sign_failed"
    assert refused.value.params["file"] == "FV-OFF-2-2026.xml"
    _unchanged(job)


def test_a_started_job_cannot_be_issued_offline_again(office):
    client = seller(office)
    store_offline(office, client)
    job = checked_job(client, ["FV/OFF/1/2026"])
    _start(job)
    url = job.invoices.get().certificate_url
    with pytest.raises(OfflineRefused) as refused:
        offline.issue_offline(actor=None, job=job, mode="offline24", enqueue=False)
    assert refused.value.code == "offline_not_checked"
    assert job.invoices.get().certificate_url == url


def test_an_unknown_mode_is_refused(office):
    client = seller(office)
    store_offline(office, client)
    job = checked_job(client, ["FV/OFF/1/2026"])
    with pytest.raises(OfflineRefused) as refused:
        _start(job, mode="paper")
    assert refused.value.code == "offline_mode_unknown"
    _unchanged(job)


# --- who signs in the office model ------------------------------------------------------------


def _office_client(office):  # type: ignore[no-untyped-def]
    from tests.grants.grants_support import store_seal

    client = make_client(office, access_model=AccessModel.OFFICE)
    store_seal(office, None, office.nip)
    return client


def _grant(client, office, permissions):  # type: ignore[no-untyped-def]
    PermissionGrant.objects.create(
        client=client,
        grantee_kind=PermissionGrant.GranteeKind.ENTITY,
        grantee_identifier_type="Nip",
        grantee_identifier=office.nip,
        permissions=permissions,
        state=PermissionGrant.State.GRANTED,
    )


def test_in_the_office_model_the_offices_offline_certificate_signs_with_invoice_write(office):
    client = _office_client(office)
    office_cert = store_offline(office, None)
    assert offline.offline_credential_for(client) == office_cert.credential
    # KSeF verifies KOD II against the signer's InvoiceWrite in the client's context.
    _grant(client, office, ["InvoiceRead"])
    assert offline.offline_blocked_reason(client) == "no_invoice_write"
    PermissionGrant.objects.filter(client=client).update(permissions=["InvoiceWrite"])
    assert offline.offline_blocked_reason(client) == ""

    job = checked_job(client, ["FV/OFF/1/2026"])
    _start(job)
    invoice = job.invoices.get()
    assert invoice.offline_credential_id == office_cert.credential.pk
    verify_kod_ii(invoice.certificate_url, bytes(invoice.xml), office_cert.certificate, client.nip)
    # The client's own Offline certificate, once stored, comes first.
    own = store_offline(office, client)
    assert offline.offline_credential_for(client) == own.credential


def test_in_the_client_model_the_offices_offline_certificate_never_signs(office):
    client = seller(office)
    store_offline(office, None)
    assert offline.offline_credential_for(client) is None
    assert offline.offline_blocked_reason(client) == "no_offline_certificate"


# --- modes and outages ------------------------------------------------------------------------


def test_offline_and_emergency_modes_need_their_outage(office):
    client = seller(office)
    store_offline(office, client)
    job = checked_job(client, ["FV/OFF/1/2026"])
    for mode, code in [
        ("offline", "offline_needs_unavailability"),
        ("emergency", "offline_needs_emergency"),
    ]:
        with pytest.raises(OfflineRefused) as refused:
            _start(job, mode=mode)
        assert refused.value.code == code
        _unchanged(job)

    outage = offline.outage_begin(KsefOutage.Kind.UNAVAILABLE, KsefOutage.Source.DECLARED)
    with pytest.raises(OfflineRefused):
        _start(job, mode="emergency")
    _start(job, mode="offline")
    invoice = job.invoices.get()
    assert invoice.outage_id == outage.pk and invoice.offline_deadline is None

    ended = offline.outage_end()
    assert ended is not None and ended.pk == outage.pk and ended.ended_at is not None
    invoice.refresh_from_db()
    assert invoice.offline_deadline == next_business_day(offline.local_day(ended.ended_at))


def test_a_failure_announced_while_invoices_wait_moves_their_deadlines(office):
    client = seller(office)
    store_offline(office, client)
    job = checked_job(client, ["FV/OFF/1/2026", "FV/OFF/2/2026"])
    _start(job)
    assert all(i.offline_deadline for i in job.invoices.all())

    failure = offline.outage_begin(
        KsefOutage.Kind.EMERGENCY, KsefOutage.Source.DECLARED, note="Komunikat MF"
    )
    assert set(job.invoices.values_list("outage", "offline_deadline")) == {(failure.pk, None)}
    ended = offline.outage_end()
    assert ended is not None and ended.ended_at is not None
    due = add_business_days(offline.local_day(ended.ended_at), 7)
    assert set(job.invoices.values_list("offline_deadline", flat=True)) == {due}


def test_an_emergency_over_a_detected_unavailability_is_one_outage(office):
    detected = offline.record_unavailable()
    assert offline.record_unavailable().pk == detected.pk
    failure = offline.outage_begin(KsefOutage.Kind.EMERGENCY, KsefOutage.Source.DECLARED)
    assert failure.pk == detected.pk and failure.kind == KsefOutage.Kind.EMERGENCY
    # A declared outage is not ended by one successful call; the operator ends it.
    assert offline.record_available() is None
    assert offline.current_outage() is not None
    assert offline.outage_end() is not None and offline.current_outage() is None
    assert KsefOutage.objects.count() == 1


def test_the_database_keeps_one_ongoing_outage(db):
    now = timezone.now()
    KsefOutage.objects.create(started_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        KsefOutage.objects.create(started_at=now, kind=KsefOutage.Kind.EMERGENCY)
    KsefOutage.objects.create(started_at=now, ended_at=now)  # ended ones are history


def test_every_offline_refusal_reads_in_polish(db):
    params = {"serial": "01F2", "date": "2026-01-01", "mode": "x", "file": "a.xml", "reason": "r"}
    with translation.override("pl"):
        for code in offline_codes():
            text = job_error_message(code, params)
            assert text and "%(" not in text, code
            assert text != job_error_message("unexpected", {"kind": "x"}), code


def offline_codes() -> list[str]:
    from invoices.sending.messages import _offline_texts

    return list(_offline_texts())


def test_a_failed_job_issued_offline_is_queued_again_without_signing_anew(office):
    client = seller(office)
    signer = store_offline(office, client)
    job = checked_job(client, ["FV/OFF/1/2026"])
    _start(job)
    before = OutgoingInvoice.objects.values(
        "certificate_url", "issued_offline_at", "offline_deadline", "invoicing_mode"
    ).get()
    # The sender failed the job (say, the login certificate went): a draft again.
    job.invoices.update(state=State.DRAFT)
    SendJob.objects.filter(pk=job.pk).update(state=SendJob.State.FAILED)
    signatures = AuditEvent.objects.filter(details__purpose=offline.SIGN_PURPOSE).count()

    offline.issue_offline(actor=None, job=job, mode="offline24", enqueue=False)

    assert job.invoices.get().state == State.QUEUED
    after = OutgoingInvoice.objects.values(
        "certificate_url", "issued_offline_at", "offline_deadline", "invoicing_mode"
    ).get()
    assert after == before
    assert AuditEvent.objects.filter(details__purpose=offline.SIGN_PURPOSE).count() == signatures
    assert signer.credential.pk == job.invoices.get().offline_credential_id
