"""Live test login against the in-process KSeF simulator, through the HTMX progress flow.

The portal's gateway talks HTTP to the simulator's Flask app (httpx WSGI transport), so the
real protocol runs end to end: challenge, XAdES or encrypted token, status, redeem.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from django.urls import reverse

from certificates import connection
from certificates.models import Credential, CredentialCheck
from clients.models import AccessModel, LegalForm, Prerequisite
from ksef_simulator import SimulatorConfig, create_app
from ksef_simulator.state import Certificate as SimCertificate
from ksef_simulator.state import State
from portal.models import AuditEvent
from tests.certificates.conftest import CredentialFiles, make_files, upload_url
from tests.factories import make_client
from tests.ksef.keys import make_certificate, make_ec_key, make_nip, make_pesel
from tests.ksef_simulator.helpers import (
    SimTransport,
    add_person,
    bearer,
    grant_testdata,
    owner_login,
)

SIM_BASE_URL = "http://ksef-sim/v2"


@pytest.fixture
def simulator(settings) -> Iterator[tuple[httpx.Client, State]]:  # type: ignore[no-untyped-def]
    app = create_app(
        SimulatorConfig(profile="fast", jwt_secret=b"portal-tests-portal-tests-portal")
    )
    settings.KSEF_BASE_URL = SIM_BASE_URL
    connection.set_transport(SimTransport(app))
    with httpx.Client(transport=SimTransport(app), base_url=SIM_BASE_URL) as sim:
        yield sim, app.extensions["ksef_simulator"]
    connection.set_transport(None)


def _upload(browser, client_pk: int, files: CredentialFiles, kind: str = "authentication"):  # type: ignore[no-untyped-def]
    response = browser.post(upload_url(client_pk, kind), files.pair())
    assert response.status_code == 302, response.content.decode()[:3000]
    return Credential.objects.get(client_id=client_pk, kind=kind, status="active")


@pytest.fixture(autouse=True)
def _run_tasks_on_commit(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """Tasks are queued with transaction.on_commit; run them as a real commit would."""
    global _on_commit
    _on_commit = django_capture_on_commit_callbacks
    yield


_on_commit = None


def _press(browser, client_pk: int, credential: Credential):  # type: ignore[no-untyped-def]
    url = reverse("certificates:check_start", args=[client_pk, credential.pk])
    assert _on_commit is not None
    with _on_commit(execute=True):
        started = browser.post(url, HTTP_HX_REQUEST="true")
    # The check is still queued when the view answers: the fragment keeps polling (200).
    assert started.status_code == 200
    assert 'hx-trigger="every 1s"' in started.content.decode()
    return started


def _check(browser, client_pk: int, credential: Credential) -> tuple[CredentialCheck, str]:  # type: ignore[no-untyped-def]
    """Press "Sprawdź połączenie z KSeF" over HTMX, then poll the status fragment once."""
    _press(browser, client_pk, credential)
    check = CredentialCheck.objects.filter(credential=credential).first()
    assert check is not None
    polled = browser.get(reverse("certificates:check", args=[check.pk]), HTTP_HX_REQUEST="true")
    # Finished (tasks run eagerly in tests): 286 tells htmx to stop polling.
    assert polled.status_code == 286
    assert "<html" not in polled.content.decode()
    return check, polled.content.decode()


def _issue(state: State, subject: x509.Name, *, register: str | None) -> CredentialFiles:
    """A KSeF certificate signed by the simulator's CA, registered with `register` status."""
    key = make_ec_key()
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    now = datetime.now(UTC)
    serial, der = state.keys.issue_certificate(
        csr,
        certificate_type="Authentication",
        valid_from=now - timedelta(hours=1),
        valid_to=now + timedelta(days=700),
    )
    certificate = x509.load_der_x509_certificate(der)
    if register:
        state.certificates[serial] = SimCertificate(
            serial=serial,
            name="Certyfikat testowy",
            type="Authentication",
            common_name="Firma",
            owner=None,  # type: ignore[arg-type]
            der=der,
            valid_from=now - timedelta(hours=1),
            valid_to=now + timedelta(days=700),
            request_date=now,
            fingerprint="",
            status=register,
            public_key_sha256="",
        )
    return CredentialFiles(key=key, certificate=certificate)


def _seal_subject(nip: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"Firma {nip}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"Firma {nip} sp. z o.o."),
            x509.NameAttribute(x509.ObjectIdentifier("2.5.4.97"), f"VATPL-{nip}"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ]
    )


def test_the_client_certificate_logs_into_the_client_context(
    simulator, login, accountant, client_company, client_files
):
    browser = login(accountant)
    credential = _upload(browser, client_company.pk, client_files)

    check, fragment = _check(browser, client_company.pk, credential)

    check.refresh_from_db()
    assert check.state == CredentialCheck.State.SUCCEEDED
    assert "Połączenie działa" in fragment
    assert check.finished_at is not None
    actions = set(
        AuditEvent.objects.filter(object_id=str(credential.pk)).values_list("action", flat=True)
    )
    assert {"credential.used", "credential.checked", "credential.check_requested"} <= actions
    page = browser.get(reverse("certificates:client", args=[client_company.pk])).content.decode()
    assert "Połączenie działa" in page


def test_a_sole_proprietors_own_pesel_certificate_logs_into_the_firms_context(
    simulator, login, accountant, office
):
    sim, _state = simulator
    client = make_client(office, assigned=[accountant], legal_form=LegalForm.SOLE_PROPRIETORSHIP)
    pesel = make_pesel(21)
    Prerequisite.objects.filter(client=client).update(
        person_identifier=pesel, person_identifier_type="pesel"
    )
    key = make_ec_key()
    files = CredentialFiles(key=key, certificate=make_certificate(key, pesel=pesel))
    browser = login(accountant)
    response = browser.post(
        upload_url(client.pk),
        files.pair(consent_given_by="Jan Kowal (właściciel)", consent_given_on="2026-11-02"),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    credential = Credential.objects.get(client=client)

    # KSeF knows the owner only once the PESEL is linked to the firm's NIP (CEIDG, here the
    # simulator's test data): before that the login is refused with 415.
    check, fragment = _check(browser, client.pk, credential)
    check.refresh_from_db()
    assert (check.state, check.error_code) == ("failed", "415")

    add_person(sim, client.nip, pesel)
    check, fragment = _check(browser, client.pk, credential)

    check.refresh_from_db()
    assert check.state == CredentialCheck.State.SUCCEEDED, fragment
    assert "Połączenie działa" in fragment


def test_a_ksef_token_logs_in_after_upload(simulator, login, accountant, client_company):
    sim, _state = simulator
    owner = owner_login(sim, client_company.nip)
    created = sim.post(
        "/tokens",
        json={"permissions": ["InvoiceRead"], "description": "Token dla biura"},
        headers=bearer(owner.access),
    )
    assert created.status_code == 202, created.text
    browser = login(accountant)
    response = browser.post(
        upload_url(client_company.pk, "token"), {"token": created.json()["token"]}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    credential = Credential.objects.get(kind="token")

    check, fragment = _check(browser, client_company.pk, credential)

    assert CredentialCheck.objects.get(pk=check.pk).state == "succeeded"
    assert "Połączenie działa" in fragment


def test_a_revoked_token_is_reported_as_450(simulator, login, accountant, client_company):
    sim, _state = simulator
    owner = owner_login(sim, client_company.nip)
    created = sim.post(
        "/tokens",
        json={"permissions": ["InvoiceRead"], "description": "Token dla biura"},
        headers=bearer(owner.access),
    ).json()
    browser = login(accountant)
    browser.post(upload_url(client_company.pk, "token"), {"token": created["token"]})
    assert sim.delete(
        f"/tokens/{created['referenceNumber']}", headers=bearer(owner.access)
    ).status_code in (200, 204)

    check, fragment = _check(browser, client_company.pk, Credential.objects.get(kind="token"))

    check.refresh_from_db()
    assert (check.state, check.error_code) == ("failed", "450")
    assert "KSeF odrzucił token" in fragment


def test_the_office_certificate_without_a_grant_gets_415_then_works_once_granted(
    simulator, login, admin_member, accountant, client_company, office
):
    sim, _state = simulator
    # The office logs in with its own NIP, which must differ from the client's context.
    office.nip = next(n for seed in range(1, 50) if (n := make_nip(seed)) != client_company.nip)
    office.save()
    office_files = make_files(office.nip)
    admin = login(admin_member)
    response = admin.post(reverse("certificates:office_upload"), office_files.pair())
    assert response.status_code == 302, response.content.decode()[:2000]
    credential = Credential.objects.get(client__isnull=True)
    client_company.access_model = AccessModel.OFFICE
    client_company.save()
    browser = login(accountant)

    check, fragment = _check(browser, client_company.pk, credential)
    check.refresh_from_db()
    assert (check.state, check.error_code) == ("failed", "415")
    assert "nie ma uprawnień w kontekście klienta" in fragment

    grant_testdata(sim, client_company.nip, ("Nip", office.nip), ["InvoiceRead"])
    _press(browser, client_company.pk, credential)
    latest = CredentialCheck.objects.filter(credential=credential).first()
    assert latest is not None and latest.state == "succeeded"


@pytest.mark.parametrize(
    ("register", "detail"), [("Revoked", "revoked"), (None, "unknown")], ids=["revoked", "unknown"]
)
def test_a_revoked_or_unknown_ksef_certificate_is_reported_as_460(
    simulator, login, accountant, client_company, register, detail
):
    _sim, state = simulator
    files = _issue(state, _seal_subject(client_company.nip), register=register)
    browser = login(accountant)
    credential = _upload(browser, client_company.pk, files)

    check, fragment = _check(browser, client_company.pk, credential)

    check.refresh_from_db()
    assert (check.state, check.error_code) == ("failed", "460")
    assert "KSeF odrzucił certyfikat" in fragment


def test_an_unreachable_ksef_is_reported_in_polish(
    settings, login, accountant, client_company, client_files
):
    settings.KSEF_BASE_URL = "http://127.0.0.1:9/v2"  # discard port: nothing listens
    connection.set_transport(None)
    browser = login(accountant)
    credential = _upload(browser, client_company.pk, client_files)

    check, fragment = _check(browser, client_company.pk, credential)

    check.refresh_from_db()
    assert (check.state, check.error_code) == ("failed", "network")
    assert "Nie udało się połączyć z KSeF" in fragment


def test_the_health_annotation_shows_the_latest_check(
    simulator, login, accountant, client_company, client_files
):
    from certificates.selectors import annotate_credential_health
    from clients.models import Client

    browser = login(accountant)
    credential = _upload(browser, client_company.pk, client_files)
    _check(browser, client_company.pk, credential)

    row = annotate_credential_health(Client.objects.filter(pk=client_company.pk)).get()
    health = {
        name: getattr(row, name)
        for name in (
            "credential_kind",
            "credential_valid_to",
            "credential_check_state",
            "credential_checked_at",
        )
    }  # queryset annotations
    assert health["credential_kind"] == "authentication"
    assert health["credential_valid_to"] == credential.valid_to
    assert health["credential_check_state"] == "succeeded"
    assert health["credential_checked_at"] is not None


def test_running_the_same_check_twice_authenticates_once(
    simulator, login, accountant, client_company, client_files
):
    from certificates.services import credential_check_perform

    browser = login(accountant)
    credential = _upload(browser, client_company.pk, client_files)
    check, _fragment = _check(browser, client_company.pk, credential)

    assert credential_check_perform(check_id=check.pk) is None
    assert (
        AuditEvent.objects.filter(action="credential.used", object_id=str(credential.pk)).count()
        == 1
    )


def test_a_stored_check_result_is_read_in_the_readers_language(
    simulator, settings, login, accountant, client_company, client_files
):
    browser = login(accountant)
    credential = _upload(browser, client_company.pk, client_files)
    check, _fragment = _check(browser, client_company.pk, credential)  # run in Polish

    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = browser.get(reverse("certificates:check", args=[check.pk])).content.decode()

    assert "The connection works: KSeF accepted the credential" in english
    assert "Połączenie działa: KSeF" not in english
    assert client_company.nip in english


def test_an_unreachable_ksef_stored_in_english_reads_in_polish(
    settings, login, accountant, client_company, client_files
):
    settings.KSEF_BASE_URL = "http://127.0.0.1:9/v2"
    connection.set_transport(None)
    browser = login(accountant)
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    credential = _upload(browser, client_company.pk, client_files)
    check, fragment = _check(browser, client_company.pk, credential)
    assert "Nie udało się połączyć" not in fragment

    del browser.cookies[settings.LANGUAGE_COOKIE_NAME]
    polish = browser.get(reverse("certificates:check", args=[check.pk])).content.decode()

    assert "Nie udało się połączyć z KSeF (http://127.0.0.1:9/v2)" in polish
