"""Streaming export packages: parts streamed to disk, verified, decrypted, read one by one.

The packages are built here with real AES (keys made in the test), in the shape the status
call describes them (validated against the contract's ``InvoicePackage``); the pre-signed
part links are served by respx.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tracemalloc
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from ksef.client import KsefClient
from ksef.crypto import aes_encrypt, generate_symmetric_key, sha256_b64
from ksef.errors import (
    ExportExpired,
    ExportFailed,
    ExportLinkExpired,
    ExportPackageInvalid,
    ExportPartCorrupted,
    KsefTransportError,
)
from ksef.models import EncryptionMaterial, InvoicePackage
from tests.contract import component, validate_schema
from tests.ksef.test_client_contract_mocks import BASE, NOW, ContractMock, Reply, ksef_mock, ref, ts
from tests.ksef.test_client_invoices import ACCESS, ksef_number, metadata

__all__ = ["ksef_mock"]

PART_HOST = "https://blob.ksef.invalid/exports"


def invoice_xml(n: int, filler: int = 200) -> bytes:
    body = os.urandom(filler).hex()
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Faktura n="{n}"><!--{body}--></Faktura>'.encode()
    )


def archive_bytes(files: list[tuple[str, bytes]], compression: str) -> bytes:
    buffer = io.BytesIO()
    if compression == "TarGz":
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for name, content in files:
                info = tarfile.TarInfo(name)
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    else:
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, content in files:
                archive.writestr(name, content)
    return buffer.getvalue()


class Package:
    """An encrypted export package: its InvoicePackage and the bytes behind each link."""

    def __init__(
        self,
        count: int,
        *,
        compression: str = "Zip",
        part_bytes: int = 4096,
        filler: int = 200,
        expires_in: timedelta = timedelta(hours=1),
    ) -> None:
        key, iv = generate_symmetric_key()
        self.encryption = EncryptionMaterial(key, iv)
        self.invoices = {ksef_number(n): invoice_xml(n, filler) for n in range(1, count + 1)}
        rows = [metadata(n, n) for n in range(1, count + 1)]
        files = [(f"{number}.xml", xml) for number, xml in self.invoices.items()]
        files.append(("_metadata.json", json.dumps({"invoices": rows}).encode()))
        self.archive = archive_bytes(files, compression)
        self.plain_parts = [
            self.archive[i : i + part_bytes] for i in range(0, len(self.archive), part_bytes)
        ]
        self.encrypted = [aes_encrypt(p, key, iv) for p in self.plain_parts]
        self.urls = [f"{PART_HOST}/part{i}?se=1&sig=SECRET{i}" for i in range(len(self.encrypted))]
        data: dict[str, Any] = {
            "invoiceCount": count,
            "size": len(self.archive),
            "parts": [
                {
                    "ordinalNumber": i + 1,
                    "partName": f"part_{i + 1:03d}.zip.aes",
                    "method": "GET",
                    "url": self.urls[i],
                    "partSize": len(plain),
                    "partHash": sha256_b64(plain),
                    "encryptedPartSize": len(self.encrypted[i]),
                    "encryptedPartHash": sha256_b64(self.encrypted[i]),
                    "expirationDate": ts(NOW + expires_in),
                }
                for i, plain in enumerate(self.plain_parts)
            ],
            "isTruncated": False,
            "permanentStorageHwmDate": ts(NOW),
        }
        validate_schema(data, component("InvoicePackage"))
        self.package = InvoicePackage.from_json(data)

    def serve(self, router: respx.MockRouter, **replacements: httpx.Response) -> list[respx.Route]:
        """One route per part; ``replacements`` maps ``"part<i>"`` to a different reply."""
        return [
            router.get(url).mock(
                return_value=replacements.get(f"part{i}", httpx.Response(200, content=data))
            )
            for i, (url, data) in enumerate(zip(self.urls, self.encrypted, strict=True))
        ]


def client(**kwargs: Any) -> KsefClient:
    return KsefClient(BASE, clock=lambda: NOW, jitter=lambda: 0.0, **kwargs)


@pytest.mark.parametrize("compression", ["Zip", "TarGz"])
def test_a_multi_part_package_yields_every_invoice_byte_for_byte_and_its_metadata(
    compression: str, tmp_path: Path
) -> None:
    built = Package(30, compression=compression, part_bytes=2048)
    with respx.mock(assert_all_called=True) as router:
        routes = built.serve(router)

        with client().open_export_package(
            built.package, built.encryption, directory=tmp_path
        ) as reader:
            invoices = dict(reader.iter_invoices())
            rows = reader.metadata
            assert reader.compression == compression
            assert list(tmp_path.iterdir())  # the archive is on disk while the reader is open

    assert len(built.package.parts) > 3
    assert invoices == built.invoices
    assert [row.ksef_number for row in rows] == list(built.invoices)
    assert all("Authorization" not in route.calls.last.request.headers for route in routes)
    assert list(tmp_path.iterdir()) == []


def test_the_old_in_memory_download_still_returns_every_file() -> None:
    built = Package(5, compression="TarGz")
    with respx.mock(assert_all_called=False) as router:
        built.serve(router)

        exported = client().download_export_package(built.package, built.encryption)

    assert exported.invoices() == built.invoices
    assert set(exported.files) == {f"{n}.xml" for n in built.invoices} | {"_metadata.json"}
    assert len(exported.metadata) == 5


def test_a_part_with_flipped_bytes_is_reported_as_corrupted_and_nothing_is_left_on_disk(
    tmp_path: Path,
) -> None:
    built = Package(20)
    damaged = bytearray(built.encrypted[1])
    damaged[100] ^= 0xFF
    with respx.mock(assert_all_called=False) as router:
        built.serve(router, part1=httpx.Response(200, content=bytes(damaged)))

        with pytest.raises(ExportPartCorrupted, match="hash mismatch") as caught:
            client().open_export_package(built.package, built.encryption, directory=tmp_path)

    assert caught.value.ordinal_number == 2
    assert list(tmp_path.iterdir()) == []


def test_a_truncated_part_is_reported_as_corrupted() -> None:
    built = Package(20)
    with respx.mock(assert_all_called=False) as router:
        built.serve(router, part2=httpx.Response(200, content=built.encrypted[2][:-32]))

        with pytest.raises(ExportPartCorrupted, match="truncated") as caught:
            client().open_export_package(built.package, built.encryption)

    assert caught.value.ordinal_number == 3


def test_a_part_that_does_not_decrypt_with_the_export_key_is_corrupted() -> None:
    built = Package(3, part_bytes=1_000_000)
    wrong = EncryptionMaterial(*generate_symmetric_key())
    with respx.mock(assert_all_called=False) as router:
        built.serve(router)

        with pytest.raises(ExportPartCorrupted, match=r"decrypt|hash mismatch after"):
            client().open_export_package(built.package, wrong)


@pytest.mark.parametrize("status", [403, 404, 410])
def test_a_refused_link_means_fresh_links_are_needed(status: int, tmp_path: Path) -> None:
    built = Package(10)
    refusal = httpx.Response(status, content=b"<Error><Code>AuthenticationFailed</Code></Error>")
    with respx.mock(assert_all_called=False) as router:
        built.serve(router, part0=refusal)

        with pytest.raises(ExportLinkExpired) as caught:
            client().open_export_package(built.package, built.encryption, directory=tmp_path)

    assert (caught.value.status_code, caught.value.ordinal_number) == (status, 1)
    assert list(tmp_path.iterdir()) == []


def test_a_link_past_its_expiration_date_is_not_even_tried() -> None:
    built = Package(10, expires_in=timedelta(minutes=-1))
    with respx.mock(assert_all_called=False) as router:
        routes = built.serve(router)

        with pytest.raises(ExportLinkExpired, match="expired at") as caught:
            client().open_export_package(built.package, built.encryption)

    assert caught.value.status_code is None
    assert all(route.call_count == 0 for route in routes)


def test_a_server_error_or_a_broken_connection_on_a_part_is_retried_from_the_parts_start() -> None:
    built = Package(20)
    waits: list[float] = []
    with respx.mock(assert_all_called=False) as router:
        routes = built.serve(router)
        good = httpx.Response(200, content=built.encrypted[1])
        routes[1].side_effect = [
            httpx.Response(503),
            httpx.ReadTimeout("slow storage"),
            good,
        ]

        with client(sleep=waits.append).open_export_package(
            built.package, built.encryption
        ) as reader:
            invoices = dict(reader.iter_invoices())

    assert invoices == built.invoices
    assert routes[1].call_count == 3 and len(waits) == 2


def test_a_part_that_keeps_failing_raises_a_transport_error_after_the_retries() -> None:
    built = Package(5)
    with respx.mock(assert_all_called=False) as router:
        routes = built.serve(router)
        routes[0].side_effect = httpx.ConnectError("storage down")

        with pytest.raises(KsefTransportError, match="export part 1"):
            client(sleep=lambda _: None, max_retries=2).open_export_package(
                built.package, built.encryption
            )

    assert routes[0].call_count == 3


def test_members_beyond_the_unpack_caps_are_refused() -> None:
    built = Package(5, filler=5_000)
    with respx.mock(assert_all_called=False) as router:
        built.serve(router)

        with (
            client().open_export_package(
                built.package, built.encryption, max_member_bytes=1_000
            ) as reader,
            pytest.raises(ExportPackageInvalid, match="more than 1000 bytes"),
        ):
            list(reader.iter_invoices())


def test_a_package_that_is_no_archive_is_invalid() -> None:
    built = Package(2)
    key, iv = built.encryption.key, built.encryption.iv
    bogus = b"not an archive at all"
    encrypted = aes_encrypt(bogus, key, iv)
    data = {
        "invoiceCount": 0,
        "size": len(bogus),
        "parts": [
            {
                "ordinalNumber": 1,
                "partName": "p",
                "method": "GET",
                "url": built.urls[0],
                "partSize": len(bogus),
                "partHash": sha256_b64(bogus),
                "encryptedPartSize": len(encrypted),
                "encryptedPartHash": sha256_b64(encrypted),
                "expirationDate": ts(NOW + timedelta(hours=1)),
            }
        ],
        "isTruncated": False,
    }
    with respx.mock(assert_all_called=False) as router:
        router.get(built.urls[0]).mock(return_value=httpx.Response(200, content=encrypted))

        with pytest.raises(ExportPackageInvalid, match=r"neither ZIP nor tar\.gz"):
            client().open_export_package(InvoicePackage.from_json(data), built.encryption)


def test_a_package_without_parts_reads_as_empty() -> None:
    built = Package(0)
    data = {"invoiceCount": 0, "size": 0, "parts": [], "isTruncated": False}

    with client().open_export_package(InvoicePackage.from_json(data), built.encryption) as reader:
        assert (list(reader.iter_invoices()), reader.metadata) == ([], ())


def _trickle(data: bytes, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """The body as a network would deliver it: in small chunks."""
    view = memoryview(data)
    for start in range(0, len(view), chunk):
        yield bytes(view[start : start + chunk])


@pytest.mark.parametrize("compression", ["Zip", "TarGz"])
def test_streaming_a_package_of_several_megabytes_keeps_memory_at_a_small_fraction_of_it(
    compression: str,
) -> None:
    built = Package(64, compression=compression, part_bytes=512 * 1024, filler=64 * 1024)
    assert len(built.archive) > 4_000_000
    with respx.mock(assert_all_called=False) as router:
        routes = built.serve(router)
        for route, data in zip(routes, built.encrypted, strict=True):
            route.side_effect = lambda request, data=data: httpx.Response(
                200, content=_trickle(data)
            )
        digests: dict[str, str] = {}
        tracemalloc.start()
        try:
            with client().open_export_package(built.package, built.encryption) as reader:
                for number, xml in reader.iter_invoices():
                    digests[number] = hashlib.sha256(xml).hexdigest()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert digests == {n: hashlib.sha256(x).hexdigest() for n, x in built.invoices.items()}
    assert peak < len(built.archive) / 5, f"peak {peak} B for a {len(built.archive)} B package"


def test_an_expired_export_is_its_own_error_so_the_engine_starts_again_from_the_same_from(
    ksef_mock: ContractMock,
) -> None:
    ksef_mock.on(
        "GET",
        f"/invoices/exports/{ref('EH')}",
        Reply(
            200,
            {
                "status": {
                    "code": 210,
                    "description": "Eksport faktur wygasł i nie jest już dostępny do pobrania",
                }
            },
        ),
    )

    with pytest.raises(ExportExpired) as caught:
        client().wait_for_invoice_export(ACCESS, ref("EH"))

    assert caught.value.code == 210 and isinstance(caught.value, ExportFailed)
