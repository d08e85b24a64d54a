"""Invoice reading, exports and online sessions through the client, against contract mocks."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from ksef import fa3
from ksef.client import KsefClient
from ksef.crypto import PublicKeyCertificate, aes_decrypt, aes_encrypt, sha256_b64
from ksef.errors import ExportFailed, KsefError
from ksef.models import DateType, InvoiceQueryFilters, SubjectType
from tests.conftest import KSEF_DATA_DIR
from tests.contract import component, validate_schema
from tests.ksef.keys import make_ministry_key_json
from tests.ksef.test_client_contract_mocks import (
    BASE,
    NOW,
    ContractMock,
    Reply,
    ksef_mock,
    ref,
    ts,
)

__all__ = ["ksef_mock"]

ACCESS = "access-token"
SELLER = "5265877635"
INVOICE_XML = (KSEF_DATA_DIR / "samples" / "invoices" / "mf-fa3-example-01.xml").read_bytes()


def ksef_number(n: int) -> str:
    return f"{SELLER}-20260302-{n:012X}-{n % 256:02X}"


def metadata(n: int, stored_minutes: int) -> dict[str, Any]:
    stored = NOW + timedelta(minutes=stored_minutes)
    return {
        "ksefNumber": ksef_number(n),
        "invoiceNumber": f"FV/2026/{n}",
        "issueDate": "2026-03-01",
        "invoicingDate": ts(stored - timedelta(minutes=2)),
        "acquisitionDate": ts(stored - timedelta(minutes=1)),
        "permanentStorageDate": ts(stored),
        "seller": {"nip": SELLER, "name": "Sprzedawca sp. z o.o."},
        "buyer": {"identifier": {"type": "Nip", "value": "6808208874"}, "name": "Nabywca"},
        "netAmount": 100.10,
        "grossAmount": 123.12,
        "vatAmount": 23.02,
        "currency": "PLN",
        "invoicingMode": "Online",
        "invoiceType": "Vat",
        "formCode": {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"},
        "isSelfInvoicing": False,
        "hasAttachment": False,
        "invoiceHash": sha256_b64(str(n).encode()),
        "thirdSubjects": [],
    }


def page(numbers: list[tuple[int, int]], *, has_more: bool, truncated: bool) -> Reply:
    return Reply(
        200,
        {
            "hasMore": has_more,
            "isTruncated": truncated,
            "permanentStorageHwmDate": ts(NOW + timedelta(hours=1)),
            "invoices": [metadata(n, minutes) for n, minutes in numbers],
        },
    )


FILTERS = InvoiceQueryFilters(
    subject_type=SubjectType.BUYER,
    date_from=NOW - timedelta(days=1),
    date_type=DateType.PERMANENT_STORAGE,
    restrict_to_hwm=True,
)


def test_metadata_paging_follows_has_more_and_resumes_a_truncated_result_from_the_last_date(
    ksef_mock: ContractMock,
) -> None:
    ksef_mock.on(
        "POST",
        "/invoices/query/metadata",
        page([(1, 1), (2, 2)], has_more=True, truncated=False),
        page([(3, 3), (4, 4)], has_more=True, truncated=True),
        page([(4, 4), (5, 5)], has_more=False, truncated=False),
    )

    invoices = list(KsefClient(BASE).iter_invoice_metadata(ACCESS, FILTERS, page_size=10))

    assert [i.ksef_number for i in invoices] == [ksef_number(n) for n in (1, 2, 3, 4, 5)]
    assert invoices[0].gross_amount == Decimal("123.12")
    assert (
        invoices[0].buyer_identifier is not None
        and invoices[0].buyer_identifier.value == "6808208874"
    )
    requests = [r for r in ksef_mock.sent if r.url.path.endswith("/metadata")]
    assert [r.url.params["pageOffset"] for r in requests] == ["0", "1", "0"]
    assert {r.url.params["sortOrder"] for r in requests} == {"Asc"}
    bodies = ksef_mock.bodies("/invoices/query/metadata")
    assert (
        bodies[0]["dateRange"]["from"]
        == bodies[1]["dateRange"]["from"]
        == FILTERS.date_from.isoformat()
    )
    assert bodies[2]["dateRange"]["from"] == (NOW + timedelta(minutes=4)).isoformat()
    assert bodies[2]["dateRange"]["restrictToPermanentStorageHwmDate"] is True
    assert bodies[2]["subjectType"] == "Subject2"


def test_a_truncated_page_that_cannot_advance_is_an_error_not_an_endless_loop(
    ksef_mock: ContractMock,
) -> None:
    ksef_mock.on(
        "POST", "/invoices/query/metadata", page([(1, -24 * 60)], has_more=True, truncated=True)
    )
    with pytest.raises(KsefError, match="narrow the filters"):
        list(KsefClient(BASE).iter_invoice_metadata(ACCESS, FILTERS))


def test_naive_datetimes_are_refused_because_ksef_would_read_them_as_warsaw_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        InvoiceQueryFilters(SubjectType.SELLER, date_from=NOW.replace(tzinfo=None)).to_json()


def test_downloading_an_invoice_returns_the_exact_bytes_and_their_hash(
    ksef_mock: ContractMock,
) -> None:
    number = ksef_number(7)
    ksef_mock.on(
        "GET",
        f"/invoices/ksef/{number}",
        Reply(
            200,
            raw=INVOICE_XML,
            headers={"Content-Type": "application/xml", "x-ms-meta-hash": sha256_b64(INVOICE_XML)},
        ),
    )

    document = KsefClient(BASE).download_invoice(ACCESS, number)

    assert document.content == INVOICE_XML
    assert document.sha256_b64 == sha256_b64(INVOICE_XML)
    assert fa3.parse(document.content).number == "FV2026/02/150"


def symmetric_key() -> tuple[Any, PublicKeyCertificate]:
    key, entry = make_ministry_key_json(
        usage=("SymmetricKeyEncryption",),
        valid_from=NOW - timedelta(days=1),
        valid_to=NOW + timedelta(days=30),
    )
    return key, PublicKeyCertificate.from_json(entry)


def oaep_decrypt(private_key: Any, value: str) -> bytes:
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return bytes(private_key.decrypt(base64.b64decode(value), oaep))


def test_an_export_is_started_polled_downloaded_without_token_decrypted_and_unpacked(
    ksef_mock: ContractMock,
) -> None:
    ministry_key, public_key = symmetric_key()
    export_ref = ref("EH")
    ksef_mock.on("POST", "/invoices/exports", Reply(201, {"referenceNumber": export_ref}))
    # The part links expire an hour after the mocks' NOW: the client must live at NOW too.
    client = KsefClient(BASE, sleep=lambda _: None, clock=lambda: NOW)

    export = client.start_invoice_export(ACCESS, FILTERS, public_key=public_key)

    (body,) = ksef_mock.bodies("/invoices/exports")
    assert (
        oaep_decrypt(ministry_key, body["encryption"]["encryptedSymmetricKey"])
        == export.encryption.key
    )
    assert base64.b64decode(body["encryption"]["initializationVector"]) == export.encryption.iv
    assert body["encryption"]["publicKeyId"] == public_key.public_key_id

    number = ksef_number(9)
    listing = {"invoices": [metadata(9, 3)]}
    validate_schema(listing["invoices"][0], component("InvoiceMetadata"))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr(f"{number}.xml", INVOICE_XML)
        writer.writestr("_metadata.json", json.dumps(listing))
    plain = archive.getvalue()
    halves = [plain[: len(plain) // 2], plain[len(plain) // 2 :]]
    encrypted = [aes_encrypt(h, export.encryption.key, export.encryption.iv) for h in halves]
    part_urls = [f"https://blob.ksef.invalid/exports/part{i}?sv=2025&sig=SECRET{i}" for i in (1, 2)]
    parts = [
        {
            "ordinalNumber": i + 1,
            "partName": f"part{i + 1}.zip.aes",
            "method": "GET",
            "url": part_urls[i],
            "partSize": len(halves[i]),
            "partHash": sha256_b64(halves[i]),
            "encryptedPartSize": len(encrypted[i]),
            "encryptedPartHash": sha256_b64(encrypted[i]),
            "expirationDate": ts(NOW + timedelta(hours=1)),
        }
        for i in (1, 0)  # out of order on purpose
    ]
    ksef_mock.on(
        "GET",
        f"/invoices/exports/{export_ref}",
        Reply(200, {"status": {"code": 100, "description": "Eksport w toku"}}),
        Reply(
            200,
            {
                "status": {"code": 200, "description": "Eksport zakończony sukcesem"},
                "completedDate": ts(NOW),
                "packageExpirationDate": ts(NOW + timedelta(days=7)),
                "package": {
                    "invoiceCount": 1,
                    "size": len(plain),
                    "parts": parts,
                    "isTruncated": False,
                    "lastPermanentStorageDate": ts(NOW + timedelta(minutes=3)),
                    "permanentStorageHwmDate": ts(NOW + timedelta(hours=1)),
                },
            },
        ),
    )
    downloads = [
        ksef_mock.router.get(url).mock(return_value=httpx.Response(200, content=data))
        for url, data in zip(part_urls, encrypted, strict=True)
    ]

    package = client.wait_for_invoice_export(ACCESS, export_ref, poll_interval=1)
    exported = client.download_export_package(package, export.encryption)

    assert exported.invoices() == {number: INVOICE_XML}
    assert [m.ksef_number for m in exported.metadata] == [number]
    assert package.last_permanent_storage_date == NOW + timedelta(minutes=3)
    for route in downloads:
        assert route.call_count == 1
        assert "Authorization" not in route.calls.last.request.headers
    assert "SECRET" not in repr(package)


def test_a_corrupted_export_part_is_rejected(ksef_mock: ContractMock) -> None:
    _, public_key = symmetric_key()
    ksef_mock.on("POST", "/invoices/exports", Reply(201, {"referenceNumber": ref("EH")}))
    client = KsefClient(BASE, clock=lambda: NOW - timedelta(minutes=1))
    export = client.start_invoice_export(ACCESS, FILTERS, public_key=public_key, only_metadata=True)
    encrypted = aes_encrypt(b"PK-not-really", export.encryption.key, export.encryption.iv)
    url = "https://blob.ksef.invalid/exports/p?sig=x"
    ksef_mock.router.get(url).mock(
        return_value=httpx.Response(200, content=encrypted[:-16] + bytes(16))
    )
    ksef_mock.on(
        "GET",
        f"/invoices/exports/{ref('EH')}",
        Reply(
            200,
            {
                "status": {"code": 200, "description": "Eksport zakończony sukcesem"},
                "package": {
                    "invoiceCount": 0,
                    "size": 13,
                    "isTruncated": False,
                    "parts": [
                        {
                            "ordinalNumber": 1,
                            "partName": "p",
                            "method": "GET",
                            "url": url,
                            "partSize": 13,
                            "partHash": sha256_b64(b"PK-not-really"),
                            "encryptedPartSize": len(encrypted),
                            "encryptedPartHash": sha256_b64(encrypted),
                            "expirationDate": ts(NOW),
                        }
                    ],
                },
            },
        ),
    )
    status = client.get_invoice_export_status(ACCESS, ref("EH"))
    assert status.package is not None
    with pytest.raises(KsefError, match="hash mismatch"):
        client.download_export_package(status.package, export.encryption)


def test_a_failed_export_raises_with_its_status(ksef_mock: ContractMock) -> None:
    ksef_mock.on(
        "GET",
        f"/invoices/exports/{ref('EH')}",
        Reply(
            200, {"status": {"code": 415, "description": "Błąd odszyfrowania dostarczonego klucza"}}
        ),
    )
    with pytest.raises(ExportFailed) as caught:
        KsefClient(BASE).wait_for_invoice_export(ACCESS, ref("EH"))
    assert caught.value.code == 415


def test_an_online_session_sends_the_encrypted_invoice_with_hashes_and_sizes(
    ksef_mock: ContractMock,
) -> None:
    ministry_key, public_key = symmetric_key()
    session_ref, invoice_ref = ref("SO"), ref("EE")
    ksef_mock.on(
        "POST",
        "/sessions/online",
        Reply(201, {"referenceNumber": session_ref, "validUntil": ts(NOW + timedelta(hours=12))}),
    )
    ksef_mock.on(
        "POST",
        f"/sessions/online/{session_ref}/invoices",
        Reply(202, {"referenceNumber": invoice_ref}),
    )
    ksef_mock.on("POST", f"/sessions/online/{session_ref}/close", Reply(204))
    ksef_mock.on(
        "GET",
        f"/sessions/{session_ref}",
        Reply(
            200,
            {
                "status": {"code": 200, "description": "Sesja interaktywna przetworzona pomyślnie"},
                "dateCreated": ts(NOW),
                "dateUpdated": ts(NOW),
                "invoiceCount": 1,
                "successfulInvoiceCount": 1,
                "failedInvoiceCount": 0,
                "upo": {
                    "pages": [
                        {
                            "referenceNumber": ref("EU"),
                            "downloadUrl": "https://blob.ksef.invalid/upo?sig=s",
                            "downloadUrlExpirationDate": ts(NOW + timedelta(hours=1)),
                        }
                    ]
                },
            },
        ),
    )
    ksef_mock.on(
        "GET",
        f"/sessions/{session_ref}/invoices/{invoice_ref}",
        Reply(
            200,
            {
                "ordinalNumber": 1,
                "referenceNumber": invoice_ref,
                "invoiceHash": sha256_b64(INVOICE_XML),
                "invoicingDate": ts(NOW),
                "ksefNumber": ksef_number(1),
                "invoicingMode": "Online",
                "status": {"code": 200, "description": "Sukces"},
            },
        ),
    )
    upo = b'<?xml version="1.0"?><Potwierdzenie/>'
    ksef_mock.on(
        "GET",
        f"/sessions/{session_ref}/invoices/{invoice_ref}/upo",
        Reply(200, raw=upo, headers={"x-ms-meta-hash": sha256_b64(upo)}),
    )
    client = KsefClient(BASE)

    session = client.open_online_session(ACCESS, public_key=public_key)
    sent = client.send_invoice(ACCESS, session, INVOICE_XML)
    client.close_online_session(ACCESS, session.reference_number)
    status = client.get_session_status(ACCESS, session.reference_number)
    invoice_status = client.get_session_invoice_status(ACCESS, session_ref, sent.reference_number)
    receipt = client.download_invoice_upo(ACCESS, session_ref, sent.reference_number)

    (opened,) = ksef_mock.bodies("/sessions/online")
    assert opened["formCode"] == {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"}
    assert (
        oaep_decrypt(ministry_key, opened["encryption"]["encryptedSymmetricKey"])
        == session.encryption.key
    )
    (body,) = ksef_mock.bodies(f"/sessions/online/{session_ref}/invoices")
    content = base64.b64decode(body["encryptedInvoiceContent"])
    assert aes_decrypt(content, session.encryption.key, session.encryption.iv) == INVOICE_XML
    assert body["invoiceHash"] == sha256_b64(INVOICE_XML) == sent.invoice_hash
    assert body["invoiceSize"] == len(INVOICE_XML)
    assert (body["encryptedInvoiceHash"], body["encryptedInvoiceSize"]) == (
        sha256_b64(content),
        len(content),
    )
    assert body["offlineMode"] is False
    assert status.status.code == 200 and status.upo_pages[0].reference_number == ref("EU")
    assert invoice_status.ksef_number == ksef_number(1)
    assert receipt.content == upo and receipt.sha256_b64 == sha256_b64(upo)
    assert "key" not in repr(session.encryption).replace("key=<redacted>", "")
