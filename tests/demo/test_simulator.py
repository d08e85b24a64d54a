"""`seed_demo` against a real KSeF simulator on a loopback port: every flow is clickable.

The simulator runs in a thread behind Werkzeug (as `make demo` runs it in a process), the
portal reaches it over HTTP at settings.KSEF_BASE_URL, and the checks go through the same
service and task code as the buttons in the UI (Celery runs eagerly in tests).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO

import pytest
from cryptography import x509
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from werkzeug.serving import make_server

from certificates.models import Credential, CredentialCheck
from certificates.services import credential_check_request
from clients.models import AccessModel, Client, LegalForm, Prerequisite
from grants.models import GrantsCheck, PermissionGrant
from grants.services import office_entity_grant
from grants.verification import grants_verify_request
from invoices.models import SyncCursor
from invoices.sync.services import syncable_clients
from ksef.certificates import KsefCertificateKind, describe_certificate
from ksef_simulator import SimulatorConfig, create_app
from ksef_simulator.state import State
from portal.models import AuditEvent, Membership, Office

pytestmark = pytest.mark.django_db


@pytest.fixture
def simulator(settings) -> Iterator[State]:  # type: ignore[no-untyped-def]
    app = create_app(SimulatorConfig(profile="fast"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.KSEF_BASE_URL = f"http://127.0.0.1:{server.server_port}/v2"
    try:
        yield app.extensions["ksef_simulator"]
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def _admin() -> Membership:
    return Membership.objects.select_related("user").get(user__username="admin")


def _client_of(credential: Credential) -> Client:
    assert credential.client is not None
    return credential.client


def _live_check(credential: Credential, client: Client, capture) -> CredentialCheck:  # type: ignore[no-untyped-def]
    with capture(execute=True):
        check = credential_check_request(actor=_admin().user, credential=credential, client=client)
    check.refresh_from_db()
    return check


def test_a_seeded_client_certificate_passes_the_live_check(
    simulator, django_capture_on_commit_callbacks
):
    _seed()
    credential = Credential.objects.filter(
        client__isnull=False, kind=Credential.Kind.AUTHENTICATION, status="active"
    ).first()
    assert credential is not None

    client = _client_of(credential)
    check = _live_check(credential, client, django_capture_on_commit_callbacks)

    assert check.state == CredentialCheck.State.SUCCEEDED, check.message
    assert client.nip in check.message


def test_a_seeded_sole_proprietor_holds_its_owners_pesel_certificate_which_logs_in(
    simulator, django_capture_on_commit_callbacks
):
    _seed()
    credential = Credential.objects.filter(
        client__legal_form=LegalForm.SOLE_PROPRIETORSHIP,
        kind=Credential.Kind.AUTHENTICATION,
        status="active",
    ).first()
    assert credential is not None
    client = _client_of(credential)
    owner = Prerequisite.objects.get(client=client)

    assert (credential.is_personal, credential.owner_identifier) == (True, owner.person_identifier)
    assert credential.consent_given_by
    assert credential.source == Credential.Source.DEMO  # the custody record says it is demo data
    check = _live_check(credential, client, django_capture_on_commit_callbacks)
    assert check.state == CredentialCheck.State.SUCCEEDED, check.message


def test_the_seeded_ksef_token_passes_the_live_check(simulator, django_capture_on_commit_callbacks):
    _seed()
    token = Credential.objects.get(kind=Credential.Kind.TOKEN, status="active")
    assert token.token_reference in simulator.ksef_tokens

    check = _live_check(token, _client_of(token), django_capture_on_commit_callbacks)

    assert check.state == CredentialCheck.State.SUCCEEDED, check.message


def test_the_office_certificate_logs_into_a_client_that_granted_the_office(
    simulator, django_capture_on_commit_callbacks
):
    _seed()
    office = Office.objects.get(name="Biuro Rachunkowe Demo")
    office_credential = Credential.objects.get(office=office, client__isnull=True, status="active")
    granted = PermissionGrant.objects.filter(
        grantee_kind=PermissionGrant.GranteeKind.ENTITY, state=PermissionGrant.State.GRANTED
    ).select_related("client")
    assert granted.count() == 2
    assert {g.client.access_model for g in granted} == {AccessModel.OFFICE}

    check = _live_check(office_credential, granted[0].client, django_capture_on_commit_callbacks)

    assert check.state == CredentialCheck.State.SUCCEEDED, check.message


def test_check_now_discovers_the_third_clients_entity_grant_to_the_office(
    simulator, django_capture_on_commit_callbacks
):
    _seed()
    office_model = Client.objects.filter(access_model=AccessModel.OFFICE).order_by("pk")
    undiscovered = [c for c in office_model if office_entity_grant(c) is None]
    assert len(office_model) == 5 and len(undiscovered) == 3
    # Two of the three granted nothing; one granted the office in KSeF, unknown to the portal.
    for client in undiscovered:
        with django_capture_on_commit_callbacks(execute=True):
            check = grants_verify_request(actor=_admin().user, client=client)
        check.refresh_from_db()
        assert check.state == GrantsCheck.State.DONE, check.message

    found = [c for c in undiscovered if office_entity_grant(c) is not None]
    assert len(found) == 1
    grant = office_entity_grant(found[0])
    assert grant is not None
    assert sorted(grant.permissions) == ["InvoiceRead", "InvoiceWrite"] and grant.can_delegate


def test_certificates_expire_at_varied_dates_and_keys_are_stored_encrypted(simulator):
    _seed()

    certificates = Credential.objects.filter(
        client__isnull=False, kind=Credential.Kind.AUTHENTICATION, status="active"
    )
    now = timezone.now()
    expiries = [c.valid_to for c in certificates if c.valid_to is not None]
    days = sorted(round((valid_to - now) / timedelta(days=1)) for valid_to in expiries)
    assert days == [5, 20, 45, 80, 300]
    assert {_client_of(c).access_model for c in certificates} == {AccessModel.CLIENT_CREDENTIAL}
    assert (
        AuditEvent.objects.filter(
            action="credential.uploaded", actor_label__startswith="seed_demo"
        ).count()
        == Credential.objects.count()
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT private_key_pem FROM certificates_credentialsecret")
        raw = [row[0] for row in cursor.fetchall()]
    assert raw and not any("PRIVATE KEY" in str(value) for value in raw)


def test_the_two_longest_lived_client_certificates_come_with_an_offline_certificate(simulator):
    _seed()

    offline = Credential.objects.filter(kind=Credential.Kind.OFFLINE, status="active")
    assert offline.count() == 2
    for credential in offline:
        described = describe_certificate(
            x509.load_pem_x509_certificate(credential.certificate_pem.encode())
        )
        assert described.kind is KsefCertificateKind.OFFLINE
    authentication = Credential.objects.filter(
        client__isnull=False, kind=Credential.Kind.AUTHENTICATION, status="active"
    ).order_by("-valid_to")
    assert {c.client_id for c in offline} == {c.client_id for c in authentication[:2]}


def test_the_simulator_holds_invoices_of_the_demo_clients(simulator):
    _seed()

    sellers = {invoice.facts.seller_nip for invoice in simulator.invoices.values()}
    demo_nips = set(Client.objects.values_list("nip", flat=True))
    assert len(sellers) >= 5 and sellers <= demo_nips


def test_running_it_again_adds_nothing_to_the_portal_or_the_simulator(simulator):
    _seed()
    counts = (
        Credential.objects.count(),
        PermissionGrant.objects.count(),
        len(simulator.invoices),
        len(simulator.ksef_tokens),
        len(simulator.grants),
    )

    output = _seed()

    assert counts == (
        Credential.objects.count(),
        PermissionGrant.objects.count(),
        len(simulator.invoices),
        len(simulator.ksef_tokens),
        len(simulator.grants),
    )
    assert "0 new certificates, 0 new KSeF tokens, 0 new entity grants" in output


def test_it_says_how_to_start_the_simulator_when_it_is_not_running(settings):
    settings.KSEF_BASE_URL = "http://127.0.0.1:9/v2"

    with pytest.raises(CommandError, match=r"Symulator KSeF nie odpowiada.*--no-simulator"):
        _seed()


def test_it_queues_the_first_invoice_sync_of_every_client_that_can_sync_once(simulator):
    output = _seed()

    syncable = syncable_clients()
    requested = AuditEvent.objects.filter(action="invoices.sync_requested")
    assert syncable.count() >= 5
    assert requested.count() == syncable.count()
    assert SyncCursor.objects.filter(client__in=syncable).count() == 2 * syncable.count()
    assert f"Queued the first invoice sync of {syncable.count()} clients" in output
    _seed()
    assert requested.count() == syncable.count()
