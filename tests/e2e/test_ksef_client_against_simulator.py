"""Our `ksef/` client and session against the KSeF simulator over HTTP (no mocks).

Every test drives the real protocol — challenge, XAdES or encrypted token, status polling,
redeem, refresh, encrypted sessions and exports — through `KsefClient` and `authenticate()`,
while the simulator holds every exchange to the official contract (see conftest.py).
Simulated time moves only through the client's injected `sleep` or `sim_state.clock`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from ksef import fa3
from ksef.certificates import PrivateKey, build_csr, generate_private_key
from ksef.client import KsefClient
from ksef.crypto import (
    SYMMETRIC_KEY_ENCRYPTION,
    PublicKeyCertificate,
    select_public_key_certificate,
)
from ksef.errors import (
    AuthenticationFailed,
    ForbiddenError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
)
from ksef.identifiers import is_valid_ksef_number
from ksef.models import (
    DateType,
    Identifier,
    InvoiceQueryFilters,
    KsefTokenPermission,
    KsefTokenStatus,
    PersonSubjectDetails,
    SecretStr,
    SubjectType,
)
from ksef.schemas import schema_dir
from ksef.session import KsefSession, authenticate
from ksef_simulator import SimulatorConfig
from ksef_simulator.state import State
from tests.conftest import KSEF_DATA_DIR
from tests.e2e.conftest import SimulatedSleep
from tests.ksef.keys import make_certificate, make_ec_key, make_nip, make_pesel, make_rsa_key
from tests.ksef_simulator.helpers import add_person

JWT_SECRET = b"test-secret-test-secret-test-sec"
SAMPLE = "mf-fa3-example-01.xml"
SAMPLE_SELLER = "9999999999"  # Podmiot1/NIP of the Ministry's example (valid checksum)
SAMPLE_NUMBER = "FV2026/02/150"


# -- helpers ------------------------------------------------------------------------------------


@dataclass
class Login:
    """A credential (certificate + key) and the context it logs into."""

    certificate: x509.Certificate
    key: PrivateKey
    context_nip: str


def seal(nip: str, key: PrivateKey | None = None) -> Login:
    """A self-signed company seal (organizationIdentifier VATPL-<nip>): the NIP's owner."""
    key = key or make_ec_key()
    certificate = make_certificate(
        key, nip=nip, organization=True, organization_name=f"Firma {nip}"
    )
    return Login(certificate, key, nip)


def person(pesel: str, context_nip: str, key: PrivateKey | None = None) -> Login:
    """A self-signed personal certificate (serialNumber PNOPL-<pesel>)."""
    key = key or make_ec_key()
    return Login(make_certificate(key, pesel=pesel), key, context_nip)


def log_in(
    ksef_client: KsefClient, state: State, sleep: SimulatedSleep, login: Login
) -> KsefSession:
    return authenticate(
        ksef_client,
        context_type="Nip",
        context_value=login.context_nip,
        certificate=login.certificate,
        private_key=login.key,
        now=state.now,
        sleep=sleep,
    )


def token_log_in(
    ksef_client: KsefClient, state: State, sleep: SimulatedSleep, nip: str, token: SecretStr
) -> KsefSession:
    return authenticate(
        ksef_client,
        context_type="Nip",
        context_value=nip,
        ksef_token=token,
        now=state.now,
        sleep=sleep,
    )


def session_key(ksef_client: KsefClient, state: State) -> PublicKeyCertificate:
    return select_public_key_certificate(
        ksef_client.get_public_key_certificates(), SYMMETRIC_KEY_ENCRYPTION, state.now()
    )


def sample_invoice(number: str | None = None) -> bytes:
    """The Ministry's example 1, byte-for-byte; with NUMBER, only P_2 is replaced."""
    xml = (KSEF_DATA_DIR / "samples" / "invoices" / SAMPLE).read_bytes()
    if number is None:
        return xml
    old = f"<P_2>{SAMPLE_NUMBER}</P_2>".encode()
    assert xml.count(old) == 1
    return xml.replace(old, f"<P_2>{number}</P_2>".encode())


def send_invoices(
    ksef_client: KsefClient, state: State, session: KsefSession, invoices: list[bytes]
) -> list[str]:
    """Send INVOICES in one online session, a second apart; return their KSeF numbers."""
    online = session.call(
        ksef_client.open_online_session, public_key=session_key(ksef_client, state)
    )
    sent = []
    for xml in invoices:
        sent.append(session.call(ksef_client.send_invoice, online, xml))
        state.clock.advance(1)
    session.call(ksef_client.close_online_session, online.reference_number)
    numbers = []
    for invoice in sent:
        status = session.call(
            ksef_client.get_session_invoice_status,
            online.reference_number,
            invoice.reference_number,
        )
        assert status.status.code == 200, status.status
        assert status.ksef_number is not None
        numbers.append(status.ksef_number)
    return numbers


def stored_today(
    state: State, subject_type: SubjectType = SubjectType.SELLER
) -> InvoiceQueryFilters:
    return InvoiceQueryFilters(
        subject_type=subject_type,
        date_from=state.now() - timedelta(hours=1),
        date_type=DateType.PERMANENT_STORAGE,
    )


def fast(**overrides: object) -> SimulatorConfig:
    return SimulatorConfig(profile="fast", jwt_secret=JWT_SECRET, **overrides)  # type: ignore[arg-type]


# -- 1. authentication, refresh, re-authentication ------------------------------------------------


class TestAuthentication:
    @pytest.mark.parametrize("make_key", [make_rsa_key, make_ec_key], ids=["RSA-2048", "EC-P256"])
    def test_a_company_seal_logs_in_with_xades_and_its_token_opens_the_context(
        self, ksef_client, sim_state, sim_sleep, make_key
    ):
        nip = make_nip(101)
        session = log_in(ksef_client, sim_state, sim_sleep, seal(nip, make_key()))

        limits = session.call(ksef_client.get_context_limits)

        assert limits.online_session.max_invoices > 0
        assert session.context == f"Nip:{nip}"

    @pytest.mark.parametrize("make_key", [make_rsa_key, make_ec_key], ids=["RSA-2048", "EC-P256"])
    def test_a_person_logs_in_with_a_pesel_certificate_into_the_nip_linked_to_it(
        self, ksef_client, sim, sim_state, sim_sleep, make_key
    ):
        nip, pesel = make_nip(102), make_pesel(102)
        add_person(sim, nip, pesel)

        session = log_in(ksef_client, sim_state, sim_sleep, person(pesel, nip, make_key()))

        assert session.call(ksef_client.get_context_limits).online_session.max_invoices > 0

    def test_a_ksef_token_made_by_the_owner_logs_in_with_its_permissions_only(
        self, ksef_client, sim_state, sim_sleep
    ):
        nip = make_nip(103)
        owner = log_in(ksef_client, sim_state, sim_sleep, seal(nip))
        created = owner.call(
            ksef_client.generate_ksef_token,
            permissions=[KsefTokenPermission.INVOICE_READ],
            description="Token e2e",
        )

        session = token_log_in(ksef_client, sim_state, sim_sleep, nip, created.token)

        page = session.call(ksef_client.query_invoice_metadata, stored_today(sim_state))
        assert page.invoices == ()
        with pytest.raises(ForbiddenError) as refused:
            session.call(
                ksef_client.open_online_session, public_key=session_key(ksef_client, sim_state)
            )
        assert refused.value.reason_code == "missing-permissions"

    def test_an_expired_access_token_is_refreshed_without_a_new_login(
        self, ksef_client, sim_state, sim_sleep
    ):
        session = log_in(ksef_client, sim_state, sim_sleep, seal(make_nip(104)))
        first_token = session.access_token()
        logins = len(sim_state.auth_operations)

        sim_state.clock.advance(16 * 60)  # access tokens live 15 minutes

        with pytest.raises(UnauthorizedError):
            ksef_client.get_context_limits(first_token)
        assert session.call(ksef_client.get_context_limits).online_session.max_invoices > 0
        assert session.access_token() != first_token
        assert len(sim_state.auth_operations) == logins

    def test_a_session_whose_refresh_token_was_revoked_logs_in_again_with_its_certificate(
        self, ksef_client, sim_state, sim_sleep
    ):
        session = log_in(ksef_client, sim_state, sim_sleep, seal(make_nip(105)))
        current = next(
            item for item in session.call(ksef_client.list_auth_sessions).items if item.is_current
        )
        session.call(ksef_client.revoke_auth_session, current.reference_number)
        logins = len(sim_state.auth_operations)

        sim_state.clock.advance(16 * 60)

        assert session.call(ksef_client.get_context_limits).online_session.max_invoices > 0
        assert len(sim_state.auth_operations) == logins + 1

    def test_a_session_logs_in_again_once_the_refresh_token_expired(
        self, ksef_client, sim_state, sim_sleep
    ):
        session = log_in(ksef_client, sim_state, sim_sleep, seal(make_nip(106)))
        logins = len(sim_state.auth_operations)

        sim_state.clock.advance(8 * 24 * 3600)  # refresh tokens live 7 days

        assert session.call(ksef_client.get_context_limits).online_session.max_invoices > 0
        assert len(sim_state.auth_operations) == logins + 1
        assert session.refresh_valid_until is not None
        assert session.refresh_valid_until > sim_state.now() + timedelta(days=6)


class TestKsefTokens:
    @pytest.fixture
    def simulator_config(self) -> SimulatorConfig:
        # A new token stays Pending for a minute of simulated time before it is Active.
        return fast(token_activation_seconds=60)

    def test_a_token_becomes_active_logs_in_and_after_revocation_is_refused_with_450(
        self, ksef_client, sim_state, sim_sleep
    ):
        nip = make_nip(801)
        owner = log_in(ksef_client, sim_state, sim_sleep, seal(nip))

        created = owner.call(
            ksef_client.generate_ksef_token,
            permissions=[KsefTokenPermission.INVOICE_READ, KsefTokenPermission.INVOICE_WRITE],
            description="Biuro: synchronizacja faktur",
        )
        pending = owner.call(ksef_client.get_ksef_token, created.reference_number)
        assert pending.status == KsefTokenStatus.PENDING
        with pytest.raises(AuthenticationFailed) as too_early:
            token_log_in(ksef_client, sim_state, sim_sleep, nip, created.token)
        assert too_early.value.code == 450

        sim_state.clock.advance(61)
        active = owner.call(ksef_client.get_ksef_token, created.reference_number)
        assert active.is_active
        assert active.context_identifier == Identifier("Nip", nip)
        assert set(active.requested_permissions) == {"InvoiceRead", "InvoiceWrite"}
        by_token = token_log_in(ksef_client, sim_state, sim_sleep, nip, created.token)
        page = by_token.call(ksef_client.query_invoice_metadata, stored_today(sim_state))
        assert page.invoices == () and not page.has_more
        last_used = owner.call(ksef_client.get_ksef_token, created.reference_number)
        assert last_used.last_use_date is not None

        owner.call(ksef_client.revoke_ksef_token, created.reference_number)

        revoked = owner.call(ksef_client.get_ksef_token, created.reference_number)
        assert revoked.status == KsefTokenStatus.REVOKED
        with pytest.raises(AuthenticationFailed) as refused:
            token_log_in(ksef_client, sim_state, sim_sleep, nip, created.token)
        assert refused.value.code == 450

    def test_the_owner_pages_through_its_tokens_and_filters_them_by_status(
        self, ksef_client, sim_state, sim_sleep
    ):
        owner = log_in(ksef_client, sim_state, sim_sleep, seal(make_nip(802)))
        references = []
        for n in range(12):
            created = owner.call(
                ksef_client.generate_ksef_token,
                permissions=["InvoiceRead"],
                description=f"Token numer {n:02d}",
            )
            references.append(created.reference_number)
            sim_state.clock.advance(1)
        owner.call(ksef_client.revoke_ksef_token, references[0])

        every = list(owner.call(ksef_client.iter_ksef_tokens, page_size=10))
        revoked = list(owner.call(ksef_client.iter_ksef_tokens, statuses=[KsefTokenStatus.REVOKED]))
        first_page = owner.call(ksef_client.list_ksef_tokens, page_size=10)

        assert [t.reference_number for t in every] == references[::-1]  # newest first
        assert [t.reference_number for t in revoked] == [references[0]]
        assert len(first_page.tokens) == 10 and first_page.continuation_token is not None


# -- 2. permissions ------------------------------------------------------------------------------


class TestPermissions:
    def _wait_for(self, ksef_client: KsefClient, owner: KsefSession, reference: str) -> int:
        return owner.call(ksef_client.get_permission_operation_status, reference).code

    def test_a_person_granted_invoice_rights_by_pesel_can_log_in_and_read_invoices(
        self, ksef_client, sim_state, sim_sleep
    ):
        client_nip, pesel = make_nip(201), make_pesel(201)
        owner = log_in(ksef_client, sim_state, sim_sleep, seal(client_nip))
        accountant = person(pesel, client_nip)

        with pytest.raises(AuthenticationFailed) as before:
            log_in(ksef_client, sim_state, sim_sleep, accountant)
        assert before.value.code == 415

        reference = owner.call(
            ksef_client.grant_person_permissions,
            subject=Identifier("Pesel", pesel),
            permissions=["InvoiceRead", "InvoiceWrite"],
            description="Księgowa z biura",
            subject_details=PersonSubjectDetails.by_identifier("Jan", "Kowalski"),
        )
        assert self._wait_for(ksef_client, owner, reference) == 200

        granted = log_in(ksef_client, sim_state, sim_sleep, accountant)
        page = granted.call(ksef_client.query_invoice_metadata, stored_today(sim_state))
        assert page.invoices == ()
        grants = owner.call(
            ksef_client.query_person_grants, authorized=Identifier("Pesel", pesel)
        ).items
        assert {g.scope for g in grants} == {"InvoiceRead", "InvoiceWrite"}
        assert {g.subject_name for g in grants} == {"Jan Kowalski"}

        for grant in grants:
            revoked = owner.call(ksef_client.revoke_permission, grant.id)
            assert self._wait_for(ksef_client, owner, revoked) == 200
        with pytest.raises(AuthenticationFailed) as after:
            log_in(ksef_client, sim_state, sim_sleep, accountant)
        assert after.value.code == 415

    def test_an_office_granted_delegable_rights_by_nip_logs_into_its_client_with_its_seal(
        self, ksef_client, sim_state, sim_sleep
    ):
        client_nip, office_nip = make_nip(202), make_nip(203)
        owner = log_in(ksef_client, sim_state, sim_sleep, seal(client_nip))
        office_seal = seal(office_nip)
        office_in_client = Login(office_seal.certificate, office_seal.key, client_nip)

        with pytest.raises(AuthenticationFailed) as before:
            log_in(ksef_client, sim_state, sim_sleep, office_in_client)
        assert before.value.code == 415

        reference = owner.call(
            ksef_client.grant_entity_permissions,
            nip=office_nip,
            permissions={"InvoiceRead": True, "InvoiceWrite": False},
            description="Biuro rachunkowe",
            full_name="Biuro Rachunkowe Bilans sp. z o.o.",
        )
        assert self._wait_for(ksef_client, owner, reference) == 200

        in_client = log_in(ksef_client, sim_state, sim_sleep, office_in_client)
        assert (
            in_client.call(ksef_client.query_invoice_metadata, stored_today(sim_state)).invoices
            == ()
        )
        office = log_in(ksef_client, sim_state, sim_sleep, office_seal)
        received = office.call(ksef_client.query_entity_grants).items
        assert {(g.context_identifier, g.scope, g.can_delegate) for g in received} == {
            (Identifier("Nip", client_nip), "InvoiceRead", True),
            (Identifier("Nip", client_nip), "InvoiceWrite", False),
        }

        for grant in received:
            revoked = owner.call(ksef_client.revoke_permission, grant.id)
            assert self._wait_for(ksef_client, owner, revoked) == 200
        with pytest.raises(AuthenticationFailed) as after:
            log_in(ksef_client, sim_state, sim_sleep, office_in_client)
        assert after.value.code == 415


# -- 3. KSeF certificates -------------------------------------------------------------------------


class TestCertificateEnrollment:
    @pytest.mark.parametrize("kind", ["rsa", "ec"])
    def test_a_certificate_enrolled_from_our_csr_logs_in_until_it_is_revoked(
        self, ksef_client, sim_state, sim_sleep, kind
    ):
        nip = make_nip(301)
        owner = log_in(ksef_client, sim_state, sim_sleep, seal(nip))
        data = owner.call(ksef_client.get_certificate_enrollment_data)
        new_key = generate_private_key(kind)
        csr_pem = build_csr(new_key, data.to_json())
        csr_der = x509.load_pem_x509_csr(csr_pem).public_bytes(serialization.Encoding.DER)

        enrollment = owner.call(
            ksef_client.enroll_certificate,
            name="Biuro - logowanie",
            certificate_type="Authentication",
            csr_der=csr_der,
        )
        status = owner.call(
            ksef_client.get_certificate_enrollment_status, enrollment.reference_number
        )
        assert status.status.code == 200, status.status
        assert status.certificate_serial_number is not None
        (retrieved,) = owner.call(
            ksef_client.retrieve_certificates, [status.certificate_serial_number]
        )
        issued = x509.load_der_x509_certificate(retrieved.certificate_der)
        assert issued.subject == x509.load_pem_x509_csr(csr_pem).subject

        with_ksef_certificate = log_in(
            ksef_client, sim_state, sim_sleep, Login(issued, new_key, nip)
        )
        assert with_ksef_certificate.call(
            ksef_client.get_context_limits
        ).online_session.max_invoices

        owner.call(ksef_client.revoke_certificate, status.certificate_serial_number)
        with pytest.raises(AuthenticationFailed) as refused:
            log_in(ksef_client, sim_state, sim_sleep, Login(issued, new_key, nip))
        assert refused.value.code == 460


# -- 4. online session, UPO, download ------------------------------------------------------------


@pytest.fixture(scope="module")
def upo_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(schema_dir("upo") / "upo-v4-3.xsd")))


class TestOnlineSession:
    def test_an_official_sample_invoice_gets_a_ksef_number_a_valid_upo_and_comes_back_unchanged(
        self, ksef_client, sim_state, sim_sleep, upo_schema
    ):
        xml = sample_invoice()
        assert fa3.validate(xml) == []
        owner = log_in(ksef_client, sim_state, sim_sleep, seal(SAMPLE_SELLER))

        online = owner.call(
            ksef_client.open_online_session, public_key=session_key(ksef_client, sim_state)
        )
        sent = owner.call(ksef_client.send_invoice, online, xml)
        owner.call(ksef_client.close_online_session, online.reference_number)

        session_status = owner.call(ksef_client.get_session_status, online.reference_number)
        assert session_status.status.code == 200
        assert session_status.successful_invoice_count == 1
        status = owner.call(
            ksef_client.get_session_invoice_status, online.reference_number, sent.reference_number
        )
        assert status.status.code == 200, status.status
        assert status.ksef_number is not None
        assert is_valid_ksef_number(status.ksef_number)
        assert status.ksef_number.startswith(f"{SAMPLE_SELLER}-")

        upo = owner.call(
            ksef_client.download_invoice_upo, online.reference_number, sent.reference_number
        )
        document = etree.fromstring(upo.content)
        upo_schema.assertValid(document)
        assert status.ksef_number.encode() in upo.content
        assert sent.invoice_hash.encode() in upo.content

        downloaded = owner.call(ksef_client.download_invoice, status.ksef_number)
        assert downloaded.content == xml
        assert downloaded.sha256_b64 == sent.invoice_hash
        assert fa3.parse(downloaded.content).number == SAMPLE_NUMBER


# -- 5. metadata paging and truncation ----------------------------------------------------------


class TestMetadataQuery:
    @pytest.fixture
    def simulator_config(self) -> SimulatorConfig:
        # KSeF truncates a filter set at 10,000 rows; 12 lets 25 invoices meet it twice.
        return fast(metadata_row_cap=12)

    def test_iterating_a_truncated_query_yields_every_invoice_exactly_once(
        self, ksef_client, sim_state, sim_sleep
    ):
        owner = log_in(ksef_client, sim_state, sim_sleep, seal(SAMPLE_SELLER))
        filters = stored_today(sim_state)
        invoices = [sample_invoice(f"FV2026/02/{n:03d}") for n in range(1, 26)]
        assert fa3.validate(invoices[0]) == []
        numbers = send_invoices(ksef_client, sim_state, owner, invoices)

        first = owner.call(ksef_client.query_invoice_metadata, filters, page_size=10, page_offset=1)
        assert first.is_truncated and first.has_more
        found = [
            m.ksef_number
            for m in owner.call(ksef_client.iter_invoice_metadata, filters, page_size=10)
        ]

        assert sorted(found) == sorted(numbers)
        assert len(found) == len(set(found)) == 25


# -- 6. export -----------------------------------------------------------------------------------


class TestExport:
    @pytest.fixture
    def simulator_config(self) -> SimulatorConfig:
        # The package needs 5 simulated seconds and comes in parts of 4 kB.
        return fast(export_processing_seconds=5, export_part_bytes=4096)

    def test_an_export_decrypts_to_the_exact_invoices_sent_and_their_metadata(
        self, ksef_client, sim_state, sim_sleep
    ):
        owner = log_in(ksef_client, sim_state, sim_sleep, seal(SAMPLE_SELLER))
        invoices = [sample_invoice(f"FV2026/03/{n:03d}") for n in range(1, 6)]
        numbers = send_invoices(ksef_client, sim_state, owner, invoices)

        export = owner.call(
            ksef_client.start_invoice_export,
            stored_today(sim_state),
            public_key=session_key(ksef_client, sim_state),
        )
        package = owner.call(ksef_client.wait_for_invoice_export, export.reference_number)
        downloaded = ksef_client.download_export_package(package, export.encryption)

        assert len(package.parts) > 1
        assert sim_sleep.waits  # it polled while the export was in progress
        assert downloaded.invoices() == dict(zip(numbers, invoices, strict=True))
        assert {m.ksef_number: m.invoice_number for m in downloaded.metadata} == {
            number: f"FV2026/03/{n:03d}" for n, number in enumerate(numbers, start=1)
        }


# -- 7. rate limits and server errors ------------------------------------------------------------


class TestRateLimitsAndServerErrors:
    @pytest.fixture
    def simulator_config(self) -> SimulatorConfig:
        return SimulatorConfig(profile="production", jwt_secret=JWT_SECRET)

    @pytest.fixture
    def owner(self, ksef_client, sim_state, sim_sleep) -> Iterator[KsefSession]:
        session = log_in(ksef_client, sim_state, sim_sleep, seal(make_nip(701)))
        sim_state.clock.freeze()  # every request below lands in the same simulated second
        sim_sleep.waits.clear()
        yield session

    def test_the_client_waits_out_retry_after_and_every_query_succeeds(
        self, ksef_client, sim_state, sim_sleep, owner
    ):
        filters = stored_today(sim_state)
        started = sim_state.now()

        pages = [owner.call(ksef_client.query_invoice_metadata, filters) for _ in range(12)]

        # invoiceMetadata allows 8 per second on production: the 9th waited for Retry-After.
        assert len(pages) == 12
        assert sim_sleep.waits and all(wait >= 1 for wait in sim_sleep.waits)
        assert sim_state.now() - started == timedelta(seconds=sum(sim_sleep.waits))

    def test_a_rate_limit_longer_than_the_client_accepts_is_raised_with_retry_after(
        self, ksef_client, sim_state, sim_sleep, owner
    ):
        filters = stored_today(sim_state)
        for _ in range(20):  # 20 per hour on production
            owner.call(ksef_client.query_invoice_metadata, filters)

        with pytest.raises(RateLimitedError) as limited:
            owner.call(ksef_client.query_invoice_metadata, filters)

        assert limited.value.retry_after is not None
        assert limited.value.retry_after > ksef_client.max_retry_after

    def test_a_server_error_on_a_get_is_retried_after_a_backoff(
        self, ksef_client, sim_state, sim_sleep, owner
    ):
        sim_state.faults.update({"error_rate": 1.0, "error_status": 503})
        sim_sleep.then = sim_state.faults.reset  # the outage ends during the first backoff

        limits = owner.call(ksef_client.get_context_limits)

        assert limits.online_session.max_invoices > 0
        assert len(sim_sleep.waits) == 1  # one backoff, then the retry succeeded

    def test_a_server_error_on_opening_a_session_is_not_resent(
        self, ksef_client, sim_state, sim_sleep, owner
    ):
        public_key = session_key(ksef_client, sim_state)
        sim_state.faults.update({"error_rate": 1.0, "error_status": 503})
        sim_sleep.then = sim_state.faults.reset

        with pytest.raises(ServerError):
            owner.call(ksef_client.open_online_session, public_key=public_key)

        assert sim_sleep.waits == []
        assert sim_state.sessions == {}
