"""The secrets scan extended to renewal: the key the portal generates never appears in
clear in the database, the logs, task arguments or pages — not even mid-enrollment."""

from __future__ import annotations

import base64
import logging

import pytest
from cryptography.hazmat.primitives import serialization
from django.urls import reverse

from certificates.custody import secret_read
from certificates.models import Credential, CredentialRenewal
from certificates.renewal import services
from ksef import certificates as kc
from tests.certificates.test_custody import _all_rows_as_bytes


def _forms_of(private_key_pem: str) -> list[bytes]:
    key = kc.load_private_key(private_key_pem.encode())
    raw = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return [private_key_pem.encode(), base64.b64encode(raw)[:40], raw[-32:]]


class _Died(BaseException):
    pass


def test_the_generated_key_is_never_in_clear_anywhere(
    sim, due_client, login, manager, caplog, monkeypatch, _on_commit_runs
):
    caplog.set_level(logging.DEBUG)
    client, old, _files = due_client
    queued: list[tuple[object, ...]] = []
    real_enqueue = services.enqueue_on_commit

    def recording(name: str, *args: int) -> None:
        queued.append(args)
        real_enqueue(name, *args)

    monkeypatch.setattr(services, "enqueue_on_commit", recording)

    # Mid-enrollment (the worker died after KSeF issued it): the key waits on the row.
    renewal = services.renewal_for(old)
    real_store = services._store_renewed
    monkeypatch.setattr(services, "_store_renewed", lambda *a, **k: (_ for _ in ()).throw(_Died))
    with pytest.raises(_Died):
        services.renewal_perform(renewal_id=renewal.pk)
    pending = CredentialRenewal.objects.get(pk=renewal.pk).pending_private_key_pem
    assert "PRIVATE KEY" in pending
    dump = _all_rows_as_bytes()
    for secret in _forms_of(pending):
        assert secret not in dump

    monkeypatch.setattr(services, "_store_renewed", real_store)
    browser = login(manager)
    with _on_commit_runs(execute=True):
        browser.post(reverse("renewal:run", args=[old.pk]))
    renewed = Credential.objects.get(client=client, kind="authentication", status="active")
    material = secret_read(renewed)
    assert material.private_key_pem.strip() == pending.strip()
    pages = b"".join(
        browser.get(url).content
        for url in (
            reverse("renewal:client", args=[client.pk]),
            reverse("renewal:office"),
            reverse("certificates:client", args=[client.pk]),
            reverse("certificates:detail", args=[renewed.pk]),
            reverse("audit:list"),
        )
    )
    dump = _all_rows_as_bytes()
    logs = caplog.text.encode()
    for secret in _forms_of(material.private_key_pem):
        assert secret not in dump
        assert secret not in logs
        assert secret not in pages
    # Tasks were given row ids, nothing else.
    assert queued and all(isinstance(arg, int) for args in queued for arg in args)
    assert CredentialRenewal.objects.get(pk=renewal.pk).pending_private_key_pem == ""
