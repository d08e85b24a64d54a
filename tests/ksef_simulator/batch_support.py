"""Client side of batch sessions for the simulator tests, written with zipfile and
`cryptography` directly (never with our `ksef/` package): the archive, its parts encrypted
with the session key, the opening body, the uploads and the paged invoice list."""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from tests.ksef_simulator.helpers import bearer
from tests.ksef_simulator.invoice_support import (
    FA3_FORM,
    SessionKey,
    encryption_info,
    renumbered,
    sample,
    sha256_b64,
)

SAMPLE_NUMBER = "FV2026/02/150"


def invoices(count: int, prefix: str = "B") -> dict[str, bytes]:
    """COUNT distinct schema-valid invoices of 9999999999 (the official example renumbered),
    keyed by their file name in the archive."""
    xml = sample()
    return {
        f"faktura-{n:04d}.xml": renumbered(xml, SAMPLE_NUMBER, f"{prefix}/{n:04d}")
        for n in range(1, count + 1)
    }


def issued_on(xml: bytes, day: date) -> bytes:
    return xml.replace(b"<P_1>2026-02-15</P_1>", f"<P_1>{day.isoformat()}</P_1>".encode())


def zip_archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def tar_gz_archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def split(data: bytes, parts: int) -> list[bytes]:
    """DATA cut into PARTS binary pieces (the last one may be shorter)."""
    size = -(-len(data) // parts)
    return [data[i * size : (i + 1) * size] for i in range(parts)]


@dataclass
class Package:
    archive: bytes
    key: SessionKey
    encrypted_parts: list[bytes]


def package(archive: bytes, parts: int = 1, key: SessionKey | None = None) -> Package:
    key = key or SessionKey.random()
    return Package(archive, key, [key.encrypt(piece) for piece in split(archive, parts)])


def open_body(
    sim: httpx.Client, pkg: Package, *, offline: bool = False, compression: str | None = None
) -> dict[str, Any]:
    batch_file: dict[str, Any] = {
        "fileSize": len(pkg.archive),
        "fileHash": sha256_b64(pkg.archive),
        "fileParts": [
            {"ordinalNumber": n, "fileSize": len(part), "fileHash": sha256_b64(part)}
            for n, part in enumerate(pkg.encrypted_parts, start=1)
        ],
    }
    if compression:
        batch_file["compressionType"] = compression
    return {
        "formCode": FA3_FORM,
        "batchFile": batch_file,
        "encryption": encryption_info(sim, pkg.key),
        "offlineMode": offline,
    }


def open_batch(
    sim: httpx.Client,
    access: str,
    pkg: Package,
    *,
    edit: Callable[[dict[str, Any]], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    data = open_body(sim, pkg, **options)
    if edit is not None:
        edit(data)
    response = sim.post("/sessions/batch", json=data, headers=bearer(access))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def upload(sim: httpx.Client, request: dict[str, Any], content: bytes) -> httpx.Response:
    """The part as KSeF asks: its method, its URL, exactly its headers, no token."""
    return sim.request(
        request["method"], request["url"], content=content, headers=request["headers"]
    )


def upload_all(sim: httpx.Client, opened: dict[str, Any], pkg: Package) -> None:
    for request in opened["partUploadRequests"]:
        response = upload(sim, request, pkg.encrypted_parts[request["ordinalNumber"] - 1])
        assert response.status_code == 201, response.text


def close(sim: httpx.Client, access: str, reference: str) -> httpx.Response:
    return sim.post(f"/sessions/batch/{reference}/close", headers=bearer(access))


def send_batch(sim: httpx.Client, access: str, pkg: Package, **options: Any) -> str:
    """Open, upload every part, close; the session's reference number."""
    opened = open_batch(sim, access, pkg, **options)
    upload_all(sim, opened, pkg)
    response = close(sim, access, opened["referenceNumber"])
    assert response.status_code == 204, response.text
    return str(opened["referenceNumber"])


def session_status(sim: httpx.Client, access: str, reference: str) -> dict[str, Any]:
    response = sim.get(f"/sessions/{reference}", headers=bearer(access))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def all_invoices(
    sim: httpx.Client, access: str, reference: str, *, failed: bool = False
) -> list[dict[str, Any]]:
    """Every invoice status of the session, following x-continuation-token."""
    path = f"/sessions/{reference}/invoices" + ("/failed" if failed else "")
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        headers = bearer(access) | ({"x-continuation-token": token} if token else {})
        response = sim.get(path, params={"pageSize": 100}, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        found.extend(page["invoices"])
        token = page.get("continuationToken")
        if not token:
            return found
