"""Whose certificate an upload is: every way issuers write the NIP or PESEL is read, nothing
else is, and the upload pages say beforehand which identifier the slot expects.

The certificates are made here, with exactly the subject each case needs. Hostile subjects
(digits under the wrong prefix, a PESEL where a NIP belongs, text around the identifier,
two owners in one subject) are posted to the staff upload and to the client's link: each is
refused with the message that says where the portal looks, and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from django.core.cache import cache
from django.urls import reverse

from certificates.models import Credential, UploadLink
from certificates.services import upload_link_create, upload_link_token_hash
from clients.models import LegalForm, Prerequisite
from tests.certificates.conftest import PASSWORD, upload_file, upload_url
from tests.factories import make_client
from tests.ksef.keys import key_pem, make_ec_key, make_pesel, pem

SERIAL = NameOID.SERIAL_NUMBER
ORGANIZATION_ID = x509.ObjectIdentifier("2.5.4.97")
NOT_IDENTIFIED = "nie zawiera NIP ani PESEL"
LINK_TOKEN = "owner-identifier-link-token-0123456789abcdefghijk"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():  # type: ignore[no-untyped-def]
    cache.clear()
    yield
    cache.clear()


def _upload(*attributes: tuple[x509.ObjectIdentifier, str], person: bool = False) -> dict[str, Any]:
    """A self-signed authentication certificate whose subject carries `attributes`."""
    key = make_ec_key()
    names = [x509.NameAttribute(NameOID.COMMON_NAME, "Właściciel (uwierzytelnienie)")]
    if person:
        names += [
            x509.NameAttribute(NameOID.GIVEN_NAME, "Jan"),
            x509.NameAttribute(NameOID.SURNAME, "Kowal"),
        ]
    names += [x509.NameAttribute(oid, value) for oid, value in attributes]
    subject = x509.Name(names)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(days=1))
        .not_valid_after(datetime.now(UTC) + timedelta(days=700))
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    data = {
        "certificate": upload_file("c.crt", pem(certificate)),
        "private_key": upload_file("k.key", key_pem(key, PASSWORD)),
        "password": PASSWORD,
    }
    if person:
        data |= {"consent_given_by": "Jan Kowal (właściciel)", "consent_given_on": "2026-11-02"}
    return data


def _sole_proprietor(office: Any, accountant: Any, pesel: str) -> Any:
    client = make_client(office, assigned=[accountant], legal_form=LegalForm.SOLE_PROPRIETORSHIP)
    Prerequisite.objects.filter(client=client).update(
        person_identifier=pesel,
        person_identifier_type="pesel",
        person_first_name="Jan",
        person_last_name="Kowal",
    )
    return client


def _link_path(client: Any, accountant: Any) -> str:
    link = upload_link_create(
        actor=accountant.user,
        client=client,
        kind="authentication",
        recipient_email="ksiegowosc@klient.example",
    )
    UploadLink.objects.filter(pk=link.pk).update(token_hash=upload_link_token_hash(LINK_TOKEN))
    return reverse("certificates:self_upload", args=[LINK_TOKEN])


# --- accepted: every way issuers write the identifier -----------------------------------------

NIP_FORMS: list[tuple[str, x509.ObjectIdentifier, str]] = [
    ("serialNumber VATPL-", SERIAL, "VATPL-{}"),
    ("serialNumber TINPL-", SERIAL, "TINPL-{}"),
    ("serialNumber NIP-", SERIAL, "NIP-{}"),
    ("organizationIdentifier VATPL-", ORGANIZATION_ID, "VATPL-{}"),
    ("organizationIdentifier TINPL-", ORGANIZATION_ID, "TINPL-{}"),
    ("organizationIdentifier NIP-", ORGANIZATION_ID, "NIP-{}"),
]


@pytest.mark.parametrize(("form", "oid", "pattern"), NIP_FORMS, ids=[f[0] for f in NIP_FORMS])
def test_a_certificate_naming_the_clients_nip_in_any_issuers_form_is_accepted(
    login, accountant, client_company, form, oid, pattern
):
    response = login(accountant).post(
        upload_url(client_company.pk), _upload((oid, pattern.format(client_company.nip)))
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    credential = Credential.objects.get()
    assert (credential.owner_identifier_type, credential.owner_identifier) == (
        "Nip",
        client_company.nip,
    )


@pytest.mark.parametrize("prefix", ["PNOPL", "PESEL"])
def test_a_sole_proprietors_certificate_with_the_owners_pesel_in_either_form_is_accepted(
    login, accountant, office, prefix
):
    pesel = make_pesel(21)
    client = _sole_proprietor(office, accountant, pesel)

    response = login(accountant).post(
        upload_url(client.pk), _upload((SERIAL, f"{prefix}-{pesel}"), person=True)
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    credential = Credential.objects.get()
    assert (credential.owner_identifier_type, credential.owner_identifier) == ("Pesel", pesel)
    assert credential.is_personal


def test_the_persons_serial_number_wins_over_the_employers_organization_identifier(
    login, accountant, office
):
    pesel = make_pesel(22)
    client = _sole_proprietor(office, accountant, pesel)
    data = _upload((SERIAL, f"PNOPL-{pesel}"), (ORGANIZATION_ID, "VATPL-5265877635"), person=True)

    assert login(accountant).post(upload_url(client.pk), data).status_code == 302
    assert Credential.objects.get().owner_identifier == pesel


# --- hostile: digits from anywhere else are never read as the owner ----------------------------

Hostile = Callable[[str], tuple[tuple[x509.ObjectIdentifier, str], ...]]

HOSTILE: list[tuple[str, Hostile]] = [
    # The client's NIP followed by one more digit: an 11-digit number under a NIP prefix.
    ("eleven_digits_under_nip", lambda nip: ((SERIAL, f"NIP-{nip}5"),)),
    ("eleven_digits_under_tinpl", lambda nip: ((SERIAL, f"TINPL-{nip}0"),)),
    ("eleven_digits_under_vatpl", lambda nip: ((ORGANIZATION_ID, f"VATPL-{nip}7"),)),
    ("prefix_inside_other_text", lambda nip: ((SERIAL, f"XVATPL-{nip}"),)),
    ("text_after_the_digits", lambda nip: ((ORGANIZATION_ID, f"VATPL-{nip}-01"),)),
    ("words_between_prefix_and_digits", lambda nip: ((SERIAL, f"NIP klienta {nip}"),)),
    ("no_hyphen", lambda nip: ((ORGANIZATION_ID, f"VATPL{nip}"),)),
    ("lower_case_prefix", lambda nip: ((ORGANIZATION_ID, f"vatpl-{nip}"),)),
    ("full_width_digits", lambda nip: ((ORGANIZATION_ID, "VATPL-" + _full_width(nip)),)),
    ("two_owners_in_one_field", lambda nip: ((SERIAL, f"TINPL-{nip}"), (SERIAL, "NIP-5265877635"))),
    # The NIP only in the common name or the organisation's name: not where issuers put it.
    ("nip_in_the_organisation_name", lambda nip: ((NameOID.ORGANIZATION_NAME, f"NIP-{nip}"),)),
]


def _full_width(digits: str) -> str:
    return "".join(chr(0xFF10 + int(digit)) for digit in digits)


@pytest.mark.parametrize(("case", "build"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_subject_is_refused_on_the_staff_upload_and_stores_nothing(
    login, accountant, client_company, case, build
):
    response = login(accountant).post(
        upload_url(client_company.pk), _upload(*build(client_company.nip))
    )

    assert response.status_code == 200
    assert NOT_IDENTIFIED in response.content.decode()
    assert not Credential.objects.exists()


@pytest.mark.parametrize(("case", "build"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_subject_is_refused_on_the_clients_link_and_counts_as_a_failed_attempt(
    client, accountant, client_company, case, build
):
    path = _link_path(client_company, accountant)

    response = client.post(path, _upload(*build(client_company.nip)))

    assert response.status_code == 200
    assert NOT_IDENTIFIED in response.content.decode()
    assert not Credential.objects.exists()
    assert UploadLink.objects.get().failed_attempts == 1


def test_a_pesel_under_a_nip_prefix_is_not_read_as_the_nip_it_starts_with(
    login, accountant, office
):
    """A PESEL's first ten digits can pass the NIP checksum; this client's NIP is made of
    them, so a search for ten digits after "NIP" would take the PESEL for the client."""
    pesel = next(p for seed in range(1000) if _is_nip((p := make_pesel(seed))[:10]))
    client = make_client(office, assigned=[accountant], nip=pesel[:10])

    response = login(accountant).post(
        upload_url(client.pk), _upload((SERIAL, f"NIP-{pesel}"), person=True)
    )

    assert NOT_IDENTIFIED in response.content.decode()
    assert not Credential.objects.exists()


def _is_nip(digits: str) -> bool:
    weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
    check = sum(int(d) * w for d, w in zip(digits[:9], weights, strict=True)) % 11
    return digits[1:3] != "00" and check == int(digits[9])


def test_the_refusal_says_where_the_portal_looks_and_shows_the_subject(
    login, accountant, client_company
):
    response = login(accountant).post(
        upload_url(client_company.pk), _upload((SERIAL, "KLIENT-0001"))
    )

    body = response.content.decode()
    assert NOT_IDENTIFIED in body
    assert "serialNumber" in body and "organizationIdentifier" in body
    assert "VATPL-" in body and "PNOPL-" in body
    assert "KLIENT-0001" in body


# --- the pages say which identifier the slot expects -------------------------------------------


def test_the_staff_upload_page_names_the_clients_nip_and_where_it_belongs(
    login, accountant, client_company
):
    page = login(accountant).get(upload_url(client_company.pk)).content.decode()

    section = page[page.index('id="expected-owner"') :]
    assert f"NIP {client_company.nip}" in section
    assert f"VATPL-{client_company.nip}" in section
    assert "organizationIdentifier" in section and "serialNumber" in section
    assert client_company.name in section


def test_the_staff_page_of_a_sole_proprietor_also_names_the_owners_pesel(login, accountant, office):
    pesel = make_pesel(24)
    client = _sole_proprietor(office, accountant, pesel)

    page = login(accountant).get(upload_url(client.pk)).content.decode()

    section = page[page.index('id="expected-owner"') :]
    assert f"PNOPL-{pesel}" in section and "Jan Kowal" in section
    assert f"NIP {client.nip}" in section


def test_the_clients_link_page_names_the_nip_but_shows_only_the_end_of_a_pesel(
    client, accountant, office
):
    pesel = make_pesel(25)
    jdg = _sole_proprietor(office, accountant, pesel)

    page = client.get(_link_path(jdg, accountant)).content.decode()

    section = page[page.index('id="expected-owner"') :]
    assert f"VATPL-{jdg.nip}" in section
    assert f"PESEL kończący się na {pesel[-4:]}" in section
    assert pesel not in page


def test_the_token_upload_page_names_no_certificate_subject(login, accountant, client_company):
    page = login(accountant).get(upload_url(client_company.pk, "token")).content.decode()

    assert 'id="expected-owner"' not in page


def test_the_office_upload_page_names_the_offices_nip(login, admin_member, office):
    page = login(admin_member).get(reverse("certificates:office_upload")).content.decode()

    section = page[page.index('id="expected-owner"') :]
    assert f"NIP {office.nip}" in section


def test_the_clients_link_page_shows_only_the_end_of_an_authorised_persons_nip(
    client, accountant, client_company
):
    person_nip = "5265877635"
    Prerequisite.objects.filter(client=client_company).update(
        person_identifier=person_nip, person_identifier_type="nip", person_first_name="Ewa"
    )

    page = client.get(_link_path(client_company, accountant)).content.decode()

    section = page[page.index('id="expected-owner"') :]
    assert f"VATPL-{client_company.nip}" in section
    assert "NIP kończący się na 7635" in section and person_nip not in page
