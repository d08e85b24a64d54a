"""Exports: start, poll, download the parts without a token, decrypt, unzip, compare."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from datetime import date
from typing import Any

import httpx
import pytest

from ksef_simulator import exports as exports_module
from ksef_simulator import invoices as invoices_module
from ksef_simulator import seeding
from ksef_simulator.state import State
from tests.contract import component, validate_schema
from tests.ksef_simulator.helpers import bearer, error_codes, owner_login
from tests.ksef_simulator.invoice_support import (
    SessionKey,
    date_filters,
    encryption_info,
    sha256_b64,
)

START, END = date(2026, 6, 1), date(2026, 8, 31)


@pytest.fixture
def seeded(sim_state: State) -> seeding.SeedResult:
    spec = seeding.SeedSpec(subjects=2, invoices=40, start=START, end=END, seed=3)
    return seeding.seed(sim_state, spec)


@pytest.fixture
def access(sim: httpx.Client, seeded: seeding.SeedResult) -> str:
    return owner_login(sim, seeded.subjects[1].nip).access


def _start(
    sim: httpx.Client, access: str, key: SessionKey, filters: dict[str, Any], **extra: Any
) -> httpx.Response:
    body = {"encryption": encryption_info(sim, key), "filters": filters, **extra}
    return sim.post("/invoices/exports", json=body, headers=bearer(access))


def _status(sim: httpx.Client, access: str, reference: str) -> dict[str, Any]:
    response = sim.get(f"/invoices/exports/{reference}", headers=bearer(access))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _download(sim_raw: httpx.Client, key: SessionKey, package: dict[str, Any]) -> bytes:
    archive = b""
    for part in sorted(package["parts"], key=lambda p: p["ordinalNumber"]):
        assert part["method"] == "GET"
        response = sim_raw.get(part["url"])  # no Authorization header, like a SAS link
        assert response.status_code == 200
        encrypted = response.content
        assert response.headers["x-ms-meta-hash"] == part["encryptedPartHash"]
        assert (len(encrypted), sha256_b64(encrypted)) == (
            part["encryptedPartSize"],
            part["encryptedPartHash"],
        )
        plain = key.decrypt(encrypted)
        assert (len(plain), sha256_b64(plain)) == (part["partSize"], part["partHash"])
        archive += plain
    assert len(archive) == package["size"]
    return archive


def test_an_export_package_holds_the_exact_invoices_and_valid_metadata(
    sim: httpx.Client,
    sim_raw: httpx.Client,
    sim_state: State,
    access: str,
    seeded: seeding.SeedResult,
) -> None:
    key = SessionKey.random()
    started = _start(sim, access, key, date_filters("Subject1", START, END, "PermanentStorage"))
    assert started.status_code == 201

    status = _status(sim, access, started.json()["referenceNumber"])

    assert status["status"] == {"code": 200, "description": "Eksport faktur zakończony sukcesem"}
    package = status["package"]
    assert (package["invoiceCount"], package["isTruncated"]) == (40, False)
    assert "lastPermanentStorageDate" not in package
    assert package["permanentStorageHwmDate"]
    archive = zipfile.ZipFile(io.BytesIO(_download(sim_raw, key, package)))
    stored = invoices_module.invoices_of(sim_state)
    metadata = json.loads(archive.read("_metadata.json"))
    assert len(metadata["invoices"]) == 40
    for row in metadata["invoices"]:
        validate_schema(row, component("InvoiceMetadata"), "_metadata.json row")
        assert archive.read(f"{row['ksefNumber']}.xml") == stored[row["ksefNumber"]].content
        assert row["seller"]["nip"] == seeded.subjects[1].nip
    assert len(archive.namelist()) == 41
    one = metadata["invoices"][0]["ksefNumber"]
    downloaded = sim.get(f"/invoices/ksef/{one}", headers=bearer(access))
    assert archive.read(f"{one}.xml") == downloaded.content


def test_a_large_archive_is_split_into_separately_encrypted_parts(
    sim: httpx.Client, sim_raw: httpx.Client, access: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports_module, "PART_SIZE", 8_000)
    key = SessionKey.random()
    reference = _start(sim, access, key, date_filters("Subject1", START, END)).json()[
        "referenceNumber"
    ]

    package = _status(sim, access, reference)["package"]
    archive = zipfile.ZipFile(io.BytesIO(_download(sim_raw, key, package)))

    assert len(package["parts"]) > 2
    assert [p["ordinalNumber"] for p in package["parts"]] == list(
        range(1, len(package["parts"]) + 1)
    )
    assert archive.testzip() is None


def test_only_metadata_and_tar_gz_are_honoured(
    sim: httpx.Client, sim_raw: httpx.Client, access: str
) -> None:
    key = SessionKey.random()
    filters = date_filters("Subject1", START, END)
    reference = _start(
        sim, access, key, filters, onlyMetadata=True, compressionType="TarGz"
    ).json()["referenceNumber"]

    package = _status(sim, access, reference)["package"]
    content = io.BytesIO(_download(sim_raw, key, package))
    with tarfile.open(fileobj=content, mode="r:gz") as archive:
        assert archive.getnames() == ["_metadata.json"]
        extracted = archive.extractfile("_metadata.json")
        assert extracted is not None
        rows = json.loads(extracted.read())["invoices"]

    assert len(rows) == package["invoiceCount"] == 40


def test_a_truncated_package_tells_where_the_next_export_starts(
    sim: httpx.Client, sim_raw: httpx.Client, access: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real limit is 10,000 invoices per package; 15 exercises the same rule.
    monkeypatch.setattr(exports_module, "PACKAGE_INVOICE_LIMIT", 15)
    filters = date_filters("Subject1", START, END, "PermanentStorage")
    collected: set[str] = set()
    exports = 0
    while True:
        key = SessionKey.random()
        reference = _start(sim, access, key, filters).json()["referenceNumber"]
        package = _status(sim, access, reference)["package"]
        exports += 1
        archive = zipfile.ZipFile(io.BytesIO(_download(sim_raw, key, package)))
        rows = json.loads(archive.read("_metadata.json"))["invoices"]
        collected |= {row["ksefNumber"] for row in rows}
        if not package["isTruncated"]:
            break
        assert package["lastPermanentStorageDate"] == rows[-1]["permanentStorageDate"]
        filters["dateRange"]["from"] = package["lastPermanentStorageDate"]

    assert exports == 3
    assert len(collected) == 40


def test_exports_stay_in_100_while_the_stuck_fault_is_on(
    sim: httpx.Client, access: str, simulator_app: Any
) -> None:
    control = httpx.Client(transport=httpx.WSGITransport(simulator_app), base_url="http://ksef-sim")
    control.post("/_sim/faults", json={"exports_stuck": True})
    reference = _start(
        sim, access, SessionKey.random(), date_filters("Subject1", START, END)
    ).json()["referenceNumber"]

    stuck = [_status(sim, access, reference) for _ in range(3)]
    control.delete("/_sim/faults")
    done = _status(sim, access, reference)

    assert all(
        s == {"status": {"code": 100, "description": "Eksport faktur w toku"}} for s in stuck
    )
    assert done["status"]["code"] == 200


def test_export_errors_use_the_official_codes_and_statuses(
    sim: httpx.Client, sim_state: State, access: str
) -> None:
    filters = date_filters("Subject1", START, END)
    info = encryption_info(sim, SessionKey.random())
    bad_key = dict(info, encryptedSymmetricKey="AAAA" * 64)
    unknown_id = dict(info, publicKeyId=sha256_b64(b"no such key"))
    future = date_filters("Subject1", "2099-01-01T00:00:00Z", None, "PermanentStorage")
    future["dateRange"]["restrictToPermanentStorageHwmDate"] = True

    broken = sim.post(
        "/invoices/exports",
        json={"encryption": bad_key, "filters": filters},
        headers=bearer(access),
    )
    unknown = sim.post(
        "/invoices/exports",
        json={"encryption": unknown_id, "filters": filters},
        headers=bearer(access),
    )
    after_hwm = sim.post(
        "/invoices/exports", json={"encryption": info, "filters": future}, headers=bearer(access)
    )
    missing = sim.get(
        "/invoices/exports/20260101-EH-0000000000-0000000000-00", headers=bearer(access)
    )

    assert _status(sim, access, broken.json()["referenceNumber"])["status"]["code"] == 415
    assert unknown.status_code == 400 and error_codes(unknown) == [21470]
    hwm_status = _status(sim, access, after_hwm.json()["referenceNumber"])["status"]
    assert (
        hwm_status["code"] == 420
        and "restrictToPermanentStorageHwmDate" in hwm_status["details"][0]
    )
    assert missing.status_code == 400 and error_codes(missing) == [21175]


def test_packages_expire_and_statuses_are_gone_after_seven_days(
    sim: httpx.Client,
    sim_raw: httpx.Client,
    sim_state: State,
    seeded: seeding.SeedResult,
    access: str,
) -> None:
    reference = _start(
        sim, access, SessionKey.random(), date_filters("Subject1", START, END)
    ).json()["referenceNumber"]
    url = _status(sim, access, reference)["package"]["parts"][0]["url"]

    sim_state.clock.advance(3 * 24 * 3600 + 1)
    fresh = owner_login(sim, seeded.subjects[1].nip).access
    expired = _status(sim, fresh, reference)
    link = sim_raw.get(url)
    sim_state.clock.advance(4 * 24 * 3600)
    fresh = owner_login(sim, seeded.subjects[1].nip).access
    gone = sim.get(f"/invoices/exports/{reference}", headers=bearer(fresh))

    assert expired["status"]["code"] == 210 and "package" not in expired
    assert link.status_code == 403
    assert gone.status_code == 410
    assert gone.headers["content-type"].startswith("application/problem+json")


def test_another_context_cannot_see_an_export(
    sim: httpx.Client, seeded: seeding.SeedResult, access: str
) -> None:
    reference = _start(
        sim, access, SessionKey.random(), date_filters("Subject1", START, END)
    ).json()["referenceNumber"]
    other = owner_login(sim, seeded.subjects[0].nip).access

    response = sim.get(f"/invoices/exports/{reference}", headers=bearer(other))

    assert response.status_code == 400 and error_codes(response) == [21175]


def test_an_eleventh_running_export_is_refused_with_21182(
    sim: httpx.Client, access: str, simulator_app: Any
) -> None:
    control = httpx.Client(transport=httpx.WSGITransport(simulator_app), base_url="http://ksef-sim")
    control.post("/_sim/faults", json={"exports_stuck": True})
    filters = date_filters("Subject1", START, END)
    key = SessionKey.random()
    for _ in range(10):
        assert _start(sim, access, key, filters).status_code == 201

    refused = _start(sim, access, key, filters)

    assert refused.status_code == 400 and error_codes(refused) == [21182]
