"""Batch sessions over HTTP: every /v2 exchange is checked against the contract by `sim`;
the part uploads go to the pre-signed links on the simulator's own host."""

from __future__ import annotations

import pickle
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from lxml import etree

from ksef_simulator import SimulatorConfig, ksefnum
from ksef_simulator import batch as batch_module
from ksef_simulator.batch import BatchSession
from ksef_simulator.invoices import WARSAW
from ksef_simulator.state import State
from tests.ksef_simulator.batch_support import (
    Package,
    all_invoices,
    close,
    invoices,
    issued_on,
    open_batch,
    open_body,
    package,
    send_batch,
    session_status,
    tar_gz_archive,
    upload,
    upload_all,
    zip_archive,
)
from tests.ksef_simulator.helpers import bearer, error_codes, owner_login
from tests.ksef_simulator.invoice_support import (
    SAMPLE_SELLER,
    another_key,
    date_filters,
    query,
    renumbered,
    sample,
    sha256_b64,
    upo_schema,
)

UPO_NS = {"u": "http://upo.schematy.mf.gov.pl/KSeF/v4-3"}


@pytest.fixture
def seller(sim: httpx.Client) -> str:
    """Access token of the owner of 9999999999, the seller of the official MF examples."""
    return owner_login(sim, SAMPLE_SELLER).access


def test_a_batch_in_three_parts_gives_every_invoice_a_ksef_number_and_a_valid_upo(
    sim: httpx.Client, seller: str, sim_state: State
) -> None:
    files = invoices(12)
    pkg = package(zip_archive(files), parts=3)

    opened = open_batch(sim, seller, pkg)
    uploads = opened["partUploadRequests"]
    assert opened["referenceNumber"][9:11] == "SB"
    assert [u["ordinalNumber"] for u in uploads] == [1, 2, 3]
    assert {u["method"] for u in uploads} == {"PUT"}
    assert all(u["headers"] == {"x-ms-blob-type": "BlockBlob"} for u in uploads)
    assert {urlsplit(u["url"]).netloc for u in uploads} == {"ksef-sim"}
    upload_all(sim, opened, pkg)
    reference = opened["referenceNumber"]
    assert close(sim, seller, reference).status_code == 204

    status = session_status(sim, seller, reference)
    assert status["status"] == {"code": 200, "description": "Sesja wsadowa przetworzona pomyślnie"}
    assert (status["invoiceCount"], status["successfulInvoiceCount"]) == (12, 12)
    listed = all_invoices(sim, seller, reference)
    assert [i["invoiceFileName"] for i in listed] == list(files)
    assert [i["invoiceHash"] for i in listed] == [sha256_b64(x) for x in files.values()]
    assert all(i["status"]["code"] == 200 and ksefnum.is_valid(i["ksefNumber"]) for i in listed)
    first = listed[0]
    upo = sim.get(
        f"/sessions/{reference}/invoices/{first['referenceNumber']}/upo", headers=bearer(seller)
    )
    document = etree.fromstring(upo.content)
    assert upo_schema().validate(document), upo_schema().error_log
    assert (
        document.findtext("u:Dokument/u:NumerKSeFDokumentu", namespaces=UPO_NS)
        == (first["ksefNumber"])
    )
    (page,) = status["upo"]["pages"]
    session_upo = etree.fromstring(httpx_get(sim, page["downloadUrl"]).content)
    assert upo_schema().validate(session_upo), upo_schema().error_log
    numbers = session_upo.findall("u:Dokument/u:NumerKSeFDokumentu", namespaces=UPO_NS)
    assert [n.text for n in numbers] == [i["ksefNumber"] for i in listed]
    counts = sim.get("http://ksef-sim/_sim/ksef-numbers").json()["byInvoiceHash"]
    assert counts == {sha256_b64(x): 1 for x in files.values()}


def httpx_get(sim: httpx.Client, url: str) -> httpx.Response:
    response = sim.get(url)
    assert response.status_code == 200, response.text
    return response


def test_batch_invoices_appear_in_the_invoice_store_like_online_ones(
    sim: httpx.Client, seller: str
) -> None:
    files = invoices(3)
    reference = send_batch(sim, seller, package(zip_archive(files), parts=2))
    listed = all_invoices(sim, seller, reference)

    today = date.today()
    found = query(
        sim, seller, date_filters("Subject1", today - timedelta(days=1), today, "Invoicing")
    )
    assert found.status_code == 200, found.text
    by_number = {row["ksefNumber"]: row for row in found.json()["invoices"]}
    assert {i["ksefNumber"] for i in listed} <= set(by_number)
    one = listed[1]
    assert by_number[one["ksefNumber"]]["invoiceHash"] == one["invoiceHash"]
    download = sim.get(f"/invoices/ksef/{one['ksefNumber']}", headers=bearer(seller))
    assert download.content == files["faktura-0002.xml"]


def test_tar_gz_packages_are_unpacked_too(sim: httpx.Client, seller: str) -> None:
    files = invoices(2, prefix="T")
    reference = send_batch(sim, seller, package(tar_gz_archive(files)), compression="TarGz")

    listed = all_invoices(sim, seller, reference)
    assert [(i["invoiceFileName"], i["status"]["code"]) for i in listed] == [
        ("faktura-0001.xml", 200),
        ("faktura-0002.xml", 200),
    ]


def test_each_invoice_is_judged_on_its_own_with_the_online_rules(
    sim: httpx.Client, seller: str
) -> None:
    good = invoices(2)
    files = {
        **good,
        "obcy-sprzedawca.xml": renumbered(sample(), "9999999999", "5265877635"),
        "duplikat.xml": good["faktura-0001.xml"],
        "niepoprawna.xml": b"<Faktura>bez schematu</Faktura>",
    }
    reference = send_batch(sim, seller, package(zip_archive(files), parts=2))

    status = session_status(sim, seller, reference)
    assert status["status"]["code"] == 200
    assert (status["successfulInvoiceCount"], status["failedInvoiceCount"]) == (2, 3)
    outcome = {i["invoiceFileName"]: i for i in all_invoices(sim, seller, reference)}
    assert outcome["obcy-sprzedawca.xml"]["status"]["code"] == 410
    assert "5265877635" in outcome["obcy-sprzedawca.xml"]["status"]["details"][0]
    duplicate = outcome["duplikat.xml"]["status"]
    assert duplicate["code"] == 440
    assert (
        duplicate["extensions"]["originalKsefNumber"] == outcome["faktura-0001.xml"]["ksefNumber"]
    )
    assert outcome["niepoprawna.xml"]["status"]["code"] == 450
    failed = all_invoices(sim, seller, reference, failed=True)
    assert sorted(i["invoiceFileName"] for i in failed) == [
        "duplikat.xml",
        "niepoprawna.xml",
        "obcy-sprzedawca.xml",
    ]
    assert all("ksefNumber" not in i for i in failed)


def test_offline_mode_is_recorded_and_a_same_day_invoice_is_online_without_it(
    sim: httpx.Client, seller: str
) -> None:
    today = date.today()
    today_in_warsaw = issued_on(invoices(1, prefix="D")["faktura-0001.xml"], today)
    if today_in_warsaw.count(today.isoformat().encode()) == 0:  # pragma: no cover
        pytest.skip("the sample's P_1 changed")
    online = send_batch(sim, seller, package(zip_archive({"a.xml": today_in_warsaw})))
    declared = send_batch(
        sim,
        seller,
        package(zip_archive({"b.xml": renumbered(today_in_warsaw, "D/0001", "D/0002")})),
        offline=True,
    )

    (first,) = all_invoices(sim, seller, online)
    (second,) = all_invoices(sim, seller, declared)
    assert first["invoicingMode"] == "Online"
    assert second["invoicingMode"] == "Offline"
    upo = sim.get(
        f"/sessions/{declared}/invoices/{second['referenceNumber']}/upo", headers=bearer(seller)
    )
    assert etree.fromstring(upo.content).findtext(
        "u:Dokument/u:TrybWysylki", namespaces=UPO_NS
    ) == ("Offline")


def test_a_part_whose_hash_differs_from_the_declared_one_fails_the_package_with_405(
    sim: httpx.Client, seller: str
) -> None:
    pkg = package(zip_archive(invoices(4)), parts=2)
    opened = open_batch(sim, seller, pkg)
    tampered = bytearray(pkg.encrypted_parts[1])
    tampered[0] ^= 0xFF
    first, second = opened["partUploadRequests"]
    assert upload(sim, first, pkg.encrypted_parts[0]).status_code == 201
    assert upload(sim, second, bytes(tampered)).status_code == 201

    assert close(sim, seller, opened["referenceNumber"]).status_code == 204
    status = session_status(sim, seller, opened["referenceNumber"])
    assert status["status"]["code"] == 405
    assert "'2'" in status["status"]["details"][0]
    assert all_invoices(sim, seller, opened["referenceNumber"]) == []
    assert sim.get("http://ksef-sim/_sim/ksef-numbers").json()["byInvoiceHash"] == {}


def test_closing_checks_every_declared_part_was_uploaded_with_its_size(
    sim: httpx.Client, seller: str
) -> None:
    pkg = package(zip_archive(invoices(2)), parts=2)
    opened = open_batch(sim, seller, pkg)
    reference = opened["referenceNumber"]
    first, second = opened["partUploadRequests"]
    upload(sim, first, pkg.encrypted_parts[0])

    missing = close(sim, seller, reference)
    assert missing.status_code == 400 and error_codes(missing) == [21205]
    upload(sim, second, pkg.encrypted_parts[1] + b"0123456789abcdef")
    wrong_size = close(sim, seller, reference)
    assert wrong_size.status_code == 400 and error_codes(wrong_size) == [21157]
    upload(sim, second, pkg.encrypted_parts[1])
    assert close(sim, seller, reference).status_code == 204
    again = close(sim, seller, reference)
    assert again.status_code == 400 and error_codes(again) == [21180]


def test_the_upload_window_is_twenty_minutes_per_part(
    sim: httpx.Client, seller: str, sim_state: State
) -> None:
    pkg = package(zip_archive(invoices(2)), parts=2)
    opened = open_batch(sim, seller, pkg)
    first, second = opened["partUploadRequests"]
    sim_state.clock.advance(39 * 60)
    assert upload(sim, first, pkg.encrypted_parts[0]).status_code == 201
    sim_state.clock.advance(2 * 60)

    late = upload(sim, second, pkg.encrypted_parts[1])
    assert late.status_code == 403
    fresh = owner_login(sim, SAMPLE_SELLER).access  # the first access token has expired
    closing = close(sim, fresh, opened["referenceNumber"])
    assert closing.status_code == 400 and error_codes(closing) == [21208]
    status = session_status(sim, fresh, opened["referenceNumber"])["status"]
    assert status == {
        "code": 440,
        "description": "Sesja anulowana",
        "details": ["Przekroczono czas wysyłki"],
    }


def test_part_uploads_refuse_a_wrong_signature_and_a_missing_blob_type(
    sim: httpx.Client, seller: str
) -> None:
    pkg = package(zip_archive(invoices(1)))
    (request,) = open_batch(sim, seller, pkg)["partUploadRequests"]

    forged = {**request, "url": request["url"].replace("sig=", "sig=x")}
    assert upload(sim, forged, pkg.encrypted_parts[0]).status_code == 403
    no_header = sim.put(request["url"], content=pkg.encrypted_parts[0])
    assert no_header.status_code == 400
    assert b"MissingRequiredHeader" in no_header.content


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: package(b"to nie jest archiwum zip"), 430),
        (lambda: package(zip_archive({})), 440),
    ],
    ids=["not-an-archive", "empty-archive"],
)
def test_packages_that_cannot_be_unpacked_or_hold_nothing_end_in_their_status(
    sim: httpx.Client, seller: str, make: object, code: int
) -> None:
    assert callable(make)
    pkg: Package = make()
    reference = send_batch(sim, seller, pkg)

    assert session_status(sim, seller, reference)["status"]["code"] == code


def test_parts_encrypted_with_another_key_get_435_or_when_they_unpad_405_a_foreign_key_415(
    sim: httpx.Client, seller: str
) -> None:
    archive = zip_archive(invoices(1))
    pkg = package(archive)
    # The declared hash is the one of what is uploaded; only decryption can fail. When the
    # wrong key's garbage happens to unpad, the joined archive's size and hash catch it.
    for unpads, code in ((False, 435), (True, 405)):
        other = another_key(pkg.key, archive, unpads=unpads)
        wrong = Package(archive, pkg.key, [other.encrypt(archive)])
        reference = send_batch(sim, seller, wrong)
        assert session_status(sim, seller, reference)["status"]["code"] == code, unpads

    def foreign_key(data: dict[str, object]) -> None:
        encryption = data["encryption"]
        assert isinstance(encryption, dict)
        encryption["encryptedSymmetricKey"] = "AAAA" * 86 + "AA=="

    opened = open_batch(sim, seller, pkg, edit=foreign_key)
    upload_all(sim, opened, pkg)
    close(sim, seller, opened["referenceNumber"])
    assert session_status(sim, seller, opened["referenceNumber"])["status"]["code"] == 415


def test_more_files_than_the_context_limit_end_in_420(sim: httpx.Client, seller: str) -> None:
    limits = {"maxInvoiceSizeInMB": 1, "maxInvoiceWithAttachmentSizeInMB": 3, "maxInvoices": 2}
    response = sim.post(
        "/testdata/limits/context/session",
        json={"onlineSession": limits, "batchSession": limits},
        headers=bearer(seller),
    )
    assert response.status_code == 200, response.text

    reference = send_batch(sim, seller, package(zip_archive(invoices(3))))
    assert session_status(sim, seller, reference)["status"]["code"] == 420


def test_declared_parts_must_be_numbered_from_one_and_fit_100_mb(
    sim: httpx.Client, seller: str
) -> None:
    pkg = package(zip_archive(invoices(1)), parts=2)
    data = open_body(sim, pkg)

    gap = {**data, "batchFile": {**data["batchFile"]}}
    gap["batchFile"]["fileParts"] = [dict(p) for p in data["batchFile"]["fileParts"]]
    gap["batchFile"]["fileParts"][1]["ordinalNumber"] = 3
    refused = sim.post("/sessions/batch", json=gap, headers=bearer(seller))
    assert refused.status_code == 400 and error_codes(refused) == [21405]
    huge = {**data, "batchFile": {**data["batchFile"]}}
    huge["batchFile"]["fileParts"] = [dict(p) for p in data["batchFile"]["fileParts"]]
    huge["batchFile"]["fileParts"][0]["fileSize"] = 100_000_017
    too_big = sim.post("/sessions/batch", json=huge, headers=bearer(seller))
    assert too_big.status_code == 400 and error_codes(too_big) == [21157]


class TestProcessingInSimulatedTime:
    @pytest.fixture
    def simulator_config(self) -> SimulatorConfig:
        return SimulatorConfig(
            profile="fast",
            jwt_secret=b"test-secret-test-secret-test-sec",
            batch_processing_seconds=30,
        )

    def test_a_closed_batch_is_processing_until_its_time_has_come(
        self, sim: httpx.Client, seller: str, sim_state: State
    ) -> None:
        files = invoices(2)
        reference = send_batch(sim, seller, package(zip_archive(files)))

        status = session_status(sim, seller, reference)
        assert status["status"] == {"code": 150, "description": "Trwa przetwarzanie"}
        assert all_invoices(sim, seller, reference) == []
        listed = sim.get(
            "/sessions",
            params={"sessionType": "Batch", "statuses": "InProgress"},
            headers=bearer(seller),
        ).json()["sessions"]
        assert [s["referenceNumber"] for s in listed] == [reference]
        sim_state.clock.advance(30)
        # Any request finishes due batches first: the store has them before anyone polls.
        sim.get("http://ksef-sim/_sim/clock")
        counts = sim.get("http://ksef-sim/_sim/ksef-numbers").json()["byInvoiceHash"]
        assert counts == {sha256_b64(x): 1 for x in files.values()}
        assert session_status(sim, seller, reference)["status"]["code"] == 200


def test_online_and_batch_endpoints_do_not_mix_sessions(sim: httpx.Client, seller: str) -> None:
    pkg = package(zip_archive(invoices(1)))
    reference = open_batch(sim, seller, pkg)["referenceNumber"]

    online_close = sim.post(f"/sessions/online/{reference}/close", headers=bearer(seller))
    assert online_close.status_code == 400 and error_codes(online_close) == [21173]
    listed = sim.get("/sessions", params={"sessionType": "Online"}, headers=bearer(seller))
    assert listed.json()["sessions"] == []


def test_the_acquisition_of_batch_invoices_follows_their_invoicing(
    sim: httpx.Client, seller: str
) -> None:
    reference = send_batch(sim, seller, package(zip_archive(invoices(1))))
    (invoice,) = all_invoices(sim, seller, reference)

    assert invoice["acquisitionDate"] > invoice["invoicingDate"]
    today_in_warsaw = datetime.now(WARSAW).date()
    assert invoice["ksefNumber"].split("-")[1] == f"{today_in_warsaw:%Y%m%d}"


def test_a_batch_in_progress_survives_a_state_snapshot(
    sim: httpx.Client, seller: str, sim_state: State
) -> None:
    pkg = package(zip_archive(invoices(2)), parts=2)
    opened = open_batch(sim, seller, pkg)
    upload_all(sim, opened, pkg)

    restored = pickle.loads(pickle.dumps(sim_state))  # what --state writes and reads

    session = restored.sessions[opened["referenceNumber"]]
    assert isinstance(session, BatchSession)
    assert sorted(session.uploaded) == [1, 2]
    assert session.uploaded[2] == pkg.encrypted_parts[1]


def test_a_big_batch_is_verified_a_chunk_per_request_and_stays_in_150_meanwhile(
    sim: httpx.Client, seller: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_module, "PROCESSING_CHUNK", 2)
    files = invoices(5)

    reference = send_batch(sim, seller, package(zip_archive(files)))

    first = session_status(sim, seller, reference)  # close did 2, this look 2 more
    assert first["status"]["code"] == 150
    codes = [i["status"]["code"] for i in all_invoices(sim, seller, reference)]
    assert codes.count(200) in (4, 5) and set(codes) <= {150, 200}
    final = session_status(sim, seller, reference)
    assert final["status"]["code"] == 200 and final["successfulInvoiceCount"] == 5
    assert [i["ordinalNumber"] for i in all_invoices(sim, seller, reference)] == [1, 2, 3, 4, 5]
