"""The KSeF simulator's side of the demo office (called by `manage.py seed_demo`).

Makes every flow of the portal clickable on a laptop without Ministry credentials:

* the office gets its own authentication certificate (office model);
* about half of the clients whose ZAW-FA step is done use the client-credential model:
  a demo authentication certificate each, expiring in 5, 20, 45, 80 and 300 days (so the
  expiry dashboard and the reminders have something to show), and one a KSeF token that
  the simulator issued after an XAdES login as the client;
* the other half use the office model; some of them granted the office delegable
  `InvoiceRead`/`InvoiceWrite` entity permissions in the simulator (the portal has already
  discovered two of them; "Sprawdź teraz" discovers the third);
* the simulator knows the JDG owners and the ZAW-FA persons (`/testdata/person`,
  `/testdata/permissions`) and holds a few FA(3) invoices sent by the active clients.

What the portal stores goes through `certificates.services.credential_upload`, so it is
validated, encrypted and written to the custody log like a real upload. Private keys live
only in this process and in that encrypted store; the simulator sees public certificates.
Actions in the simulator are made "as the client" with a throwaway certificate of the
client's own (a real client would use their seal or Profil Zaufany for them), which the
portal never stores.

Every step looks before it writes, so running it again changes nothing; a simulator that
lost its state (e.g. `var/ksef_simulator.state` deleted) is filled again.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from certificates import connection
from certificates.connection import client_credential_for, office_credential_for
from certificates.models import Credential
from certificates.services import client_access_model_set, credential_upload
from certificates.validation import CertificateUpload, Consent, UploadedFile
from clients.models import AccessModel, Client, LegalForm, Prerequisite
from grants.models import GrantsCheck, PermissionGrant
from grants.verification import grants_verify_client
from ksef.certificates import PrivateKey, generate_private_key
from ksef.client import KsefClient
from ksef.crypto import SYMMETRIC_KEY_ENCRYPTION, select_public_key_certificate
from ksef.models import DateType, InvoiceQueryFilters, SubjectType
from ksef.session import KsefSession, authenticate
from portal.models import Office

logger = logging.getLogger(__name__)

ACTOR_LABEL = "seed_demo (dane demonstracyjne)"
CERTIFICATE_EXPIRY_DAYS = (5, 20, 45, 80, 300)
OFFICE_CERTIFICATE_DAYS = 200
# The clients with their own certificates whose offline certificate (type 2) is stored too,
# so the demo can issue invoices offline with KOD II: those with the longest-lived ones.
OFFLINE_CERTIFICATE_CLIENTS = 2
OFFLINE_CERTIFICATE_DAYS = 365
# Of the office-model clients, this many grant the office entity permissions in KSeF,
# and the portal has already discovered all but the last of them.
OFFICE_GRANTERS = 3
INVOICES_PER_CLIENT = 3
ENTITY_PERMISSIONS = {"InvoiceRead": True, "InvoiceWrite": True}
TOKEN_PERMISSIONS = ["InvoiceRead", "InvoiceWrite"]
ORGANIZATION_IDENTIFIER = x509.ObjectIdentifier("2.5.4.97")
TIMEOUT_SECONDS = 20.0
POLL_INTERVAL_SECONDS = 0.2


class SimulatorUnavailable(Exception):
    """The simulator did not answer at settings.KSEF_BASE_URL."""


@dataclass
class Report:
    certificates: int = 0
    tokens: int = 0
    office_model: int = 0
    entity_grants: int = 0
    invoices: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    certificate_days: dict[int, int]  # client pk -> days until its certificate expires
    token_client: int | None
    office_model: list[int]
    granters: list[int]


# --- plan --------------------------------------------------------------------------------


def plan_for(clients: list[Client]) -> Plan:
    """Every other client whose ZAW-FA step is done uses its own credential; the rest the
    office model. Deterministic (client creation order) so a re-run makes the same choice."""
    ready = [c for c in clients if _prerequisite_met(c)]
    own, office_model = ready[0::2], ready[1::2]
    certificate_days = {c.pk: days for c, days in zip(own, CERTIFICATE_EXPIRY_DAYS, strict=False)}
    token = own[len(CERTIFICATE_EXPIRY_DAYS)] if len(own) > len(CERTIFICATE_EXPIRY_DAYS) else None
    return Plan(
        certificate_days=certificate_days,
        token_client=token.pk if token else None,
        office_model=[c.pk for c in office_model],
        granters=[c.pk for c in office_model[:OFFICE_GRANTERS]],
    )


def _prerequisite_met(client: Client) -> bool:
    prerequisite = getattr(client, "prerequisite", None)
    return prerequisite is not None and prerequisite.unlocks_credentials


# --- certificates made here --------------------------------------------------------------


@dataclass(frozen=True)
class DemoCertificate:
    certificate: x509.Certificate
    key: PrivateKey

    def upload(self, stem: str = "uwierzytelnienie") -> CertificateUpload:
        """The pair as the upload form would receive it (in memory only)."""
        certificate_pem = self.certificate.public_bytes(serialization.Encoding.PEM)
        key_pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return CertificateUpload(
            certificate=UploadedFile(f"{stem}.crt", certificate_pem),
            private_key=UploadedFile(f"{stem}.key", key_pem),
        )


def demo_certificate(
    *,
    nip: str,
    name: str,
    personal: bool,
    days: int,
    pesel: str | None = None,
    offline: bool = False,
) -> DemoCertificate:
    """A self-signed KSeF authentication certificate, accepted as on KSeF TEST; with
    `offline` the client's offline certificate (type 2: CN suffix "(offline)", key usage
    nonRepudiation only), which signs KOD II of invoices issued offline.

    A company gets a seal (organizationIdentifier VATPL-<NIP>); a sole proprietor a
    personal certificate with serialNumber PNOPL-<PESEL> when the owner's PESEL is given
    (what a certificate generated after a Profil Zaufany login carries; the portal accepts
    it for the owner recorded in the ZAW-FA step), else TINPL-<NIP>.
    """
    key = generate_private_key("ec")
    # X.509 caps a CN at 64 characters; the KSeF type suffix must survive the cut.
    short_name = name[:40].rstrip()
    suffix = "(offline)" if offline else "(uwierzytelnienie)"
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, f"{short_name} {suffix}")]
    if personal:
        first, last = _person_name(name)
        attributes += [
            x509.NameAttribute(NameOID.GIVEN_NAME, first),
            x509.NameAttribute(NameOID.SURNAME, last),
            x509.NameAttribute(
                NameOID.SERIAL_NUMBER, f"PNOPL-{pesel}" if pesel else f"TINPL-{nip}"
            ),
        ]
    else:
        attributes += [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name[:64]),
            x509.NameAttribute(ORGANIZATION_IDENTIFIER, f"VATPL-{nip}"),
        ]
    attributes.append(x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"))
    subject = x509.Name(attributes)
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(
            x509.KeyUsage(
                digital_signature=not offline,
                content_commitment=offline,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return DemoCertificate(certificate, key)


def _person_name(business_name: str) -> tuple[str, str]:
    """A JDG is named after its owner: "Jan Kowalski Usługi Remontowe" -> Jan, Kowalski."""
    words = business_name.split()
    return words[0], words[1] if len(words) > 1 else words[0]


# --- HTTP -----------------------------------------------------------------------------------


def _http() -> httpx.Client:
    # The gateway's transport: None in the demo (real HTTP), the simulator's app in tests.
    return httpx.Client(transport=connection.transport(), timeout=TIMEOUT_SECONDS)


def simulator_ping(http: httpx.Client) -> None:
    try:
        response = http.post(settings.KSEF_BASE_URL.rstrip("/") + "/auth/challenge")
    except httpx.HTTPError as exc:
        raise SimulatorUnavailable(f"{settings.KSEF_BASE_URL}: {exc}") from None
    if response.status_code >= 400:
        raise SimulatorUnavailable(f"{settings.KSEF_BASE_URL}: HTTP {response.status_code}")


def _testdata(http: httpx.Client, path: str, body: dict[str, Any]) -> None:
    """POST /testdata/...; "already exists" (30001) counts as done."""
    response = http.post(settings.KSEF_BASE_URL.rstrip("/") + path, json=body)
    if response.status_code == 400 and "30001" in response.text:
        return
    response.raise_for_status()


@dataclass
class OwnerSession:
    http: httpx.Client
    ksef: KsefClient
    session: KsefSession

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """A call the `ksef` library does not wrap (POST /tokens), with the access token."""
        return self.http.post(self._url(path), json=body, headers=self._headers())

    def get(self, path: str) -> httpx.Response:
        return self.http.get(self._url(path), headers=self._headers())

    def _url(self, path: str) -> str:
        return settings.KSEF_BASE_URL.rstrip("/") + path

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session.access_token()}"}


@contextmanager
def _owner_session(nip: str, owner: DemoCertificate) -> Iterator[OwnerSession]:
    """Logged in as the owner of NIP's context, with the client's own certificate (which
    a real client keeps to themselves: the portal never stores it)."""
    with _http() as http, KsefClient(settings.KSEF_BASE_URL, http=http) as ksef:
        session = authenticate(
            ksef,
            context_type="Nip",
            context_value=nip,
            certificate=owner.certificate,
            private_key=owner.key,
            poll_interval=POLL_INTERVAL_SECONDS,
            poll_timeout=30.0,
        )
        yield OwnerSession(http, ksef, session)


# --- the seeding -------------------------------------------------------------------------


def seed_simulator(*, office: Office, admin: User, persons: dict[str, str]) -> Report:
    """Fill the simulator and the portal's credentials for the demo office (idempotent).

    `persons` maps a client NIP to the PESEL of the person the simulator should know for
    it: a JDG owner (linked like /testdata/person) or the ZAW-FA person (CredentialsManage
    in the client's context, as the tax office's registration gives).
    """
    report = Report()
    clients = list(office.clients.select_related("prerequisite", "office").order_by("pk"))
    by_pk = {c.pk: c for c in clients}
    plan = plan_for(clients)
    with _http() as http:
        simulator_ping(http)
        _register_people(http, office, clients, persons)
    _office_certificate(office, report)
    for pk, days in plan.certificate_days.items():
        _set_access_model(by_pk[pk], admin, AccessModel.CLIENT_CREDENTIAL)
        _client_certificate(by_pk[pk], days, report)
    longest = sorted(plan.certificate_days, key=plan.certificate_days.__getitem__, reverse=True)
    for pk in longest[:OFFLINE_CERTIFICATE_CLIENTS]:
        _client_certificate(by_pk[pk], OFFLINE_CERTIFICATE_DAYS, report, offline=True)
    for pk in plan.office_model:
        _set_access_model(by_pk[pk], admin, AccessModel.OFFICE)
        report.office_model += 1
    if plan.token_client is not None:
        _set_access_model(by_pk[plan.token_client], admin, AccessModel.CLIENT_CREDENTIAL)
    jobs = _client_jobs(plan, by_pk)
    # One owner login per client; the logins wait for the simulator's asynchronous steps,
    # so they run side by side. Only HTTP happens in the threads — the database stays here.
    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(_act_as_client, jobs))
    for job, outcome in zip(jobs, outcomes, strict=True):
        report.entity_grants += outcome.granted
        report.invoices += outcome.invoices
        if outcome.token:
            _store_token(by_pk[job.client_pk], outcome.token)
            report.tokens += 1
    # The portal learns of all but the last grant now; the demo user finds that one with
    # "Sprawdź teraz".
    for pk in plan.granters[:-1]:
        _discover(by_pk[pk])
    return report


@dataclass(frozen=True)
class ClientJob:
    """What to do in the simulator as one client (plain values: it runs in a thread)."""

    client_pk: int
    nip: str
    name: str
    personal: bool
    office_nip: str
    office_name: str
    grant_office: bool = False
    token_reference: str | None = None  # the stored token to keep if the simulator knows it
    wants_token: bool = False
    buyer: tuple[str, str] | None = None  # (NIP, name) of the invoices' buyer


@dataclass
class ClientOutcome:
    granted: int = 0
    invoices: int = 0
    token: str = ""


def _client_jobs(plan: Plan, by_pk: dict[int, Client]) -> list[ClientJob]:
    sellers = [*plan.certificate_days, *plan.granters]
    if plan.token_client is not None:
        sellers.append(plan.token_client)
    jobs = []
    for index, pk in enumerate(sellers):
        client = by_pk[pk]
        buyer = by_pk[sellers[(index + 1) % len(sellers)]]
        stored_token = None
        if pk == plan.token_client:
            stored = Credential.objects.filter(
                client=client, kind=Credential.Kind.TOKEN, status=Credential.Status.ACTIVE
            ).first()
            stored_token = stored.token_reference if stored else None
        jobs.append(
            ClientJob(
                client_pk=pk,
                nip=client.nip,
                name=client.name,
                personal=client.legal_form == LegalForm.SOLE_PROPRIETORSHIP,
                office_nip=client.office.nip,
                office_name=client.office.name,
                grant_office=pk in plan.granters,
                token_reference=stored_token,
                wants_token=pk == plan.token_client,
                buyer=(buyer.nip, buyer.name) if buyer.pk != pk else None,
            )
        )
    return jobs


def _act_as_client(job: ClientJob) -> ClientOutcome:
    outcome = ClientOutcome()
    owner_key = demo_certificate(nip=job.nip, name=job.name, personal=job.personal, days=30)
    with _owner_session(job.nip, owner_key) as owner:
        if job.grant_office:
            outcome.granted = _grant_office(owner, job)
        if job.wants_token:
            outcome.token = _issue_token(owner, job)
        outcome.invoices = _send_invoices(owner, job)
    return outcome


def _register_people(
    http: httpx.Client, office: Office, clients: list[Client], persons: dict[str, str]
) -> None:
    for client in clients:
        pesel = persons.get(client.nip)
        if not pesel:
            continue
        if client.legal_form == LegalForm.SOLE_PROPRIETORSHIP:
            body = {
                "nip": client.nip,
                "pesel": pesel,
                "isBailiff": False,
                "description": f"Właściciel: {client.name}",
            }
            _testdata(http, "/testdata/person", body)
        else:
            _zaw_fa(http, client.nip, pesel, f"ZAW-FA: {client.name}")
    office_pesel = persons.get(office.nip)
    if office_pesel:
        _zaw_fa(http, office.nip, office_pesel, f"ZAW-FA: {office.name}")


def _zaw_fa(http: httpx.Client, nip: str, pesel: str, description: str) -> None:
    _testdata(
        http,
        "/testdata/permissions",
        {
            "contextIdentifier": {"type": "Nip", "value": nip},
            "authorizedIdentifier": {"type": "Pesel", "value": pesel},
            "permissions": [
                {"permissionType": "CredentialsManage", "description": description[:256]}
            ],
        },
    )


def _office_certificate(office: Office, report: Report) -> None:
    if office_credential_for(office) is not None:
        return
    demo = demo_certificate(
        nip=office.nip, name=office.name, personal=False, days=OFFICE_CERTIFICATE_DAYS
    )
    credential_upload(
        office=office,
        client=None,
        kind=Credential.Kind.AUTHENTICATION,
        upload=demo.upload(),
        actor=None,
        actor_label=ACTOR_LABEL,
        source=Credential.Source.DEMO,
    )
    report.certificates += 1


def _set_access_model(client: Client, admin: User, access_model: str) -> None:
    if client.access_model != access_model:
        client_access_model_set(actor=admin, client=client, access_model=access_model)


def _client_certificate(
    client: Client, days: int, report: Report, *, offline: bool = False
) -> None:
    kind = Credential.Kind.OFFLINE if offline else Credential.Kind.AUTHENTICATION
    if offline:
        if client.credentials.filter(kind=kind, status=Credential.Status.ACTIVE).exists():
            return
    elif client_credential_for(client) is not None:
        return
    personal = client.legal_form == LegalForm.SOLE_PROPRIETORSHIP
    prerequisite = Prerequisite.objects.filter(client=client).first()
    owner_pesel = (
        prerequisite.person_identifier
        if personal
        and prerequisite is not None
        and prerequisite.person_identifier_type == Prerequisite.IdentifierType.PESEL
        else None
    )
    demo = demo_certificate(
        nip=client.nip,
        name=client.name,
        personal=personal,
        days=days,
        pesel=owner_pesel,
        offline=offline,
    )
    consent = Consent()
    if personal:
        # A personal certificate may be kept only with its owner's recorded consent.
        consent = Consent(given_by=" ".join(_person_name(client.name)), given_on=timezone.now())
    credential_upload(
        office=client.office,
        client=client,
        kind=kind,
        upload=demo.upload("offline" if offline else "uwierzytelnienie"),
        consent=consent,
        actor=None,
        actor_label=ACTOR_LABEL,
        source=Credential.Source.DEMO,
    )
    report.certificates += 1


def _grant_office(owner: OwnerSession, job: ClientJob) -> int:
    """As the client: delegable entity permissions to the office, unless already there."""
    ksef, session = owner.ksef, owner.session
    present = session.call(ksef.query_person_grants, query_type="PermissionsInCurrentContext")
    office = ("Nip", job.office_nip)
    if any(
        g.authorized_identifier is not None
        and (g.authorized_identifier.type, g.authorized_identifier.value) == office
        for g in present.items
    ):
        return 0
    reference = session.call(
        ksef.grant_entity_permissions,
        nip=job.office_nip,
        permissions=ENTITY_PERMISSIONS,
        description=f"Obsługa księgowa: {job.office_name}",
        full_name=job.office_name,
    )
    _wait(lambda: session.call(ksef.get_permission_operation_status, reference).code)
    return 1


def _discover(client: Client) -> None:
    """What "Sprawdź teraz" does, run here so the portal already knows the grant."""
    if PermissionGrant.objects.filter(
        client=client, grantee_kind=PermissionGrant.GranteeKind.ENTITY
    ).exists():
        return
    check = GrantsCheck.objects.create(client=client, requested_by=None)
    grants_verify_client(check_id=check.pk)


def _wait(status: Callable[[], int], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while (code := status()) == 100:
        if time.monotonic() > deadline:
            raise SimulatorUnavailable("the simulator did not finish an operation in time")
        time.sleep(POLL_INTERVAL_SECONDS)
    if code != 200:
        raise SimulatorUnavailable(f"the simulator refused an operation (status {code})")


def _issue_token(owner: OwnerSession, job: ClientJob) -> str:
    """A new KSeF token in the client's context, unless the stored one is still known."""
    if job.token_reference:
        known = owner.get(f"/tokens/{job.token_reference}")
        if known.status_code == 200 and known.json().get("status") != "Revoked":
            return ""
    response = owner.post(
        "/tokens", {"permissions": TOKEN_PERMISSIONS, "description": "Portal biura (demo)"}
    )
    response.raise_for_status()
    return str(response.json()["token"])


def _store_token(client: Client, token: str) -> None:
    credential_upload(
        office=client.office,
        client=client,
        kind=Credential.Kind.TOKEN,
        token=token,
        actor=None,
        actor_label=ACTOR_LABEL,
        source=Credential.Source.DEMO,
    )


def _send_invoices(owner: OwnerSession, job: ClientJob) -> int:
    """A few FA(3) invoices sent online as the client, unless it already sent some."""
    from ksef_simulator.fa3gen import Fa3Generator, Party

    ksef, session = owner.ksef, owner.session
    filters = InvoiceQueryFilters(
        subject_type=SubjectType.SELLER,
        date_type=DateType.INVOICING,
        date_from=timezone.now() - datetime.timedelta(days=90),
    )
    if session.call(ksef.query_invoice_metadata, filters, page_size=10).invoices:
        return 0
    generator = Fa3Generator(int(job.nip))
    seller = Party(name=job.name, nip=job.nip)
    buyer = Party(name=job.buyer[1], nip=job.buyer[0]) if job.buyer else None
    public_key = select_public_key_certificate(
        ksef.get_public_key_certificates(), SYMMETRIC_KEY_ENCRYPTION
    )
    online = session.call(ksef.open_online_session, public_key=public_key)
    today = timezone.localdate()
    for number in range(1, INVOICES_PER_CLIENT + 1):
        issued = today - datetime.timedelta(days=7 * (INVOICES_PER_CLIENT - number))
        invoice = generator.invoice(
            "vat",
            seller=seller,
            # One invoice to a buyer outside the demo, so not every invoice is a purchase.
            buyer=buyer if number != 2 else None,
            issue_date=issued,
            number=f"FV/{issued:%Y/%m}/{number:04d}",
        )
        session.call(ksef.send_invoice, online, invoice.xml)
    session.call(ksef.close_online_session, online.reference_number)
    return INVOICES_PER_CLIENT
