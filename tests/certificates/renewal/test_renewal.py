"""The daily renewal against the simulator over HTTP: a certificate ending in 10 days is
renewed once, with a new key and the same subject, and the successor works."""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from django.utils import timezone

from certificates import connection
from certificates.custody import secret_read
from certificates.models import Credential, CredentialRenewal
from certificates.renewal import selectors, services
from ksef import certificates as kc
from ksef import qr
from ksef.environments import TEST
from portal.models import AuditEvent
from tests.certificates.renewal.conftest import issue, store


def _daily(on_commit) -> int:  # type: ignore[no-untyped-def]
    with on_commit(execute=True):
        return services.renewals_daily()


def _public_der(certificate_pem: str) -> bytes:
    return (
        kc.load_certificate(certificate_pem.encode())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def test_a_certificate_ending_in_ten_days_is_renewed_by_the_daily_job(
    sim, due_client, _on_commit_runs
):
    client, old, _files = due_client

    assert _daily(_on_commit_runs) == 1

    active = Credential.objects.get(client=client, kind="authentication", status="active")
    old.refresh_from_db()
    assert active.pk != old.pk
    assert active.source == Credential.Source.RENEWAL
    assert old.status == Credential.Status.REPLACED and old.replaced_by_id == active.pk
    # Same subject identity, a key the portal generated, validity overlapping the old one.
    assert (active.owner_identifier_type, active.owner_identifier) == ("Nip", client.nip)
    # The DN KSeF returned, in the contract's order: the same attributes and values.
    assert sorted(active.subject.split(",")) == sorted(old.subject.split(","))
    assert _public_der(active.certificate_pem) != _public_der(old.certificate_pem)
    assert active.key_description == "EC P-256"
    assert active.valid_from and old.valid_to and active.valid_to
    assert active.valid_from <= timezone.now() < old.valid_to < active.valid_to
    assert sim.enrollments(client.nip) == 1
    # The old certificate was not revoked early: KSeF still lists it as active.
    assert sim.state.certificates[old.serial_number].status == "Active"
    renewal = CredentialRenewal.objects.get(credential=old)
    assert renewal.state == CredentialRenewal.State.RENEWED
    assert renewal.pending_private_key_pem == ""
    assert "Odnowiono" in renewal.message_text
    # The old key stays until its own end, then the daily job destroys it.
    assert secret_read(old)
    services.predecessors_retire(now=old.valid_to + timedelta(seconds=1))
    old.secret.refresh_from_db()
    assert old.secret.destroyed_at is not None


def test_a_live_test_login_with_the_renewed_certificate_succeeds(sim, due_client, _on_commit_runs):
    client, _old, _files = due_client
    _daily(_on_commit_runs)
    renewed = Credential.objects.get(client=client, kind="authentication", status="active")

    outcome = connection.test_login(
        credential=renewed, material=secret_read(renewed), context_nip=client.nip
    )

    assert outcome.ok, outcome.message


def test_running_the_job_twice_enrols_once(sim, due_client, _on_commit_runs):
    client, _old, _files = due_client

    _daily(_on_commit_runs)
    assert _daily(_on_commit_runs) == 0

    assert sim.enrollments(client.nip) == 1
    assert Credential.objects.filter(client=client, source="renewal").count() == 1


def test_a_second_worker_finds_the_renewal_claimed_and_sends_nothing(sim, due_client):
    client, old, _files = due_client
    renewal = services.renewal_for(old)
    # The first worker holds the lease (taken with the conditional UPDATE).
    assert services._claim(renewal.pk, timezone.now()) is not None

    report = services.renewal_perform(renewal_id=renewal.pk)

    assert report.outcome == "held"
    assert sim.enrollments(client.nip) == 0
    assert services._claim(renewal.pk, timezone.now()) is None


def test_the_offline_certificate_is_renewed_with_the_authentication_session_and_signs_kod_ii(
    sim, due_client, _on_commit_runs
):
    client, _old, _files = due_client
    offline = store(client, issue(sim.state, client.nip, certificate_type="Offline"), "offline")

    _daily(_on_commit_runs)

    renewed = Credential.objects.get(client=client, kind="offline", status="active")
    assert renewed.pk != offline.pk and renewed.source == "renewal"
    assert renewed.owner_identifier == client.nip
    assert sim.enrollments(client.nip, "Offline") == 1
    assert sim.enrollments(client.nip, "Authentication") == 1
    certificate = kc.load_certificate(renewed.certificate_pem.encode())
    material = secret_read(renewed)
    key = kc.load_private_key(material.private_key_pem.encode(), material.key_password or None)
    invoice = b"<Faktura>offline</Faktura>"
    url = qr.certificate_verification_url(
        TEST, "Nip", client.nip, client.nip, certificate, key, invoice
    )
    # KOD II verifies with the renewed certificate's public key (ECDSA P-256, r||s).
    parts = urlsplit(url)
    signed, _sep, signature_b64 = (parts.netloc + parts.path).rpartition("/")
    raw = base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
    signature = encode_dss_signature(
        int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    )
    public_key = certificate.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(signature, signed.encode(), ec.ECDSA(hashes.SHA256()))
    assert f"/{renewed.serial_number}/" in url


def test_every_attempt_and_its_outcome_is_in_the_custody_log(sim, due_client, _on_commit_runs):
    _client, old, _files = due_client
    _daily(_on_commit_runs)
    actions = list(
        AuditEvent.objects.filter(object_id=str(old.pk)).values_list("action", flat=True)
    )
    assert "credential.renewal_attempt" in actions
    assert "credential.renewal_enrolled" in actions
    assert "credential.renewed" in actions
    new = Credential.objects.get(source="renewal")
    assert AuditEvent.objects.filter(
        object_id=str(new.pk), action="credential.renewal_activated"
    ).exists()


def test_an_rsa_key_is_generated_when_the_office_chose_it(sim, due_client, _on_commit_runs):
    client, old, _files = due_client
    old.office.renewal_settings.key_type = "rsa"
    old.office.renewal_settings.save()
    _daily(_on_commit_runs)
    renewed = Credential.objects.get(client=client, kind="authentication", status="active")
    assert renewed.key_description == "RSA 2048"


def test_the_state_selector_says_renewed_with_the_new_end(sim, due_client, _on_commit_runs):
    client, old, _files = due_client
    assert selectors.renewal_state(old).code == "scheduled"
    _daily(_on_commit_runs)
    renewed = Credential.objects.get(client=client, kind="authentication", status="active")
    state = selectors.renewal_state(renewed)
    assert (state.code, state.valid_to) == ("renewed", renewed.valid_to)
    assert selectors.office_renewal_summary(client.office)["renewed"] == 1


def test_a_successor_starting_later_waits_and_becomes_active_at_its_valid_from(
    sim, due_client, _on_commit_runs, monkeypatch
):
    client, old, _files = due_client
    start = timezone.now().replace(microsecond=0) + timedelta(days=3)
    monkeypatch.setattr(services, "_valid_from", lambda credential, now: start)

    _daily(_on_commit_runs)

    successor = Credential.objects.get(client=client, source="renewal")
    old.refresh_from_db()
    assert successor.status == Credential.Status.SCHEDULED and successor.valid_from == start
    assert old.status == Credential.Status.ACTIVE  # still the one that logs in
    assert selectors.renewal_state(old).code == "renewed"

    services.renewals_daily(now=start - timedelta(minutes=1))
    successor.refresh_from_db()
    assert successor.status == Credential.Status.SCHEDULED

    services.renewals_daily(now=start + timedelta(minutes=1))
    successor.refresh_from_db()
    old.refresh_from_db()
    assert successor.status == Credential.Status.ACTIVE
    assert old.status == Credential.Status.REPLACED
    assert sim.enrollments(client.nip) == 1


def test_the_old_certificate_is_revoked_only_when_the_office_asked_for_it(
    sim, due_client, _on_commit_runs
):
    _client, old, _files = due_client
    old.office.renewal_settings.revoke_previous = True
    old.office.renewal_settings.save()

    _daily(_on_commit_runs)

    assert sim.state.certificates[old.serial_number].status == "Revoked"
    assert sim.state.certificates[old.serial_number].revocation_reason == "Superseded"
    assert AuditEvent.objects.filter(object_id=str(old.pk), action="credential.revoked").exists()


def test_a_credential_a_person_uploaded_meanwhile_wins_over_a_waiting_successor(
    sim, due_client, _on_commit_runs, monkeypatch
):
    client, _old, _files = due_client
    start = timezone.now().replace(microsecond=0) + timedelta(days=3)
    monkeypatch.setattr(services, "_valid_from", lambda credential, now: start)
    _daily(_on_commit_runs)
    uploaded = store(client, issue(sim.state, client.nip, ends_in=timedelta(days=700)))

    services.renewals_daily(now=start + timedelta(minutes=1))

    successor = Credential.objects.get(client=client, source="renewal")
    uploaded.refresh_from_db()
    assert uploaded.status == Credential.Status.ACTIVE
    assert successor.status == Credential.Status.DELETED
    assert successor.secret.destroyed_at is not None


def test_the_offices_own_certificate_is_renewed_when_the_office_turned_it_on(
    sim, office, _on_commit_runs
):
    from certificates.models import RenewalSettings
    from certificates.services import credential_upload
    from certificates.validation import CertificateUpload, UploadedFile
    from tests.ksef.keys import key_pem, pem

    RenewalSettings.objects.create(office=office, renew_office_credentials=True)
    files = issue(sim.state, office.nip)
    credential_upload(
        office=office,
        client=None,
        kind="authentication",
        upload=CertificateUpload(
            certificate=UploadedFile("c.pem", pem(files.certificate)),
            private_key=UploadedFile("k.pem", key_pem(files.key, files.password)),
            password=files.password,
        ),
        actor=None,
    )

    _daily(_on_commit_runs)

    renewed = Credential.objects.get(office=office, client=None, status="active")
    assert renewed.source == "renewal" and renewed.owner_identifier == office.nip
    assert sim.enrollments(office.nip) == 1
