"""Secrets at rest: never in plaintext in any table or log; replacement and deletion
destroy them; key rotation keeps them readable, and a wrong key fails loudly."""

from __future__ import annotations

import base64
import logging
from io import StringIO

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from certificates.custody import KeySpec, SecretUnreadable, rotate_encryption_key, secret_read
from certificates.models import Credential, CredentialSecret
from tests.certificates.conftest import PASSWORD, make_files, token_for, upload_url

NEW_KEY = "a-brand-new-cryptography-key-for-rotation-tests"


def _all_rows_as_bytes() -> bytes:
    """Every value of every table, as the database stores it."""
    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview):
                        value = value.tobytes()
                    dump.append(value if isinstance(value, bytes) else str(value).encode())
    return b"\n".join(dump)


@pytest.fixture
def stored(login, accountant, client_company, client_files, caplog):  # type: ignore[no-untyped-def]
    """A certificate and a token uploaded through the views, with DEBUG logs captured."""
    caplog.set_level(logging.DEBUG)
    browser = login(accountant)
    assert browser.post(upload_url(client_company.pk), client_files.pair()).status_code == 302
    token = token_for(client_company.nip, "c0ffee" * 10 + "abcd")
    assert browser.post(upload_url(client_company.pk, "token"), {"token": token}).status_code == 302
    browser.get(reverse("certificates:client", args=[client_company.pk]))
    return client_files, token


def _secrets(files, token: str) -> list[bytes]:  # type: ignore[no-untyped-def]
    raw_key = files.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return [
        files.key_pem,
        PASSWORD.encode(),
        token.encode(),
        token.split("|")[2].encode(),
        base64.b64encode(raw_key)[:40],
        raw_key[-32:],
    ]


def test_no_table_and_no_log_holds_a_secret_in_plaintext(stored, caplog):
    files, token = stored
    dump = _all_rows_as_bytes()
    logs = caplog.text.encode()
    assert Credential.objects.count() == 2
    for secret in _secrets(files, token):
        assert secret not in dump
        assert secret not in logs


def test_secrets_decrypt_only_through_the_service(stored, client_company):
    _files, token = stored
    certificate = Credential.objects.get(kind="authentication")
    material = secret_read(certificate)
    assert material.key_password == PASSWORD
    assert "PRIVATE KEY" in material.private_key_pem
    assert PASSWORD not in repr(material)
    assert secret_read(Credential.objects.get(kind="token")).token == token


def test_an_accountant_cannot_destroy_a_working_key_by_uploading_another_certificate(
    stored, login, accountant, client_company
):
    old = Credential.objects.get(kind="authentication")
    browser = login(accountant)
    response = browser.post(upload_url(client_company.pk), make_files(client_company.nip).pair())
    assert response.status_code == 200
    assert "może to zrobić tylko kierownik lub administrator" in response.content.decode()
    old.refresh_from_db()
    assert old.status == "active"
    assert Credential.objects.filter(kind="authentication").count() == 1
    assert secret_read(old).key_password == PASSWORD


def test_replacing_keeps_the_history_and_destroys_the_old_secret(
    stored, login, manager, client_company
):
    old = Credential.objects.get(kind="authentication")
    browser = login(manager)
    response = browser.post(upload_url(client_company.pk), make_files(client_company.nip).pair())
    assert response.status_code == 302

    old.refresh_from_db()
    new = Credential.objects.get(kind="authentication", status="active")
    assert (old.status, old.replaced_by_id) == ("replaced", new.pk)
    assert old.serial_number and old.uploaded_by_id
    secret = CredentialSecret.objects.get(credential=old)
    assert (secret.private_key_pem, secret.key_password, secret.token) == ("", "", "")
    assert secret.destroyed_at is not None
    with pytest.raises(SecretUnreadable):
        secret_read(old)
    page = browser.get(reverse("certificates:client", args=[client_company.pk])).content.decode()
    assert old.serial_number in page  # history shows the metadata
    assert 'data-action="credential.replaced"' in page


def test_deleting_destroys_the_secret_and_is_logged(stored, login, manager, client_company):
    token_credential = Credential.objects.get(kind="token")
    browser = login(manager)
    response = browser.post(reverse("certificates:delete", args=[token_credential.pk]))
    assert response.status_code == 302
    token_credential.refresh_from_db()
    assert token_credential.status == "deleted"
    assert CredentialSecret.objects.get(credential=token_credential).token == ""
    page = browser.get(reverse("certificates:detail", args=[token_credential.pk])).content.decode()
    assert 'data-action="credential.deleted"' in page


def test_rotation_keeps_every_secret_and_the_old_key_no_longer_reads_them(stored):
    _files, token = stored
    report = rotate_encryption_key(old=KeySpec(), new=KeySpec(cryptography_key=NEW_KEY))
    assert report.rows == 2 and report.values >= 6

    # The running process still holds the old key: access now fails loudly, no garbage.
    for credential in Credential.objects.all():
        with pytest.raises(SecretUnreadable):
            secret_read(credential)
    # Rotating back with the new key as the "old" one restores everything.
    rotate_encryption_key(old=KeySpec(cryptography_key=NEW_KEY), new=KeySpec())
    assert secret_read(Credential.objects.get(kind="token")).token == token
    assert secret_read(Credential.objects.get(kind="authentication")).key_password == PASSWORD


def test_rotation_with_a_wrong_old_key_changes_nothing(stored):
    before = _all_rows_as_bytes()
    with pytest.raises(CommandError, match="does not decrypt with the old key"):
        call_command("rotate_encryption_key", old_key="not-the-key-we-used", stdout=StringIO())
    assert _all_rows_as_bytes() == before
    assert secret_read(Credential.objects.get(kind="token")).token == stored[1]


def test_a_secret_key_change_is_rotated_too(stored, settings):
    rotate_encryption_key(old=KeySpec(), new=KeySpec(secret_key="another-django-secret-key"))
    with pytest.raises(SecretUnreadable):
        secret_read(Credential.objects.get(kind="token"))
    rotate_encryption_key(old=KeySpec(secret_key="another-django-secret-key"), new=KeySpec())
    assert secret_read(Credential.objects.get(kind="token")).token == stored[1]


def test_the_command_rotates_from_the_environment_and_reports(stored, monkeypatch):
    out = StringIO()
    call_command("rotate_encryption_key", new_key=NEW_KEY, stdout=out)
    assert "credential secrets verified" in out.getvalue()
    monkeypatch.setenv("OLD_CRYPTOGRAPHY_KEY", NEW_KEY)
    call_command("rotate_encryption_key", stdout=StringIO())
    assert secret_read(Credential.objects.get(kind="token")).token == stored[1]


def test_the_command_refuses_to_rotate_to_the_same_key(db):
    with pytest.raises(CommandError, match="same"):
        call_command("rotate_encryption_key", stdout=StringIO())
