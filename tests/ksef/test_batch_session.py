"""Batch sessions with our client: the package on disk, and end to end against the
simulator over HTTP — in-process (every /v2 request and response held to the official
contract by the e2e fixtures) and over a real loopback socket for the larger run."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree
from werkzeug.serving import make_server

from ksef.batch import (
    BatchPackage,
    BatchPartUploadError,
    BatchSessionFailed,
    build_batch_package,
)
from ksef.client import KsefClient
from ksef.crypto import (
    SYMMETRIC_KEY_ENCRYPTION,
    PublicKeyCertificate,
    aes_decrypt,
    aes_encrypt,
    aes_encrypt_stream,
    select_public_key_certificate,
    sha256_b64,
)
from ksef.identifiers import is_valid_ksef_number
from ksef.schemas import schema_dir
from ksef.session import KsefSession, authenticate
from ksef_simulator import SimulatorConfig, create_app
from ksef_simulator.state import State
from ksef_simulator.verification import assigned_ksef_numbers
from tests.conftest import KSEF_DATA_DIR
from tests.e2e.conftest import SimulatedSleep, ksef_client, ksef_http, sim_sleep
from tests.ksef.keys import make_certificate, make_ec_key
from tests.ksef_simulator.conftest import sim, sim_state, simulator_app, simulator_config

__all__ = [
    "ksef_client",
    "ksef_http",
    "sim",
    "sim_sleep",
    "sim_state",
    "simulator_app",
    "simulator_config",
]

SELLER = "9999999999"  # Podmiot1/NIP of the Ministry's example 1
SAMPLE_NUMBER = "FV2026/02/150"
UPO_NS = {"u": "http://upo.schematy.mf.gov.pl/KSeF/v4-3"}


def invoice(number: str, seller: str = SELLER) -> bytes:
    xml = (KSEF_DATA_DIR / "samples" / "invoices" / "mf-fa3-example-01.xml").read_bytes()
    xml = xml.replace(f"<P_2>{SAMPLE_NUMBER}</P_2>".encode(), f"<P_2>{number}</P_2>".encode())
    return xml.replace(f"<NIP>{SELLER}</NIP>".encode(), f"<NIP>{seller}</NIP>".encode(), 1)


def invoice_files(count: int, prefix: str = "B") -> list[tuple[str, bytes]]:
    return [(f"{prefix}-{n:04d}.xml", invoice(f"{prefix}/{n:04d}")) for n in range(1, count + 1)]


def upo_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(schema_dir("upo") / "upo-v4-3.xsd")))


def joined_plain(package: BatchPackage) -> bytes:
    key, iv = package.encryption.key, package.encryption.iv
    return b"".join(aes_decrypt(part.path.read_bytes(), key, iv) for part in package.parts)


# -- the package ------------------------------------------------------------------------


def test_streamed_encryption_equals_encrypting_the_whole_at_once() -> None:
    key, iv = b"k" * 32, b"i" * 16
    data = bytes(range(256)) * 1000

    streamed = b"".join(aes_encrypt_stream([data[:1000], data[1000:4097], data[4097:]], key, iv))

    assert streamed == aes_encrypt(data, key, iv)
    assert b"".join(aes_encrypt_stream([], key, iv)) == aes_encrypt(b"", key, iv)


def test_the_package_is_a_zip_cut_into_encrypted_parts_with_the_declared_sizes_and_hashes(
    tmp_path: Path,
) -> None:
    files = invoice_files(30)

    with build_batch_package(files, part_size=20_000, directory=tmp_path) as package:
        archive = joined_plain(package)
        assert len(package.parts) == -(-package.file_size // 20_000) > 1
        assert all(part.plain_size <= 20_000 for part in package.parts)
        assert (len(archive), sha256_b64(archive)) == (package.file_size, package.file_hash)
        for part in package.parts:
            content = part.path.read_bytes()
            assert (part.size, part.hash) == (len(content), sha256_b64(content))
        with zipfile.ZipFile(io.BytesIO(archive)) as unpacked:
            assert [(n, unpacked.read(n)) for n in unpacked.namelist()] == files
        assert package.invoice_hashes == {name: sha256_b64(xml) for name, xml in files}
        declared = package.batch_file_json()
        assert [p["ordinalNumber"] for p in declared["fileParts"]] == list(
            range(1, len(package.parts) + 1)
        )
        folder = package.directory
    assert not folder.exists()


def test_a_package_refuses_duplicate_names_empty_input_and_more_than_50_parts(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValueError, match="twice"):
        build_batch_package([("a.xml", b"1"), ("a.xml", b"2")], directory=tmp_path)
    with pytest.raises(ValueError, match="at least one"):
        build_batch_package([], directory=tmp_path)
    with pytest.raises(ValueError, match="at most 50"):
        build_batch_package(invoice_files(40), part_size=100, directory=tmp_path)
    assert list(tmp_path.iterdir()) == []


# -- end to end, in-process ---------------------------------------------------------------


def owner_session(client: KsefClient, state: State, sleep: Callable[[float], None]) -> KsefSession:
    key = make_ec_key()
    certificate = make_certificate(key, nip=SELLER, organization=True, organization_name="Firma")
    return authenticate(
        client,
        context_type="Nip",
        context_value=SELLER,
        certificate=certificate,
        private_key=key,
        now=state.now,
        sleep=sleep,
    )


def ministry_key(client: KsefClient, state: State) -> PublicKeyCertificate:
    return select_public_key_certificate(
        client.get_public_key_certificates(), SYMMETRIC_KEY_ENCRYPTION, state.now()
    )


class TestAgainstTheSimulator:
    @pytest.fixture
    def simulator_config(self) -> SimulatorConfig:
        return SimulatorConfig(
            profile="fast",
            jwt_secret=b"test-secret-test-secret-test-sec",
            batch_processing_seconds=20,
        )

    def test_fifty_invoices_in_three_parts_each_get_a_ksef_number_and_a_valid_upo(
        self,
        ksef_client: KsefClient,
        ksef_http: httpx.Client,
        sim_state: State,
        sim_sleep: SimulatedSleep,
        tmp_path: Path,
    ) -> None:
        owner = owner_session(ksef_client, sim_state, sim_sleep)
        files = invoice_files(50)
        size = len(zip_of(files))

        result = owner.call(
            ksef_client.send_invoice_batch,
            files,
            public_key=ministry_key(ksef_client, sim_state),
            part_size=-(-size // 3),
            directory=str(tmp_path),
            poll_interval=5,
            page_size=10,
        )

        assert result.status.status.code == 200
        assert len(result.accepted) == 50 and result.rejected == ()
        assert [i.invoice_file_name for i in result.invoices] == [name for name, _ in files]
        assert all(is_valid_ksef_number(i.ksef_number or "") for i in result.invoices)
        counts = assigned_ksef_numbers(sim_state)
        assert [counts[sha256_b64(xml)] for _, xml in files] == [1] * 50
        # Processing took simulated time: the client polled through status 150.
        assert 5 in sim_sleep.waits
        schema = upo_schema()
        for status in result.invoices[:3]:
            upo = owner.call(
                ksef_client.download_invoice_upo, result.reference_number, status.reference_number
            )
            document = etree.fromstring(upo.content)
            assert schema.validate(document), schema.error_log
            assert document.findtext("u:Dokument/u:NumerKSeFDokumentu", namespaces=UPO_NS) == (
                status.ksef_number
            )
        (page,) = result.status.upo_pages
        session_upo = owner.call(
            ksef_client.download_session_upo, result.reference_number, page.reference_number
        )
        assert schema.validate(etree.fromstring(session_upo.content))
        assert session_upo.content.count(b"<NumerKSeFDokumentu>") == 50
        assert list(tmp_path.iterdir()) == []

    def test_invoice_lists_are_paged_with_the_continuation_header(
        self,
        ksef_client: KsefClient,
        ksef_http: httpx.Client,
        sim_state: State,
        sim_sleep: SimulatedSleep,
    ) -> None:
        owner = owner_session(ksef_client, sim_state, sim_sleep)
        result = owner.call(
            ksef_client.send_invoice_batch,
            invoice_files(25),
            public_key=ministry_key(ksef_client, sim_state),
            poll_interval=5,
        )
        sent: list[httpx.Request] = []
        ksef_http.event_hooks["request"].append(sent.append)

        listed = list(
            owner.call(ksef_client.iter_session_invoices, result.reference_number, page_size=10)
        )

        assert [i.ordinal_number for i in listed] == list(range(1, 26))
        tokens = [r.headers.get("x-continuation-token") for r in sent]
        assert len(tokens) == 3 and tokens[0] is None and all(tokens[1:])

    def test_an_opened_batch_can_be_found_again_without_its_reference_number(
        self,
        ksef_client: KsefClient,
        ksef_http: httpx.Client,
        sim_state: State,
        sim_sleep: SimulatedSleep,
    ) -> None:
        owner = owner_session(ksef_client, sim_state, sim_sleep)
        opened_at = sim_state.now()
        with build_batch_package(invoice_files(1)) as package:
            batch = owner.call(
                ksef_client.open_batch_session,
                package,
                public_key=ministry_key(ksef_client, sim_state),
            )

        in_progress = owner.call(
            ksef_client.list_sessions,
            "Batch",
            statuses=["InProgress"],
            date_created_from=opened_at,
        )
        succeeded = owner.call(ksef_client.list_sessions, "Batch", statuses=["Succeeded"])
        online = owner.call(ksef_client.list_sessions, "Online")

        assert [s.reference_number for s in in_progress.sessions] == [batch.reference_number]
        assert in_progress.sessions[0].status.code == 100
        assert succeeded.sessions == () and online.sessions == ()

    def test_an_invoice_with_another_seller_is_rejected_on_its_own(
        self,
        ksef_client: KsefClient,
        ksef_http: httpx.Client,
        sim_state: State,
        sim_sleep: SimulatedSleep,
    ) -> None:
        owner = owner_session(ksef_client, sim_state, sim_sleep)
        files = [*invoice_files(4), ("obcy.xml", invoice("OBCY/1", seller="5265877635"))]

        result = owner.call(
            ksef_client.send_invoice_batch,
            files,
            public_key=ministry_key(ksef_client, sim_state),
            poll_interval=5,
        )

        assert len(result.accepted) == 4
        (rejected,) = result.rejected
        assert (rejected.invoice_file_name, rejected.status.code) == ("obcy.xml", 410)
        assert rejected.ksef_number is None
        failed = list(
            owner.call(ksef_client.iter_session_invoices, result.reference_number, failed_only=True)
        )
        assert [i.invoice_file_name for i in failed] == ["obcy.xml"]

    def test_a_part_with_a_wrong_hash_fails_the_batch_with_405(
        self,
        ksef_client: KsefClient,
        ksef_http: httpx.Client,
        sim_state: State,
        sim_sleep: SimulatedSleep,
    ) -> None:
        owner = owner_session(ksef_client, sim_state, sim_sleep)
        with build_batch_package(invoice_files(6), part_size=4_000) as package:
            session = owner.call(
                ksef_client.open_batch_session,
                package,
                public_key=ministry_key(ksef_client, sim_state),
            )
            # The part changes after its hash was declared (same size, other bytes).
            damaged = package.parts[1].path
            content = bytearray(damaged.read_bytes())
            content[-1] ^= 0x01
            damaged.write_bytes(bytes(content))
            ksef_client.upload_batch_parts(session, package)
        owner.call(ksef_client.close_batch_session, session.reference_number)

        status = owner.call(ksef_client.wait_for_session, session.reference_number, poll_interval=5)

        assert status.status.code == 405
        assert "'2'" in status.status.details[0]
        assert assigned_ksef_numbers(sim_state) == {}

    def test_a_failed_batch_raises_with_its_status_from_the_one_call(
        self,
        ksef_client: KsefClient,
        ksef_http: httpx.Client,
        sim_state: State,
        sim_sleep: SimulatedSleep,
    ) -> None:
        owner = owner_session(ksef_client, sim_state, sim_sleep)
        limits = {"maxInvoiceSizeInMB": 1, "maxInvoiceWithAttachmentSizeInMB": 3, "maxInvoices": 2}
        ksef_http.post(
            "/testdata/limits/context/session",
            json={"onlineSession": limits, "batchSession": limits},
            headers={"Authorization": f"Bearer {owner.access_token()}"},
        ).raise_for_status()

        with pytest.raises(BatchSessionFailed) as failure:
            owner.call(
                ksef_client.send_invoice_batch,
                invoice_files(3),
                public_key=ministry_key(ksef_client, sim_state),
                poll_interval=5,
            )
        assert failure.value.code == 420

    def test_offline_mode_is_declared_for_the_whole_batch(
        self,
        ksef_client: KsefClient,
        ksef_http: httpx.Client,
        sim_state: State,
        sim_sleep: SimulatedSleep,
    ) -> None:
        owner = owner_session(ksef_client, sim_state, sim_sleep)
        with build_batch_package(invoice_files(2)) as package:
            session = owner.call(
                ksef_client.open_batch_session,
                package,
                public_key=ministry_key(ksef_client, sim_state),
                offline_mode=True,
            )
            ksef_client.upload_batch_parts(session, package)
        owner.call(ksef_client.close_batch_session, session.reference_number)
        owner.call(ksef_client.wait_for_session, session.reference_number, poll_interval=5)

        listed = owner.call(ksef_client.iter_session_invoices, session.reference_number)
        assert {i.invoicing_mode for i in listed} == {"Offline"}

    def test_a_late_upload_is_refused_and_reported_with_its_part(
        self,
        ksef_client: KsefClient,
        ksef_http: httpx.Client,
        sim_state: State,
        sim_sleep: SimulatedSleep,
    ) -> None:
        owner = owner_session(ksef_client, sim_state, sim_sleep)
        with build_batch_package(invoice_files(2)) as package:
            session = owner.call(
                ksef_client.open_batch_session,
                package,
                public_key=ministry_key(ksef_client, sim_state),
            )
            sim_state.clock.advance(21 * 60)
            with pytest.raises(BatchPartUploadError) as refused:
                ksef_client.upload_batch_parts(session, package)
        assert (refused.value.ordinal_number, refused.value.status_code) == (1, 403)

    def test_part_uploads_ride_out_an_outage_and_carry_no_token(
        self,
        ksef_client: KsefClient,
        ksef_http: httpx.Client,
        sim_state: State,
        sim_sleep: SimulatedSleep,
    ) -> None:
        owner = owner_session(ksef_client, sim_state, sim_sleep)
        sent: list[httpx.Request] = []
        ksef_http.event_hooks["request"].append(sent.append)
        with build_batch_package(invoice_files(2)) as package:
            session = owner.call(
                ksef_client.open_batch_session,
                package,
                public_key=ministry_key(ksef_client, sim_state),
            )
            sim_state.faults.update({"outage": True, "outage_retry_after": 7})
            sim_sleep.then = lambda: sim_state.faults.update({"outage": False})
            ksef_client.upload_batch_parts(session, package)
        sim_sleep.then = None

        uploads = [r for r in sent if r.url.path.startswith("/storage/")]
        assert len(uploads) == 2  # refused once with 503, then accepted
        assert 7 in sim_sleep.waits
        assert all("authorization" not in r.headers for r in uploads)
        assert all(r.headers["x-ms-blob-type"] == "BlockBlob" for r in uploads)


def zip_of(files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files:
            archive.writestr(name, content)
    return buffer.getvalue()


# -- the larger run, over a real socket ---------------------------------------------------


@pytest.fixture
def loopback_simulator() -> Iterator[tuple[str, State]]:
    app = create_app(
        SimulatorConfig(profile="fast", jwt_secret=b"loopback-batch-loopback-batch-!!")
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v2", app.extensions["ksef_simulator"]
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_a_thousand_invoices_in_several_parts_over_loopback(
    loopback_simulator: tuple[str, State], tmp_path: Path
) -> None:
    base_url, state = loopback_simulator
    files = invoice_files(1000, prefix="L")
    started = time.monotonic()
    sent: list[httpx.Request] = []
    http = httpx.Client(timeout=30, event_hooks={"request": [sent.append]})
    with http, KsefClient(base_url, http=http) as client:
        owner = owner_session(client, state, time.sleep)
        result = owner.call(
            client.send_invoice_batch,
            files,
            public_key=ministry_key(client, state),
            part_size=100_000,
            directory=str(tmp_path),
            poll_interval=0.2,
        )
    elapsed = time.monotonic() - started

    assert result.status.status.code == 200
    assert len([r for r in sent if r.method == "PUT"]) >= 3  # several parts
    assert len(result.accepted) == 1000
    assert len({i.ksef_number for i in result.invoices}) == 1000
    with state.lock:
        counts = assigned_ksef_numbers(state)
        assert sorted(set(counts.values())) == [1] and len(counts) == 1000
    assert elapsed < 30, f"1,000 invoices took {elapsed:.1f}s"
