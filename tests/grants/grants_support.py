"""Shared set-up of the grant tests: the KSeF simulator in-process, stored credentials.

The portal reaches the simulator through the connection module's transport hook
(`certificates.connection.set_transport`), so every grant test runs the real protocol:
XAdES login, grant POSTs, operation polling, grant queries, revocations.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from certificates import connection
from certificates.models import Credential
from certificates.services import credential_upload
from certificates.validation import CertificateUpload, Consent, UploadedFile
from clients.models import Client
from ksef_simulator import SimulatorConfig, create_app
from ksef_simulator.state import State
from portal.models import Office
from tests.certificates.conftest import PASSWORD, make_files
from tests.ksef.keys import key_pem, make_certificate, make_ec_key, pem
from tests.ksef_simulator.helpers import (
    SimTransport,
    bearer,
    login_xades,
    make_credential,
    owner_login,
)

SIM_BASE_URL = "http://ksef-sim/v2"


class RecordingTransport(SimTransport):
    """The simulator's WSGI transport that records every exchange and can misbehave once:
    lose the response of a request KSeF did process, or let a fault heal after one hit."""

    def __init__(self, app: Any, state: State) -> None:
        super().__init__(app)
        self.state = state
        self.exchanges: list[tuple[str, str, int]] = []
        self.lose_next_response_to: str | None = None
        self.heal_faults_after_first_hit = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        path = request.url.path.removeprefix("/v2")
        self.exchanges.append((request.method, path, response.status_code))
        if response.status_code in (429, 500, 503) and self.heal_faults_after_first_hit:
            self.state.faults.reset()
            self.heal_faults_after_first_hit = False
        if self.lose_next_response_to and path.startswith(self.lose_next_response_to):
            self.lose_next_response_to = None
            raise httpx.ReadTimeout("the answer was lost on the way back", request=request)
        return response

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.exchanges if m == method and p.startswith(path))


@dataclass
class Sim:
    http: httpx.Client
    state: State
    transport: RecordingTransport
    keys: dict[str, Any] = field(default_factory=dict)

    def faults(self, **values: Any) -> None:
        response = self.http.post(SIM_BASE_URL.removesuffix("/v2") + "/_sim/faults", json=values)
        assert response.status_code == 200, response.text

    def staff_token(self, pesel: str, context_nip: str) -> Any:
        """A NEW access token of the staff member (own PESEL certificate) in the context."""
        credential = self.keys.setdefault(pesel, make_credential(pesel=pesel))
        return login_xades(self.http, credential, context_nip)

    def permissions_of(self, tokens: Any) -> set[str]:
        response = self.http.post(
            "/permissions/query/personal/grants", headers=bearer(tokens.access), json={}
        )
        assert response.status_code == 200, response.text
        return {p["permissionScope"] for p in response.json()["permissions"]}

    def active_grants(self, kind: str, authorized: str) -> list[Any]:
        now = self.state.now()
        return [
            g
            for g in self.state.grants.values()
            if g.kind == kind and g.authorized.value == authorized and g.active(now)
        ]


def client_grants_office(sim: Sim, client_nip: str, office_nip: str) -> None:
    """The client grants the office delegable InvoiceWrite + InvoiceRead with its own API call
    (as it would in the Ministry's app): the office model's starting point."""
    owner = owner_login(sim.http, client_nip)
    response = sim.http.post(
        "/permissions/entities/grants",
        headers=bearer(owner.access),
        json={
            "subjectIdentifier": {"type": "Nip", "value": office_nip},
            "permissions": [
                {"type": "InvoiceWrite", "canDelegate": True},
                {"type": "InvoiceRead", "canDelegate": True},
            ],
            "description": "Biuro rachunkowe klienta",
            "subjectDetails": {"fullName": "Biuro Rachunkowe Bilans"},
        },
    )
    assert response.status_code == 202, response.text


@pytest.fixture(name="sim")
def sim_fixture(settings) -> Iterator[Sim]:  # type: ignore[no-untyped-def]
    app = create_app(
        SimulatorConfig(profile="fast", jwt_secret=b"grant-tests-grant-tests-grant-te")
    )
    state: State = app.extensions["ksef_simulator"]
    transport = RecordingTransport(app, state)
    settings.KSEF_BASE_URL = SIM_BASE_URL
    connection.set_transport(transport)
    with httpx.Client(transport=SimTransport(app), base_url=SIM_BASE_URL) as http:
        yield Sim(http=http, state=state, transport=transport)
    connection.set_transport(None)


def _file(name: str, content: bytes) -> UploadedFile:
    return UploadedFile(name=name, content=content)


def store_seal(office: Office, client: Client | None, nip: str) -> Credential:
    """An authentication certificate (company seal with `nip`) stored through the service."""
    files = make_files(nip)
    upload = CertificateUpload(
        certificate=_file("cert.crt", files.certificate_pem),
        private_key=_file("klucz.key", files.key_pem),
        password=files.password,
    )
    result = credential_upload(
        office=office, client=client, kind=Credential.Kind.AUTHENTICATION, upload=upload, actor=None
    )
    return result.credential


def store_personal(office: Office, client: Client, pesel: str) -> Credential:
    """A personal authentication certificate (PESEL) of the client's authorised person."""
    key = make_ec_key()
    certificate = make_certificate(key, pesel=pesel, given_name="Jan", surname="Kowalski")
    upload = CertificateUpload(
        certificate=_file("cert.crt", pem(certificate)),
        private_key=_file("klucz.key", key_pem(key, PASSWORD)),
        password=PASSWORD,
    )
    consent = Consent(given_by="Jan Kowalski", given_on=datetime(2026, 1, 5, tzinfo=UTC))
    result = credential_upload(
        office=office,
        client=client,
        kind=Credential.Kind.AUTHENTICATION,
        upload=upload,
        consent=consent,
        actor=None,
    )
    return result.credential


@pytest.fixture(name="run")
def run_fixture(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """Call a service and run the tasks it queued with transaction.on_commit, as a real
    commit would (tasks are eager in tests)."""

    def _run(service, **kwargs):  # type: ignore[no-untyped-def]
        with django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)

    return _run
