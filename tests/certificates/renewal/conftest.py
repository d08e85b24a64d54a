"""Renewal tests: the in-process simulator over HTTP, certificates issued by its CA."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from certificates import connection
from certificates.models import Credential, RenewalSettings
from certificates.services import credential_upload
from certificates.validation import CertificateUpload, UploadedFile
from ksef_simulator import SimulatorConfig, create_app
from ksef_simulator.state import Certificate as SimCertificate
from ksef_simulator.state import Identifier, State
from tests.certificates.conftest import CredentialFiles
from tests.ksef.keys import key_pem, make_ec_key, pem

SIM_BASE_URL = "http://ksef-sim/v2"


@dataclass
class Sim:
    http: httpx.Client
    state: State

    def enrollments(self, nip: str, certificate_type: str | None = None) -> int:
        """How many enrollments the subject sent (read from the simulator's own state)."""
        serials = {
            serial
            for serial, c in self.state.certificates.items()
            if certificate_type is None or c.type == certificate_type
        }
        return sum(
            1
            for e in self.state.enrollments.values()
            if e.owner == ("Nip", nip)
            and (certificate_type is None or e.data.get("serial") in serials)
        )


@pytest.fixture
def sim(settings) -> Iterator[Sim]:  # type: ignore[no-untyped-def]
    from tests.ksef_simulator.helpers import SimTransport

    app = create_app(
        SimulatorConfig(profile="fast", jwt_secret=b"portal-tests-portal-tests-portal")
    )
    settings.KSEF_BASE_URL = SIM_BASE_URL
    connection.set_transport(SimTransport(app))
    with httpx.Client(transport=SimTransport(app), base_url=SIM_BASE_URL) as http:
        yield Sim(http, app.extensions["ksef_simulator"])
    connection.set_transport(None)


@pytest.fixture(autouse=True)
def _on_commit_runs(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """Queued tasks run at commit (eagerly), as a worker would pick them up."""
    return django_capture_on_commit_callbacks


def seal_subject(nip: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"Firma {nip}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"Firma {nip} sp. z o.o."),
            x509.NameAttribute(x509.ObjectIdentifier("2.5.4.97"), f"VATPL-{nip}"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ]
    )


def issue(
    state: State,
    nip: str,
    *,
    certificate_type: str = "Authentication",
    ends_in: timedelta = timedelta(days=10),
    subject: x509.Name | None = None,
) -> CredentialFiles:
    """A KSeF certificate of `nip` signed by the simulator's CA and known to it as active."""
    key = make_ec_key()
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject or seal_subject(nip))
        .sign(key, hashes.SHA256())
    )
    now = datetime.now(UTC).replace(microsecond=0)
    valid_from, valid_to = now - timedelta(days=720) + ends_in, now + ends_in
    valid_from = min(valid_from, now - timedelta(hours=1))
    serial, der = state.keys.issue_certificate(
        csr, certificate_type=certificate_type, valid_from=valid_from, valid_to=valid_to
    )
    state.certificates[serial] = SimCertificate(
        serial=serial,
        name="Certyfikat sprzed dwóch lat",
        type=certificate_type,
        common_name=f"Firma {nip}",
        owner=Identifier("Nip", nip),
        der=der,
        valid_from=valid_from,
        valid_to=valid_to,
        request_date=valid_from,
        fingerprint="",
        public_key_sha256="",
    )
    return CredentialFiles(key=key, certificate=x509.load_der_x509_certificate(der))


def store(client, files: CredentialFiles, kind: str = "authentication") -> Credential:  # type: ignore[no-untyped-def]
    """Store the files in the client's slot as an upload would."""
    upload = CertificateUpload(
        certificate=UploadedFile("cert.pem", pem(files.certificate)),
        private_key=UploadedFile("key.pem", key_pem(files.key, files.password)),
        password=files.password,
    )
    return credential_upload(
        office=client.office, client=client, kind=kind, upload=upload, actor=None
    ).credential


@pytest.fixture
def renewing_office(office):  # type: ignore[no-untyped-def]
    RenewalSettings.objects.create(office=office, enabled_by_default=True)
    return office


@pytest.fixture
def due_client(sim, renewing_office, client_company):  # type: ignore[no-untyped-def]
    """A client whose authentication certificate (simulator CA) ends in 10 days."""
    files = issue(sim.state, client_company.nip)
    credential = store(client_company, files)
    return client_company, credential, files
