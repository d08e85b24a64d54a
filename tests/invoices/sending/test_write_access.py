"""A client credential without InvoiceWrite in the client's context is reported on the
upload page before any upload is accepted: a ZAW-FA person's certificate (CredentialsManage
only) and a KSeF token are asked about in KSeF; the owner's seal is not asked about."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from certificates.models import Credential
from clients.models import AccessModel, Client, LegalForm, Prerequisite
from invoices.models import SendJob
from invoices.sending.write_access import credential_write_problem, holds_owner_rights
from tests.certificates.conftest import upload_url
from tests.factories import valid_nip
from tests.grants.grants_support import store_personal
from tests.invoices.sending.support import example, queued_job, seller, sendsim_fixture  # noqa: F401
from tests.ksef_simulator.helpers import bearer, grant_testdata, owner_login

pytestmark = pytest.mark.django_db

PESEL = "90010112345"
NOT_PERMITTED = "nie ma w kontekście klienta"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


def _authorised_person_client(office, accountant, sendsim) -> Client:  # type: ignore[no-untyped-def]
    """A company whose ZAW-FA person (CredentialsManage in KSeF) gave the office their own
    personal certificate."""
    nip = valid_nip()
    client = Client.objects.create(
        office=office,
        nip=nip,
        name="Hurtownia Jan Kowalski sp. z o.o.",
        legal_form=LegalForm.LIMITED_LIABILITY_COMPANY,
        access_model=AccessModel.CLIENT_CREDENTIAL,
    )
    Prerequisite.objects.create(
        client=client,
        state=Prerequisite.State.CONFIRMED,
        person_first_name="Jan",
        person_last_name="Kowalski",
        person_identifier_type=Prerequisite.IdentifierType.PESEL,
        person_identifier=PESEL,
    )
    client.assigned_accountants.set([accountant])
    grant_testdata(sendsim.http, nip, ("Pesel", PESEL), ["CredentialsManage"])
    store_personal(office, client, PESEL)
    return client


def _upload(http, client: Client):  # type: ignore[no-untyped-def]
    upload = SimpleUploadedFile("FV-1.xml", example(client, "FV/1"))
    return http.post(reverse("invoices:send", args=[client.pk]), {"invoice_files": [upload]})


def test_a_person_without_invoice_write_is_reported_and_no_upload_is_accepted(
    login, office, accountant, sendsim
):
    client = _authorised_person_client(office, accountant, sendsim)
    http = login(accountant)

    page = http.get(reverse("invoices:send", args=[client.pk])).content.decode()
    response = _upload(http, client)

    assert NOT_PERMITTED in page and "InvoiceWrite" in page
    assert 'type="file"' not in page
    assert response.status_code == 200 and NOT_PERMITTED in response.content.decode()
    assert not SendJob.objects.exists()


def test_once_the_person_holds_invoice_write_the_upload_is_accepted(
    login, office, accountant, sendsim
):
    client = _authorised_person_client(office, accountant, sendsim)
    grant_testdata(sendsim.http, client.nip, ("Pesel", PESEL), ["InvoiceWrite"])
    http = login(accountant)

    response = _upload(http, client)

    assert response.status_code == 302
    assert SendJob.objects.get().client == client


def test_the_answer_is_cached_and_asked_again_after_it_expires(office, accountant, sendsim):
    client = _authorised_person_client(office, accountant, sendsim)
    credential = Credential.objects.get(client=client)
    assert credential_write_problem(client, credential) == "person_without_invoice_write"
    grant_testdata(sendsim.http, client.nip, ("Pesel", PESEL), ["InvoiceWrite"])

    cached = credential_write_problem(client, credential)
    cache.clear()
    asked_again = credential_write_problem(client, credential)

    assert cached == "person_without_invoice_write"
    assert asked_again == ""


def test_the_owners_seal_holds_every_right_and_ksef_is_not_asked(office, sendsim):
    client = seller(office)
    credential = Credential.objects.get(client=client)
    assert sendsim.http.post("http://ksef-sim/_sim/outage", json={}).status_code == 200

    assert holds_owner_rights(client, credential)
    assert credential_write_problem(client, credential) == ""


def test_when_ksef_cannot_be_asked_the_upload_is_not_refused(login, office, accountant, sendsim):
    client = _authorised_person_client(office, accountant, sendsim)
    response = sendsim.http.post("http://ksef-sim/_sim/outage", json={})
    assert response.status_code == 200, response.text
    http = login(accountant)

    page = http.get(reverse("invoices:send", args=[client.pk])).content.decode()

    assert NOT_PERMITTED not in page and 'type="file"' in page
    assert not holds_owner_rights(client, Credential.objects.get(client=client))


def _token_client(office, accountant, sendsim, permissions: list[str], login) -> Client:  # type: ignore[no-untyped-def]
    """A client whose KSeF token (made by its owner with PERMISSIONS) the office holds."""
    client = seller(office)
    client.assigned_accountants.set([accountant])
    Credential.objects.filter(client=client).update(status=Credential.Status.DELETED)
    owner = owner_login(sendsim.http, client.nip)
    created = sendsim.http.post(
        "/tokens",
        json={"permissions": permissions, "description": "Token dla biura"},
        headers=bearer(owner.access),
    )
    assert created.status_code == 202, created.text
    response = login(accountant).post(
        upload_url(client.pk, "token"), {"token": created.json()["token"]}
    )
    assert response.status_code == 302
    return client


def test_a_token_without_invoice_write_is_reported(login, office, accountant, sendsim):
    client = _token_client(office, accountant, sendsim, ["InvoiceRead"], login)

    page = login(accountant).get(reverse("invoices:send", args=[client.pk])).content.decode()

    assert "Token KSeF klienta nie ma uprawnienia" in page and 'type="file"' not in page


def test_a_token_with_invoice_write_may_send(login, office, accountant, sendsim):
    client = _token_client(office, accountant, sendsim, ["InvoiceRead", "InvoiceWrite"], login)
    credential = Credential.objects.get(client=client, kind=Credential.Kind.TOKEN)

    assert credential_write_problem(client, credential) == ""
    assert _upload(login(accountant), client).status_code == 302


def test_a_403_while_sending_with_a_persons_certificate_names_the_person_and_asks_again(
    office, accountant, sendsim
):
    client = _authorised_person_client(office, accountant, sendsim)
    grant_testdata(sendsim.http, client.nip, ("Pesel", PESEL), ["InvoiceWrite"])
    credential = Credential.objects.get(client=client)
    assert credential_write_problem(client, credential) == ""  # cached: may issue
    job = queued_job(client, [("FV-1.xml", example(client, "FV/1"))])
    revoke = sendsim.http.post(
        "/testdata/permissions/revoke",
        json={
            "contextIdentifier": {"type": "Nip", "value": client.nip},
            "authorizedIdentifier": {"type": "Pesel", "value": PESEL},
        },
    )
    assert revoke.status_code == 200, revoke.text
    grant_testdata(sendsim.http, client.nip, ("Pesel", PESEL), ["CredentialsManage"])

    assert sendsim.sender().run(job.pk) == SendJob.State.FAILED

    job.refresh_from_db()
    assert job.error_code == "person_without_invoice_write"
    assert credential_write_problem(client, credential) == "person_without_invoice_write"
