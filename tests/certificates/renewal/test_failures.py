"""Every failure path of a renewal: its own Polish message stored as a code, the working
certificate untouched and usable, the attempt in the custody log, one e-mail per episode."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from django.core import mail
from django.utils import timezone

from certificates import connection
from certificates.custody import secret_read
from certificates.models import ClientRenewalChoice, Credential, CredentialRenewal
from certificates.renewal import selectors, services
from certificates.renewal.failures import Failure
from ksef import certificates as kc
from ksef_simulator.state import Certificate as SimCertificate
from ksef_simulator.state import Identifier
from portal.models import AuditEvent
from tests.certificates.conftest import token_for
from tests.certificates.renewal.conftest import issue, store
from tests.ksef.keys import make_ec_key, make_nip


def _daily(on_commit) -> None:  # type: ignore[no-untyped-def]
    with on_commit(execute=True):
        services.renewals_daily()


def _assert_untouched(client, old: Credential) -> None:  # type: ignore[no-untyped-def]
    """The working certificate is still the slot's active one and still logs in."""
    old.refresh_from_db()
    assert old.status == Credential.Status.ACTIVE
    assert not Credential.objects.filter(client=client, source="renewal", status="active").exists()
    outcome = connection.test_login(
        credential=old, material=secret_read(old), context_nip=client.nip
    )
    assert outcome.ok, outcome.message


def _failed(old: Credential, code: Failure) -> CredentialRenewal:
    renewal = CredentialRenewal.objects.get(credential=old)
    assert (renewal.state, renewal.failure_code) == ("failed", code), renewal.message_text
    assert AuditEvent.objects.filter(
        object_id=str(old.pk), action="credential.renewal_failed", details__code=code
    ).exists()
    return renewal


def test_limits_reached_say_so_and_keep_the_certificate(sim, due_client, _on_commit_runs):
    client, old, _files = due_client
    sim.state.subject_limits[("Nip", client.nip)] = {"maxEnrollments": 0}

    _daily(_on_commit_runs)

    renewal = _failed(old, Failure.LIMITS_REACHED)
    assert "wykorzystano limit" in renewal.message_text
    assert "wnioski: zostało 0 z 0" in renewal.message_text
    assert sim.enrollments(client.nip) == 0
    _assert_untouched(client, old)


def test_ksefs_25007_at_enrolment_is_worded_as_a_limit(
    sim, due_client, _on_commit_runs, monkeypatch
):
    client, old, _files = due_client
    sim.state.subject_limits[("Nip", client.nip)] = {"maxCertificates": 1}
    # The limits read said "yes" a moment ago (a race with another request): the
    # enrolment itself is refused by KSeF with 25007.
    from ksef.client import KsefClient
    from ksef.models import CertificateLimits

    yes = CertificateLimits.from_json(
        {
            "canRequest": True,
            "enrollment": {"remaining": 5, "limit": 300},
            "certificate": {"remaining": 1, "limit": 1},
        }
    )
    monkeypatch.setattr(KsefClient, "get_certificate_limits", lambda self, token: yes)

    _daily(_on_commit_runs)

    renewal = _failed(old, Failure.LIMITS_REACHED)
    assert "(kod 25007;" in renewal.message_text
    assert "aktywne certyfikaty: zostało 0" in renewal.message_text
    _assert_untouched(client, old)


def test_a_csr_ksef_rejects_is_reported_with_its_code(
    sim, due_client, _on_commit_runs, monkeypatch
):
    client, old, _files = due_client
    real = services._csr_der

    def changed_dn(key, subject):  # type: ignore[no-untyped-def]
        return real(key, subject | {"commonName": "Ktoś inny"})

    monkeypatch.setattr(services, "_csr_der", changed_dn)

    _daily(_on_commit_runs)

    renewal = _failed(old, Failure.CSR_REJECTED)
    assert "KSeF odrzucił wniosek o certyfikat (kod 25003" in renewal.message_text
    assert renewal.pending_private_key_pem == ""  # the next attempt starts with a new key
    _assert_untouched(client, old)


def test_an_enrollment_ending_400_is_reported_and_changes_nothing(
    sim, due_client, _on_commit_runs, monkeypatch
):
    client, old, _files = due_client
    # KSeF refuses (status 400) a public key already certified for another subject.
    taken = make_ec_key()
    spki = taken.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    other = issue(sim.state, make_nip(77))
    sim.state.certificates[kc.certificate_serial_hex(other.certificate)] = SimCertificate(
        serial="X",
        name="Cudzy",
        type="Authentication",
        common_name="Cudzy",
        owner=Identifier("Nip", make_nip(77)),
        der=b"",
        valid_from=timezone.now(),
        valid_to=timezone.now() + timedelta(days=700),
        request_date=timezone.now(),
        fingerprint="",
        public_key_sha256=hashlib.sha256(spki).hexdigest(),
    )
    monkeypatch.setattr(services.kc, "generate_private_key", lambda kind="ec": taken)

    _daily(_on_commit_runs)

    renewal = _failed(old, Failure.ENROLLMENT_REJECTED)
    assert "KSeF odmówił wystawienia certyfikatu (status 400" in renewal.message_text
    assert "Klucz publiczny został już certyfikowany" in renewal.message_text
    _assert_untouched(client, old)


def test_an_enrollment_ending_500_is_reported_as_ksefs_own_error(sim, due_client):
    client, old, _files = due_client
    sim.state.config.enrollment_processing_seconds = 3600

    def ksef_breaks(_seconds: float) -> None:
        # While the portal waits, KSeF's processing ends with its own error (status 500).
        for operation in sim.state.enrollments.values():
            operation.final_code, operation.final_description = 500, "Błąd wewnętrzny"
            operation.data.pop("serial", None)
            operation.ready_at = sim.state.now()

    renewal = services.renewal_for(old)
    report = services.renewal_perform(renewal_id=renewal.pk, sleep=ksef_breaks)

    assert report.outcome == "failed"
    renewal = _failed(old, Failure.ENROLLMENT_FAILED)
    assert "błędu po swojej stronie (status 500" in renewal.message_text
    _assert_untouched(client, old)


def test_an_expired_certificate_cannot_be_renewed_and_the_message_says_what_to_do(sim, due_client):
    client, old, _files = due_client
    renewal = services.renewal_for(old)
    later = old.valid_to + timedelta(days=1)

    services.renewal_perform(renewal_id=renewal.pk, now=lambda: later)

    renewal = _failed(old, Failure.CURRENT_EXPIRED)
    assert "odnowienie nie jest już możliwe" in renewal.message_text
    assert "Aplikacji Podatnika KSeF" in renewal.message_text
    assert sim.enrollments(client.nip) == 0


def test_a_revoked_certificate_cannot_be_renewed(sim, due_client, _on_commit_runs):
    _client, old, _files = due_client
    sim.state.certificates[old.serial_number].status = "Revoked"

    _daily(_on_commit_runs)

    renewal = _failed(old, Failure.CURRENT_REVOKED)
    assert "jest unieważniony" in renewal.message_text
    old.refresh_from_db()
    assert old.status == Credential.Status.ACTIVE
    assert secret_read(old)


def test_ksef_unavailable_is_retried_then_alerted_once_and_resumes_later(
    sim, due_client, _on_commit_runs, accountant
):
    client, old, _files = due_client
    sim.state.faults.update({"error_rate": 1.0, "error_status": 503})

    _daily(_on_commit_runs)

    renewal = _failed(old, Failure.KSEF_UNAVAILABLE)
    assert "KSeF nie odpowiadał mimo kilku prób" in renewal.message_text
    busy = AuditEvent.objects.filter(
        object_id=str(old.pk), action="credential.renewal_attempt", details__outcome="busy"
    )
    assert busy.count() == 7  # the first try and six retries, each in the custody log
    assert [m.to for m in mail.outbox] == [[accountant.user.email]]
    assert "Nie udało się odnowić certyfikatu KSeF" in mail.outbox[0].subject
    assert "KSeF nie odpowiadał" in mail.outbox[0].body

    # The next day KSeF still fails: the same episode, no second e-mail.
    _daily(_on_commit_runs)
    assert len(mail.outbox) == 1

    sim.state.faults.reset()
    _daily(_on_commit_runs)
    renewal.refresh_from_db()
    assert renewal.state == CredentialRenewal.State.RENEWED and not renewal.in_failure
    assert sim.enrollments(client.nip) == 1


def test_a_new_failure_after_a_success_is_a_new_episode_with_its_own_email(
    sim, due_client, _on_commit_runs
):
    _client, old, _files = due_client
    sim.state.certificates[old.serial_number].status = "Revoked"
    _daily(_on_commit_runs)
    _daily(_on_commit_runs)
    assert len(mail.outbox) == 1
    renewal = CredentialRenewal.objects.get(credential=old)
    assert renewal.failure_episode == 1


def test_a_crash_between_enrolment_and_storing_resumes_without_a_second_enrollment(
    sim, due_client, monkeypatch, _on_commit_runs
):
    client, old, _files = due_client
    renewal = services.renewal_for(old)
    real = services._store_renewed
    monkeypatch.setattr(services, "_store_renewed", _crash)

    with pytest.raises(_WorkerDied):
        services.renewal_perform(renewal_id=renewal.pk)

    renewal.refresh_from_db()
    assert renewal.enrollment_reference and renewal.certificate_serial
    monkeypatch.setattr(services, "_store_renewed", real)
    with _on_commit_runs(execute=True):
        report = services.renewal_perform(renewal_id=renewal.pk)

    assert report.outcome == "renewed"
    assert sim.enrollments(client.nip) == 1
    assert Credential.objects.get(client=client, status="active").source == "renewal"


def test_a_crash_right_after_the_enrolment_request_finds_the_certificate_by_its_name(
    sim, due_client, monkeypatch, _on_commit_runs
):
    client, old, _files = due_client
    renewal = services.renewal_for(old)
    real = services._remember_reference
    monkeypatch.setattr(services, "_remember_reference", _crash)

    with pytest.raises(_WorkerDied):
        services.renewal_perform(renewal_id=renewal.pk)

    renewal.refresh_from_db()
    assert renewal.state == "enrolling" and not renewal.enrollment_reference
    monkeypatch.setattr(services, "_remember_reference", real)
    with _on_commit_runs(execute=True):
        report = services.renewal_perform(renewal_id=renewal.pk)

    assert report.outcome == "renewed"
    assert sim.enrollments(client.nip) == 1


class _WorkerDied(BaseException):
    """Stands for the worker process dying mid-way (nothing catches it)."""


def _crash(*args: object, **kwargs: object) -> None:
    raise _WorkerDied


def test_an_offline_certificate_without_an_authentication_certificate_says_why(
    sim, renewing_office, client_company, _on_commit_runs
):
    offline = store(
        client_company, issue(sim.state, client_company.nip, certificate_type="Offline"), "offline"
    )
    _daily(_on_commit_runs)
    renewal = _failed(offline, Failure.NO_AUTHENTICATION_CERTIFICATE)
    assert "token KSeF nie może wnioskować o certyfikaty" in renewal.message_text


def test_a_personal_certificate_and_a_token_are_never_renewed(
    sim, renewing_office, office, accountant
):
    from clients.models import LegalForm, Prerequisite
    from tests.factories import make_client
    from tests.ksef.keys import make_pesel

    client = make_client(office, assigned=[accountant], legal_form=LegalForm.SOLE_PROPRIETORSHIP)
    pesel = make_pesel(33)
    Prerequisite.objects.filter(client=client).update(
        person_identifier=pesel, person_identifier_type="pesel"
    )
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Jan Kowal"),
            x509.NameAttribute(NameOID.GIVEN_NAME, "Jan"),
            x509.NameAttribute(NameOID.SURNAME, "Kowal"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, f"PNOPL-{pesel}"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ]
    )
    files = issue(sim.state, client.nip, subject=subject)
    from certificates.services import credential_upload
    from certificates.validation import CertificateUpload, Consent, UploadedFile
    from tests.ksef.keys import key_pem, pem

    personal = credential_upload(
        office=office,
        client=client,
        kind="authentication",
        upload=CertificateUpload(
            certificate=UploadedFile("c.pem", pem(files.certificate)),
            private_key=UploadedFile("k.pem", key_pem(files.key, files.password)),
            password=files.password,
        ),
        consent=Consent("Jan Kowal", timezone.now()),
        actor=None,
    ).credential
    token = credential_upload(
        office=office, client=client, kind="token", token=token_for(client.nip), actor=None
    ).credential
    assert personal.is_personal

    assert selectors.credentials_due(now=timezone.now() + timedelta(days=400)) == []
    for credential in (personal, token):
        assert selectors.renewal_state(credential).code == "not_renewable"
        with pytest.raises(ValueError):
            services.renewal_request(actor=accountant.user, credential=credential)
    assert sim.enrollments(client.nip) == 0


def test_a_client_that_said_no_is_not_renewed_despite_the_office_default(
    sim, due_client, _on_commit_runs
):
    client, old, _files = due_client
    ClientRenewalChoice.objects.create(office=client.office, client=client, enabled=False)
    _daily(_on_commit_runs)
    assert sim.enrollments(client.nip) == 0
    assert selectors.renewal_state(old).code == "disabled"
