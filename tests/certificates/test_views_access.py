"""Who may open what: 404 for another office or an unassigned client, 403 for the role,
405 for the method, and the HTMX fragment vs the full page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from certificates.models import Credential, CredentialCheck, UploadLink
from certificates.services import credential_upload, upload_link_create
from certificates.validation import CertificateUpload, UploadedFile
from clients.models import AccessModel
from tests.certificates.conftest import PASSWORD, make_files, token_for


def _store_client_credential(client_company, accountant) -> Credential:  # type: ignore[no-untyped-def]
    files = make_files(client_company.nip)
    return credential_upload(
        office=client_company.office,
        client=client_company,
        kind="authentication",
        upload=CertificateUpload(
            certificate=UploadedFile("c.crt", files.certificate_pem),
            private_key=UploadedFile("k.key", files.key_pem),
            password=PASSWORD,
        ),
        actor=accountant.user,
    ).credential


@pytest.fixture
def credential(client_company, accountant):  # type: ignore[no-untyped-def]
    return _store_client_credential(client_company, accountant)


@pytest.fixture
def check(credential, client_company, accountant):  # type: ignore[no-untyped-def]
    return CredentialCheck.objects.create(
        credential=credential, client=client_company, requested_by=accountant.user
    )


@pytest.fixture
def link(client_company, accountant):  # type: ignore[no-untyped-def]
    return upload_link_create(
        actor=accountant.user,
        client=client_company,
        kind="token",
        recipient_email="ksiegowosc@klient.example",
    )


def _urls(client_company, credential, check, link) -> dict[str, tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """name -> (url, allowed method, a method that must be refused)."""
    c, k = client_company.pk, credential.pk
    return {
        "client": (reverse("certificates:client", args=[c]), "get", "post"),
        "access_model": (reverse("certificates:access_model", args=[c]), "post", "get"),
        "upload": (reverse("certificates:upload", args=[c, "token"]), "get", "put"),
        "link_create": (reverse("certificates:link_create", args=[c]), "post", "get"),
        "check_start": (reverse("certificates:check_start", args=[c, k]), "post", "get"),
        "detail": (reverse("certificates:detail", args=[k]), "get", "post"),
        "delete": (reverse("certificates:delete", args=[k]), "post", "get"),
        "check": (reverse("certificates:check", args=[check.pk]), "get", "post"),
        "link_revoke": (reverse("certificates:link_revoke", args=[link.pk]), "post", "get"),
    }


NAMES = [
    "client",
    "access_model",
    "upload",
    "link_create",
    "check_start",
    "detail",
    "delete",
    "check",
    "link_revoke",
]


@pytest.mark.parametrize("name", NAMES)
def test_another_office_gets_404(name, login, outsider, client_company, credential, check, link):
    url, method, _wrong = _urls(client_company, credential, check, link)[name]
    assert getattr(login(outsider), method)(url).status_code == 404


@pytest.mark.parametrize("name", NAMES)
def test_an_unassigned_accountant_gets_404(
    name, login, unassigned_accountant, client_company, credential, check, link
):
    url, method, _wrong = _urls(client_company, credential, check, link)[name]
    assert getattr(login(unassigned_accountant), method)(url).status_code == 404


@pytest.mark.parametrize("name", NAMES)
def test_the_wrong_method_gets_405(name, login, manager, client_company, credential, check, link):
    url, _method, wrong = _urls(client_company, credential, check, link)[name]
    assert getattr(login(manager), wrong)(url).status_code == 405


@pytest.mark.parametrize("name", NAMES)
def test_anonymous_users_are_sent_to_login(name, client, client_company, credential, check, link):
    url, method, _wrong = _urls(client_company, credential, check, link)[name]
    response = getattr(client, method)(url)
    assert response.status_code == 302 and "/login" in response["Location"]


@pytest.mark.parametrize("name", ["client", "upload", "detail", "check"])
def test_the_assigned_accountant_sees_pages(
    name, login, accountant, client_company, credential, check, link
):
    url, _method, _wrong = _urls(client_company, credential, check, link)[name]
    response = login(accountant).get(url)
    assert response.status_code == 200
    assert "<html" in response.content.decode()


@pytest.mark.parametrize(
    ("name", "marker"),
    [
        ("client", 'id="credential-slots"'),
        ("upload", 'id="upload-form"'),
        ("detail", 'id="custody-log"'),
        ("check", 'class="check-status"'),
    ],
)
def test_htmx_requests_get_the_fragment_only(
    name, marker, login, manager, client_company, credential, check, link
):
    url, _method, _wrong = _urls(client_company, credential, check, link)[name]
    response = login(manager).get(url, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200
    assert marker in page and "<html" not in page


def test_an_accountant_may_not_delete_a_client_credential(login, accountant, credential):
    response = login(accountant).post(reverse("certificates:delete", args=[credential.pk]))
    assert response.status_code == 403
    credential.refresh_from_db()
    assert credential.is_active


def test_only_admins_upload_or_delete_the_office_certificate(
    login, admin_member, manager, accountant, office
):
    url = reverse("certificates:office_upload")
    assert login(manager).get(url).status_code == 403
    assert login(accountant).post(url, {}).status_code == 403
    assert login(admin_member).put(url).status_code == 405
    assert login(admin_member).get(url).status_code == 200
    files = make_files(office.nip)
    response = login(admin_member).post(url, files.pair())
    assert response.status_code == 302
    office_credential = Credential.objects.get(client__isnull=True)
    assert (
        login(manager).post(reverse("certificates:delete", args=[office_credential.pk])).status_code
        == 403
    )
    page = login(accountant).get(reverse("certificates:office")).content.decode()
    assert office_credential.serial_number in page and "office_upload" not in page
    delete = login(admin_member).post(reverse("certificates:delete", args=[office_credential.pk]))
    assert delete.status_code == 302


def test_a_client_credential_cannot_be_checked_in_another_clients_context(
    login, manager, office, credential, accountant
):
    from tests.factories import make_client

    other = make_client(office, assigned=[accountant])
    url = reverse("certificates:check_start", args=[other.pk, credential.pk])
    assert login(manager).post(url).status_code == 404


def test_choosing_the_access_model_is_recorded(login, accountant, client_company):
    response = login(accountant).post(
        reverse("certificates:access_model", args=[client_company.pk]), {"access_model": "office"}
    )
    assert response.status_code == 302
    client_company.refresh_from_db()
    assert client_company.access_model == AccessModel.OFFICE
    page = (
        login(accountant)
        .get(reverse("certificates:client", args=[client_company.pk]))
        .content.decode()
    )
    assert 'data-action="client.access_model_set"' in page
    assert 'id="office-credential"' in page


def test_the_upload_form_is_locked_until_the_prerequisite_is_met(login, accountant, client_company):
    from clients.models import Prerequisite

    Prerequisite.objects.filter(client=client_company).update(state=Prerequisite.State.FILED)
    page = (
        login(accountant)
        .get(reverse("certificates:client", args=[client_company.pk]))
        .content.decode()
    )
    assert 'id="credentials-locked"' in page
    assert reverse("certificates:upload", args=[client_company.pk, "authentication"]) not in page


def test_the_public_link_page_refuses_other_methods(client, link):
    assert client.put(reverse("certificates:self_upload", args=["whatever"])).status_code == 405


def test_the_token_upload_never_renders_the_token_back(login, accountant, client_company):
    browser = login(accountant)
    token = token_for(client_company.nip)
    assert (
        browser.post(
            reverse("certificates:upload", args=[client_company.pk, "token"]), {"token": token}
        ).status_code
        == 302
    )
    page = browser.get(reverse("certificates:client", args=[client_company.pk])).content.decode()
    assert token.split("|")[0] in page  # the reference number identifies it
    assert token.split("|")[2] not in page
    assert UploadLink.objects.count() == 0
