"""Helpers for the credential tests: credentials made in the test, posted like a browser."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.ksef.keys import key_pem, make_certificate, make_ec_key, make_pkcs12, make_rsa_key, pem

PASSWORD = "Tajne-Haslo-Klucza-2026!"


def upload_file(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


@dataclass
class CredentialFiles:
    """A key and certificate made for one test, in the forms a user would upload."""

    key: Any
    certificate: Any
    password: str = PASSWORD
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def certificate_pem(self) -> bytes:
        return pem(self.certificate)

    @property
    def key_pem(self) -> bytes:
        return key_pem(self.key, self.password)

    def pair(self, **overrides: Any) -> dict[str, Any]:
        data = {
            "certificate": upload_file("cert.crt", self.certificate_pem),
            "private_key": upload_file("klucz.key", self.key_pem),
            "password": self.password,
        }
        data.update(overrides)
        return data

    def p12(self, **overrides: Any) -> dict[str, Any]:
        data = {
            "pkcs12": upload_file(
                "cert.p12", make_pkcs12(self.key, self.certificate, self.password)
            ),
            "password": self.password,
        }
        data.update(overrides)
        return data


def make_files(nip: str, *, ec: bool = True, **certificate_options: Any) -> CredentialFiles:
    key = make_ec_key() if ec else make_rsa_key()
    certificate_options.setdefault("organization", True)
    return CredentialFiles(
        key=key, certificate=make_certificate(key, nip=nip, **certificate_options)
    )


@pytest.fixture
def client_files(client_company) -> CredentialFiles:  # type: ignore[no-untyped-def]
    """An organisation authentication certificate (seal) carrying the client's NIP."""
    return make_files(client_company.nip)


@pytest.fixture
def office_files(office) -> CredentialFiles:  # type: ignore[no-untyped-def]
    return make_files(office.nip)


def upload_url(client_pk: int, kind: str = "authentication") -> str:
    return reverse("certificates:upload", args=[client_pk, kind])


def token_for(nip: str, secret: str = "a1" * 32) -> str:
    return f"20260101-EC-1DCE3E3000-12ECB5B36E-45|nip-{nip}|{secret}"
