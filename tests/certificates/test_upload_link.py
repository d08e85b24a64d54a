"""The client's single-use, expiring upload link."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils import timezone

from certificates.models import Credential, UploadLink
from certificates.services import upload_link_create, upload_link_token_hash
from portal.models import AuditEvent
from tests.certificates.conftest import make_files
from tests.factories import make_client


@pytest.fixture(autouse=True)
def _fresh_rate_limits():  # type: ignore[no-untyped-def]
    cache.clear()
    yield
    cache.clear()


def _send_link(browser, client, django_capture_on_commit_callbacks, kind="authentication") -> str:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(
            reverse("certificates:link_create", args=[client.pk]),
            {"kind": kind, "recipient_email": client.contact_emails[0]},
        )
    assert response.status_code == 302
    url = re.search(r"https?://\S+/credentials/u/[\w-]+/", str(mail.outbox[-1].body))
    assert url is not None
    return url.group(0).split("testserver")[-1].split("8000")[-1]


def test_the_contact_gets_a_polish_email_and_only_a_hash_is_stored(
    login, accountant, client_company, django_capture_on_commit_callbacks
):
    path = _send_link(login(accountant), client_company, django_capture_on_commit_callbacks)
    message = mail.outbox[-1]
    assert message.to == client_company.contact_emails[:1]
    assert "prosi o przesłanie poświadczenia KSeF" in message.body
    assert isinstance(message, EmailMultiAlternatives)
    assert message.alternatives and "<a href=" in str(message.alternatives[0][0])
    raw = path.rstrip("/").rsplit("/", 1)[-1]
    assert len(raw) >= 43
    link = UploadLink.objects.get()
    assert link.token_hash == upload_link_token_hash(raw) and raw not in link.token_hash
    assert (link.expires_at - timezone.now()).days == 6  # 7 days, minus the running second


def test_the_link_works_once_then_is_gone_and_the_accountant_is_told(
    client, login, accountant, client_company, client_files, django_capture_on_commit_callbacks
):
    path = _send_link(login(accountant), client_company, django_capture_on_commit_callbacks)
    client.logout()

    page = client.get(path)
    assert page.status_code == 200
    assert client_company.name in page.content.decode()
    assert "Wyloguj" not in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(path, client_files.pair())
    assert done.status_code == 200
    assert "Dziękujemy" in done.content.decode()
    credential = Credential.objects.get()
    assert (credential.client, credential.source) == (client_company, "client_link")
    assert mail.outbox[-1].to == [accountant.user.email]
    assert "przesłał przez jednorazowy link" in mail.outbox[-1].body

    assert client.get(path).status_code == 410
    assert client.post(path, make_files(client_company.nip).pair()).status_code == 410
    assert Credential.objects.count() == 1
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"upload_link.created", "upload_link.used", "credential.uploaded"} <= actions


def test_an_expired_link_is_refused(client, accountant, client_company, client_files):
    link = upload_link_create(
        actor=accountant.user,
        client=client_company,
        kind="authentication",
        recipient_email="ksiegowosc@klient.example",
    )
    # The raw token exists only in the e-mail; make a known one for this test.
    raw = "expired-link-token-for-tests-0123456789abcdefghij"
    UploadLink.objects.filter(pk=link.pk).update(
        token_hash=upload_link_token_hash(raw), expires_at=timezone.now() - timedelta(seconds=1)
    )
    path = reverse("certificates:self_upload", args=[raw])
    assert client.get(path).status_code == 410
    assert client.post(path, client_files.pair()).status_code == 410
    assert Credential.objects.count() == 0


def test_a_link_uploads_only_for_its_own_client(
    client,
    login,
    accountant,
    office,
    client_company,
    client_files,
    django_capture_on_commit_callbacks,
):
    other_client = make_client(office, assigned=[accountant], name="Inna Firma sp. z o.o.")
    path = _send_link(login(accountant), client_company, django_capture_on_commit_callbacks)
    client.logout()

    response = client.post(path, make_files(other_client.nip).pair())

    assert response.status_code == 200
    assert "nie do klienta (NIP" in response.content.decode()
    assert Credential.objects.count() == 0
    assert UploadLink.objects.get().failed_attempts == 1
    assert AuditEvent.objects.filter(action="upload_link.attempt_refused").count() == 1
    assert client.post(path, client_files.pair()).status_code == 200
    assert Credential.objects.get().client == client_company


def test_a_guessed_link_is_404_and_guessing_is_rate_limited(client, db):
    for attempt in range(30):
        assert (
            client.get(reverse("certificates:self_upload", args=[f"guess-{attempt}"])).status_code
            == 404
        )
    assert client.get(reverse("certificates:self_upload", args=["guess-31"])).status_code == 429


def test_too_many_failed_attempts_kill_the_link(
    client, login, accountant, client_company, client_files, django_capture_on_commit_callbacks
):
    path = _send_link(login(accountant), client_company, django_capture_on_commit_callbacks)
    client.logout()
    UploadLink.objects.update(failed_attempts=10)
    assert client.post(path, client_files.pair()).status_code == 410


def test_a_revoked_link_is_gone(
    client, login, accountant, client_company, django_capture_on_commit_callbacks
):
    browser = login(accountant)
    path = _send_link(browser, client_company, django_capture_on_commit_callbacks)
    link = UploadLink.objects.get()
    assert browser.post(reverse("certificates:link_revoke", args=[link.pk])).status_code == 302
    client.logout()
    assert client.get(path).status_code == 410


def test_a_token_can_be_sent_through_a_link(
    client, login, accountant, client_company, django_capture_on_commit_callbacks
):
    from tests.certificates.conftest import token_for

    path = _send_link(
        login(accountant), client_company, django_capture_on_commit_callbacks, kind="token"
    )
    client.logout()
    response = client.post(path, {"token": token_for(client_company.nip)})
    assert response.status_code == 200
    assert Credential.objects.get().kind == "token"


def test_a_successful_htmx_upload_replaces_the_whole_page_with_the_final_one(
    client, login, accountant, client_company, client_files, django_capture_on_commit_callbacks
):
    path = _send_link(login(accountant), client_company, django_capture_on_commit_callbacks)
    client.logout()

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(path, client_files.pair(), headers={"HX-Request": "true"})

    body = done.content.decode()
    assert done.status_code == 200
    # The form targets #upload-form; the final page takes the whole content's place instead.
    assert (done["HX-Retarget"], done["HX-Reswap"]) == ("#self-upload", "outerHTML")
    assert "Dziękujemy" in body and "<title>" in body
    assert "<header" not in body and "<html" not in body
    assert "Link działa jednorazowo" not in body


def test_a_successful_upload_without_javascript_gets_one_full_final_page(
    client, login, accountant, client_company, client_files, django_capture_on_commit_callbacks
):
    path = _send_link(login(accountant), client_company, django_capture_on_commit_callbacks)
    client.logout()

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(path, client_files.pair())

    body = done.content.decode()
    assert body.count("<header") == 1 and body.count("<h1") == 1
    assert "Dziękujemy" in body
    assert "Link działa jednorazowo" not in body
    assert "HX-Retarget" not in done


def test_a_refused_htmx_upload_still_answers_with_the_form_alone(
    client, login, accountant, office, client_company, django_capture_on_commit_callbacks
):
    path = _send_link(login(accountant), client_company, django_capture_on_commit_callbacks)
    client.logout()
    other = make_client(office, name="Inna Firma sp. z o.o.")

    response = client.post(path, make_files(other.nip).pair(), headers={"HX-Request": "true"})

    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="upload-form">')
    assert "HX-Retarget" not in response
    assert "nie do klienta (NIP" in body
