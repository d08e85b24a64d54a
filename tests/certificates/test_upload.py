"""Accepted uploads: every supported format, warnings, consent, office certificate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.urls import reverse

from certificates.models import Credential
from clients.models import LegalForm, Prerequisite
from portal.models import AuditEvent
from tests.certificates.conftest import PASSWORD, make_files, upload_file, upload_url
from tests.factories import make_client
from tests.ksef.keys import der, key_pem, make_certificate, make_ec_key, make_pesel, pem


def _post(login, accountant, client_company, data, kind="authentication"):  # type: ignore[no-untyped-def]
    return login(accountant).post(upload_url(client_company.pk, kind), data)


def test_a_pkcs12_file_is_accepted(login, accountant, client_company, client_files):
    assert _post(login, accountant, client_company, client_files.p12()).status_code == 302
    credential = Credential.objects.get()
    assert credential.serial_number and credential.environment == "test"


def test_a_der_certificate_with_an_rsa_key_is_accepted(login, accountant, client_company):
    files = make_files(client_company.nip, ec=False)
    data = files.pair(certificate=upload_file("cert.cer", der(files.certificate)))
    assert _post(login, accountant, client_company, data).status_code == 302
    assert Credential.objects.get().key_description == "RSA 2048"


def test_text_around_a_pem_block_is_ignored_as_rfc_7468_allows(
    login, accountant, client_company, client_files
):
    data = client_files.pair(
        certificate=upload_file(
            "c.pem", b"Bag Attributes\n" + client_files.certificate_pem + b"\nkoniec\n"
        )
    )
    assert _post(login, accountant, client_company, data).status_code == 302


def test_an_unencrypted_key_needs_no_password(login, accountant, client_company, client_files):
    data = client_files.pair(
        private_key=upload_file("k.key", key_pem(client_files.key)), password=""
    )
    assert _post(login, accountant, client_company, data).status_code == 302


def test_a_not_yet_valid_certificate_is_stored_with_a_warning(login, accountant, client_company):
    key = make_ec_key()
    start = datetime.now(UTC) + timedelta(days=3)
    certificate = make_certificate(
        key,
        nip=client_company.nip,
        organization=True,
        not_before=start,
        not_after=start + timedelta(days=700),
    )
    data = {
        "certificate": upload_file(
            "c.crt",
            pem(certificate),
        ),
        "private_key": upload_file("k.key", key_pem(key, PASSWORD)),
        "password": PASSWORD,
    }
    response = login(accountant).post(upload_url(client_company.pk), data, follow=True)
    assert "zacznie obowiązywać dopiero" in response.content.decode()
    valid_from = Credential.objects.get().valid_from
    assert valid_from is not None and valid_from > datetime.now(UTC)


def test_a_personal_certificate_is_stored_with_the_recorded_consent(
    login, accountant, client_company
):
    pesel = make_pesel(11)
    Prerequisite.objects.filter(client=client_company).update(
        person_identifier=pesel, person_identifier_type="pesel"
    )
    key = make_ec_key()
    certificate = make_certificate(key, pesel=pesel)
    data = {
        "certificate": upload_file(
            "c.crt",
            pem(certificate),
        ),
        "private_key": upload_file("k.key", key_pem(key, PASSWORD)),
        "password": PASSWORD,
        "consent_given_by": "Jan Kowalski (prezes zarządu)",
        "consent_given_on": "2026-11-02",
    }
    assert _post(login, accountant, client_company, data).status_code == 302
    credential = Credential.objects.get()
    assert (credential.is_personal, credential.owner_identifier) == (True, pesel)
    assert credential.consent_given_by.startswith("Jan Kowalski")
    assert AuditEvent.objects.filter(action="credential.consent_recorded").exists()
    page = (
        login(accountant)
        .get(reverse("certificates:client", args=[client_company.pk]))
        .content.decode()
    )
    assert "certyfikat osobisty" in page


def _personal_upload(pesel: str) -> dict[str, object]:
    key = make_ec_key()
    return {
        "certificate": upload_file("c.crt", pem(make_certificate(key, pesel=pesel))),
        "private_key": upload_file("k.key", key_pem(key, PASSWORD)),
        "password": PASSWORD,
        "consent_given_by": "Jan Kowal (właściciel)",
        "consent_given_on": "2026-11-02",
    }


def test_a_sole_proprietors_certificate_with_the_recorded_owners_pesel_is_accepted(
    login, accountant, office
):
    client = make_client(office, assigned=[accountant], legal_form=LegalForm.SOLE_PROPRIETORSHIP)
    pesel = make_pesel(12)
    Prerequisite.objects.filter(client=client).update(
        person_identifier=pesel, person_identifier_type="pesel"
    )

    response = _post(login, accountant, client, _personal_upload(pesel))

    assert response.status_code == 302
    credential = Credential.objects.get(client=client)
    assert (credential.is_personal, credential.owner_identifier) == (True, pesel)


def test_a_sole_proprietors_pesel_certificate_without_a_recorded_owner_says_what_to_do(
    login, accountant, office
):
    client = make_client(office, assigned=[accountant], legal_form=LegalForm.SOLE_PROPRIETORSHIP)
    pesel = make_pesel(13)

    response = _post(login, accountant, client, _personal_upload(pesel))

    assert response.status_code == 200
    body = response.content.decode()
    assert f"Certyfikat należy do PESEL {pesel}, a nie do klienta" in body
    assert "wpisz jego dane w kroku ZAW-FA" in body
    assert not Credential.objects.exists()


def test_a_sole_proprietors_certificate_of_someone_else_is_refused(login, accountant, office):
    client = make_client(office, assigned=[accountant], legal_form=LegalForm.SOLE_PROPRIETORSHIP)
    Prerequisite.objects.filter(client=client).update(
        person_identifier=make_pesel(14), person_identifier_type="pesel"
    )

    response = _post(login, accountant, client, _personal_upload(make_pesel(15)))

    assert "ani do właściciela firmy wpisanego w kroku ZAW-FA" in response.content.decode()
    assert not Credential.objects.exists()


def test_an_offline_certificate_goes_into_the_offline_slot(login, accountant, client_company):
    files = make_files(client_company.nip, kind="Offline")
    assert _post(login, accountant, client_company, files.pair(), kind="offline").status_code == 302
    assert Credential.objects.get().kind == "offline"


def test_an_htmx_upload_redirects_the_whole_page(login, accountant, client_company, client_files):
    response = login(accountant).post(
        upload_url(client_company.pk), client_files.pair(), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("certificates:client", args=[client_company.pk])


def test_the_password_rules_are_a_hint_not_a_rule(login, accountant, client_company):
    files = make_files(client_company.nip)
    files.password = "krotkie"
    page = login(accountant).get(upload_url(client_company.pk)).content.decode()
    assert "15–32 znaków" in page
    assert _post(login, accountant, client_company, files.pair()).status_code == 302
