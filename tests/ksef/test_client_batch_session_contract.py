"""Batch-session requests of our client held to the official contract (respx mocks that
validate every body and query parameter, see test_client_contract_mocks.py), and the part
uploads as blob storage expects them."""

from __future__ import annotations

import base64
import os
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from ksef.batch import BatchPartUploadError, build_batch_package
from ksef.client import KsefClient
from ksef.crypto import PublicKeyCertificate, aes_decrypt, sha256_b64
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
BLOB = "https://ksef-storage.invalid/storage/00/batch-parts"


def ministry() -> tuple[Any, PublicKeyCertificate]:
    key, entry = make_ministry_key_json(
        usage=("SymmetricKeyEncryption",),
        valid_from=NOW - timedelta(days=1),
        valid_to=NOW + timedelta(days=30),
    )
    return key, PublicKeyCertificate.from_json(entry)


def files(count: int) -> list[tuple[str, bytes]]:
    # Random text: it does not compress away, so the archive really spans several parts.
    return [(f"f-{n}.xml", f"<F>{os.urandom(1500).hex()}</F>".encode()) for n in range(count)]


class Waits:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_opening_declares_the_archive_and_the_encrypted_parts_and_seals_the_key(
    ksef_mock: ContractMock,
) -> None:
    ministry_key, public_key = ministry()
    reference = ref("SB")
    with build_batch_package(files(20), part_size=5_000) as package:
        ksef_mock.on(
            "POST",
            "/sessions/batch",
            Reply(
                201,
                {
                    "referenceNumber": reference,
                    "partUploadRequests": [
                        {
                            "ordinalNumber": part.ordinal_number,
                            "method": "PUT",
                            "url": f"{BLOB}/{part.ordinal_number}?sig=secret",
                            "headers": {"x-ms-blob-type": "BlockBlob"},
                        }
                        for part in package.parts
                    ],
                },
            ),
        )

        session = KsefClient(BASE).open_batch_session(
            ACCESS, package, public_key=public_key, offline_mode=True
        )

        (body,) = ksef_mock.bodies("/sessions/batch")
        assert body["offlineMode"] is True
        assert body["batchFile"]["fileSize"] == package.file_size
        assert body["batchFile"]["fileHash"] == package.file_hash
        assert body["batchFile"]["fileParts"] == [
            {"ordinalNumber": p.ordinal_number, "fileSize": p.size, "fileHash": p.hash}
            for p in package.parts
        ]
        oaep = padding.OAEP(
            mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
        )
        key = ministry_key.decrypt(
            base64.b64decode(body["encryption"]["encryptedSymmetricKey"]), oaep
        )
        assert key == package.encryption.key
        assert base64.b64decode(body["encryption"]["initializationVector"]) == package.encryption.iv
        assert session.reference_number == reference
        assert len(session.part_upload_requests) == len(package.parts) > 1
        assert "secret" not in repr(session)


def test_parts_are_put_with_exactly_the_given_headers_a_length_and_no_token(
    ksef_mock: ContractMock,
) -> None:
    with build_batch_package(files(10), part_size=4_000) as package:
        uploads = [
            {
                "ordinalNumber": p.ordinal_number,
                "method": "PUT",
                "url": f"{BLOB}/{p.ordinal_number}?sig=s",
                "headers": {"x-ms-blob-type": "BlockBlob"},
            }
            for p in package.parts
        ]
        ksef_mock.on(
            "POST",
            "/sessions/batch",
            Reply(201, {"referenceNumber": ref("SB"), "partUploadRequests": uploads}),
        )
        received: list[httpx.Request] = []

        def store(request: httpx.Request) -> httpx.Response:
            received.append(request)
            return httpx.Response(201)

        ksef_mock.router.put(url__startswith=BLOB).mock(side_effect=store)
        client = KsefClient(BASE)
        session = client.open_batch_session(ACCESS, package, public_key=ministry()[1])

        client.upload_batch_parts(session, package)

        assert len(received) == len(package.parts) > 1
        assert [r.url.path.rsplit("/", 1)[1] for r in received] == [
            str(p.ordinal_number) for p in package.parts
        ]
        for request, part in zip(received, package.parts, strict=True):
            assert "authorization" not in request.headers
            assert "transfer-encoding" not in request.headers
            assert request.headers["x-ms-blob-type"] == "BlockBlob"
            assert int(request.headers["content-length"]) == part.size == len(request.content)
            assert sha256_b64(request.content) == part.hash
        plain = b"".join(
            aes_decrypt(r.content, package.encryption.key, package.encryption.iv) for r in received
        )
        assert sha256_b64(plain) == package.file_hash


def test_an_upload_retries_a_503_after_its_retry_after_and_reports_a_403(
    ksef_mock: ContractMock,
) -> None:
    with build_batch_package(files(1)) as package:
        ksef_mock.on(
            "POST",
            "/sessions/batch",
            Reply(
                201,
                {
                    "referenceNumber": ref("SB"),
                    "partUploadRequests": [
                        {
                            "ordinalNumber": 1,
                            "method": "PUT",
                            "url": f"{BLOB}/1?sig=s",
                            "headers": {},
                        }
                    ],
                },
            ),
        )
        answers = [httpx.Response(503, headers={"Retry-After": "9"}), httpx.Response(201)]
        ksef_mock.router.put(url__startswith=BLOB).mock(side_effect=answers)
        waits = Waits()
        client = KsefClient(BASE, sleep=waits, jitter=lambda: 0.0)
        session = client.open_batch_session(ACCESS, package, public_key=ministry()[1])

        client.upload_batch_parts(session, package)
        assert waits.waits == [9.0]

        ksef_mock.router.put(url__startswith=BLOB).mock(return_value=httpx.Response(403))
        with pytest.raises(BatchPartUploadError) as refused:
            client.upload_batch_parts(session, package)
        assert (refused.value.ordinal_number, refused.value.status_code) == (1, 403)


def test_lists_send_their_query_and_follow_the_continuation_header(
    ksef_mock: ContractMock,
) -> None:
    session = ref("SB")

    def row(n: int) -> dict[str, Any]:
        return {
            "ordinalNumber": n,
            "referenceNumber": ref("EE", n),
            "invoiceHash": sha256_b64(str(n).encode()),
            "invoiceFileName": f"f-{n}.xml",
            "invoicingDate": ts(NOW),
            "status": {"code": 200, "description": "Sukces"},
        }

    ksef_mock.on(
        "GET",
        f"/sessions/{session}/invoices",
        Reply(200, {"continuationToken": "next-page", "invoices": [row(1), row(2)]}),
        Reply(200, {"continuationToken": None, "invoices": [row(3)]}),
    )
    status = {"code": 100, "description": "Sesja wsadowa rozpoczęta"}
    ksef_mock.on(
        "GET",
        "/sessions",
        Reply(
            200,
            {
                "continuationToken": None,
                "sessions": [
                    {
                        "referenceNumber": session,
                        "status": status,
                        "dateCreated": ts(NOW),
                        "dateUpdated": ts(NOW),
                        "totalInvoiceCount": 0,
                        "successfulInvoiceCount": 0,
                        "failedInvoiceCount": 0,
                    }
                ],
            },
        ),
    )
    client = KsefClient(BASE)

    listed = list(client.iter_session_invoices(ACCESS, session, page_size=10))
    page = client.list_sessions(
        ACCESS, "Batch", statuses=["InProgress", "Failed"], date_created_from=NOW
    )

    assert [i.invoice_file_name for i in listed] == ["f-1.xml", "f-2.xml", "f-3.xml"]
    pages = [r for r in ksef_mock.sent if r.url.path.endswith("/invoices")]
    assert [r.headers.get("x-continuation-token") for r in pages] == [None, "next-page"]
    assert [r.url.params["pageSize"] for r in pages] == ["10", "10"]
    (query,) = [r for r in ksef_mock.sent if r.url.path == "/v2/sessions"]
    assert query.url.params.get_list("statuses") == ["InProgress", "Failed"]
    assert query.url.params["sessionType"] == "Batch"
    assert page.sessions[0].reference_number == session
