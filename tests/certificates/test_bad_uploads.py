"""Every way an upload can be wrong gets its own Polish message, a 200 page and no trace.

Keys and certificates are generated here (tests/ksef/keys.py); nothing is stored on any
failure: no Credential, no secret, no "uploaded" audit event.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.urls import reverse

from certificates.models import Credential, CredentialSecret
from clients.models import Prerequisite
from portal.models import AuditEvent, Office
from tests.certificates.conftest import (
    PASSWORD,
    CredentialFiles,
    token_for,
    upload_file,
    upload_url,
)
from tests.ksef.keys import (
    der,
    key_pem,
    make_ca,
    make_certificate,
    make_ec_key,
    make_nip,
    make_pesel,
    make_pkcs12,
    make_rsa_key,
    pem,
)


@dataclass
class Ctx:
    client: Any
    office: Office
    files: CredentialFiles


Builder = Callable[[Ctx], dict[str, Any]]


@dataclass
class Case:
    id: str
    build: Builder
    expected: str
    kind: str = "authentication"
    office_slot: bool = False


def _pair_with(ctx: Ctx, certificate: Any, key: Any, password: str = PASSWORD) -> dict[str, Any]:
    return {
        "certificate": upload_file("cert.crt", pem(certificate)),
        "private_key": upload_file("cert.key", key_pem(key, password)),
        "password": password,
    }


def _cert(ctx: Ctx, **options: Any) -> dict[str, Any]:
    key = options.pop("key", None) or make_ec_key()
    options.setdefault("nip", ctx.client.nip)
    options.setdefault("organization", True)
    return _pair_with(ctx, make_certificate(key, **options), key)


def _set_env(ctx: Ctx, env: str) -> None:
    ctx.office.ksef_environment = env
    ctx.office.save()


def _with_env(ctx: Ctx, env: str) -> Ctx:
    _set_env(ctx, env)
    return ctx


def _production(ctx: Ctx) -> dict[str, Any]:
    _set_env(ctx, Office.KsefEnvironment.PRODUCTION)
    return ctx.files.pair()


def _issued_by(ctx: Ctx, issuer: str, env: str) -> dict[str, Any]:
    _set_env(ctx, env)
    ca_key, _ca = make_ca(issuer)
    return _cert(ctx, issuer_key=ca_key, issuer_name=issuer)


def _locked(ctx: Ctx) -> dict[str, Any]:
    Prerequisite.objects.filter(client=ctx.client).update(state=Prerequisite.State.TO_FILE)
    return ctx.files.pair()


def _personal(ctx: Ctx) -> dict[str, Any]:
    return _cert(ctx, organization=False)


def _der_with_trailing_bytes(ctx: Ctx) -> dict[str, Any]:
    return ctx.files.pair(certificate=upload_file("c.crt", der(ctx.files.certificate) + b"\0junk"))


def _chain(ctx: Ctx) -> dict[str, Any]:
    _ca_key, ca = make_ca()
    return ctx.files.pair(certificate=upload_file("c.pem", ctx.files.certificate_pem + pem(ca)))


def _other_nip(nip: str) -> str:
    return next(candidate for seed in range(1, 50) if (candidate := make_nip(seed)) != nip)


def _unsupported(ctx: Ctx, key: Any) -> dict[str, Any]:
    return _pair_with(ctx, make_certificate(key, nip=ctx.client.nip, organization=True), key)


CASES = [
    Case(
        "nothing_uploaded",
        lambda c: {"password": PASSWORD},
        "Wybierz plik certyfikatu i plik klucza",
    ),
    Case(
        "only_certificate",
        lambda c: c.files.pair(private_key=""),
        "Brakuje pliku klucza prywatnego",
    ),
    Case("only_key", lambda c: c.files.pair(certificate=""), "Brakuje pliku certyfikatu"),
    Case("pair_and_pkcs12", lambda c: c.files.pair() | c.files.p12(), "nie oba naraz"),
    Case(
        "certificate_extension",
        lambda c: c.files.pair(certificate=upload_file("cert.exe", c.files.certificate_pem)),
        "Plik certyfikatu musi mieć rozszerzenie",
    ),
    Case(
        "key_extension",
        lambda c: c.files.pair(private_key=upload_file("klucz.txt", c.files.key_pem)),
        "Plik klucza prywatnego musi mieć rozszerzenie",
    ),
    Case(
        "pkcs12_extension",
        lambda c: c.files.p12(pkcs12=upload_file("cert.zip", b"0" * 100)),
        "Plik PKCS#12 musi mieć rozszerzenie",
    ),
    Case(
        "huge_certificate",
        lambda c: c.files.pair(certificate=upload_file("c.crt", b"A" * (64 * 1024 + 1))),
        "Plik certyfikatu jest za duży",
    ),
    Case(
        "huge_key",
        lambda c: c.files.pair(private_key=upload_file("k.key", os.urandom(200 * 1024))),
        "Plik klucza prywatnego jest za duży",
    ),
    Case(
        "huge_pkcs12",
        lambda c: c.files.p12(pkcs12=upload_file("c.p12", os.urandom(129 * 1024))),
        "Plik PKCS#12 jest za duży",
    ),
    Case(
        "empty_certificate_file",
        lambda c: c.files.pair(certificate=upload_file("c.crt", b"")),
        "pusty",
    ),
    Case(
        "whitespace_certificate_file",
        lambda c: c.files.pair(certificate=upload_file("c.crt", b"\n\n  \n")),
        "Plik certyfikatu jest pusty",
    ),
    Case(
        "whitespace_key_file",
        lambda c: c.files.pair(private_key=upload_file("k.key", b" \r\n")),
        "Plik klucza prywatnego jest pusty",
    ),
    Case(
        "garbage_certificate",
        lambda c: c.files.pair(certificate=upload_file("c.crt", os.urandom(900))),
        "Nie można odczytać certyfikatu",
    ),
    Case(
        "truncated_pem_certificate",
        lambda c: c.files.pair(
            certificate=upload_file(
                "c.pem", c.files.certificate_pem[: len(c.files.certificate_pem) // 2]
            )
        ),
        "Nie można odczytać certyfikatu",
    ),
    Case(
        "truncated_der_certificate",
        lambda c: c.files.pair(certificate=upload_file("c.cer", der(c.files.certificate)[:-40])),
        "Nie można odczytać certyfikatu",
    ),
    Case(
        "pem_certificate_with_damaged_body",
        lambda c: c.files.pair(
            certificate=upload_file("c.pem", c.files.certificate_pem.replace(b"\n", b"\n!!", 3))
        ),
        "Nie można odczytać certyfikatu",
    ),
    Case("der_with_trailing_bytes", _der_with_trailing_bytes, "Nie można odczytać certyfikatu"),
    Case("certificate_chain", _chain, "kilka certyfikatów"),
    Case(
        "key_in_certificate_field",
        lambda c: c.files.pair(certificate=upload_file("c.pem", c.files.key_pem)),
        "W polu certyfikatu wybrano plik klucza prywatnego",
    ),
    Case(
        "certificate_in_key_field",
        lambda c: c.files.pair(private_key=upload_file("k.pem", c.files.certificate_pem)),
        "W polu klucza prywatnego wybrano plik certyfikatu",
    ),
    Case(
        "garbage_key",
        lambda c: c.files.pair(private_key=upload_file("k.key", os.urandom(600))),
        "Nie można odczytać klucza prywatnego",
    ),
    Case(
        "truncated_key",
        lambda c: c.files.pair(private_key=upload_file("k.key", c.files.key_pem[:200])),
        "Nie można odczytać klucza prywatnego",
    ),
    Case(
        "password_missing", lambda c: c.files.pair(password=""), "Klucz prywatny jest zaszyfrowany"
    ),
    Case(
        "wrong_password",
        lambda c: c.files.pair(password="Zupelnie-Inne-Haslo-1!"),
        "Hasło nie pasuje do klucza prywatnego.",
    ),
    Case("password_too_long", lambda c: c.files.pair(password="x" * 300), "Hasło jest dłuższe"),
    Case(
        "rsa_key_of_another_certificate",
        lambda c: c.files.pair(private_key=upload_file("k.key", key_pem(make_rsa_key(), PASSWORD))),
        "Klucz prywatny nie pasuje do certyfikatu",
    ),
    Case(
        "ec_key_of_another_certificate",
        lambda c: c.files.pair(private_key=upload_file("k.key", key_pem(make_ec_key(), PASSWORD))),
        "Klucz prywatny nie pasuje do certyfikatu",
    ),
    Case(
        "rsa_1024_key",
        lambda c: _unsupported(c, make_rsa_key(1024)),
        "Nieobsługiwany rodzaj klucza",
    ),
    Case(
        "ec_secp256k1_key",
        lambda c: _unsupported(c, make_ec_key("secp256k1")),
        "Nieobsługiwany rodzaj klucza",
    ),
    Case(
        "pkcs12_wrong_password",
        lambda c: c.files.p12(password="Zle-Haslo-Do-P12!"),
        "Hasło nie otwiera tego pliku .p12/.pfx.",
    ),
    Case(
        "pkcs12_without_password",
        lambda c: c.files.p12(password=""),
        "Plik .p12/.pfx jest zaszyfrowany",
    ),
    Case(
        "pkcs12_garbage",
        lambda c: c.files.p12(pkcs12=upload_file("c.pfx", os.urandom(3000))),
        "Nie można odczytać pliku .p12/.pfx",
    ),
    Case(
        "pkcs12_truncated",
        lambda c: c.files.p12(
            pkcs12=upload_file(
                "c.p12", make_pkcs12(c.files.key, c.files.certificate, PASSWORD)[:500]
            )
        ),
        "Nie można odczytać pliku .p12/.pfx",
    ),
    Case(
        "expired",
        lambda c: _cert(
            c,
            not_before=datetime.now(UTC) - timedelta(days=800),
            not_after=datetime.now(UTC) - timedelta(days=1),
        ),
        "Certyfikat wygasł",
    ),
    Case(
        "offline_in_authentication_slot",
        lambda c: _cert(c, kind="Offline"),
        "To certyfikat offline (typ 2)",
    ),
    Case(
        "authentication_in_offline_slot",
        lambda c: c.files.pair(),
        "to certyfikat uwierzytelniający (typ 1)",
        kind="offline",
    ),
    Case(
        "unmarked_certificate_in_offline_slot",
        lambda c: _cert(c, kind=None),
        "To nie jest certyfikat offline KSeF (typ 2)",
        kind="offline",
    ),
    Case("another_companys_nip", lambda c: _cert(c, nip="5265877635"), "nie do klienta (NIP"),
    Case(
        "person_not_named_in_zaw_fa",
        lambda c: _cert(c, organization=False, nip=None, pesel=make_pesel(7)),
        "nie do klienta (NIP",
    ),
    Case("no_owner_identifier", lambda c: _cert(c, nip=None), "nie zawiera NIP ani PESEL"),
    Case("personal_without_consent", _personal, "To certyfikat osobisty"),
    Case("self_signed_in_production_office", _production, "To certyfikat testowy"),
    Case(
        "test_cck_certificate_in_production_office",
        lambda c: _issued_by(c, "TEST CCK KSeF", Office.KsefEnvironment.PRODUCTION),
        "To certyfikat testowy (wystawca:",
    ),
    Case(
        "production_certificate_in_test_office",
        lambda c: _issued_by(c, "CCK KSeF", Office.KsefEnvironment.TEST),
        "To certyfikat produkcyjny (CCK KSeF)",
    ),
    Case(
        "self_signed_in_demo_office",
        lambda c: _with_env(c, Office.KsefEnvironment.DEMO).files.pair(),
        "To certyfikat samopodpisany",
    ),
    Case("prerequisite_not_met", _locked, "Najpierw zakończ krok ZAW-FA"),
    Case(
        "consent_date_in_future",
        lambda c: (
            _personal(c) | {"consent_given_by": "Jan Kowalski", "consent_given_on": "2999-01-01"}
        ),
        "Data zgody nie może być z przyszłości",
    ),
    Case("token_empty", lambda c: {"token": ""}, "Wklej token KSeF", kind="token"),
    Case(
        "token_garbage", lambda c: {"token": "abc|def"}, "To nie jest token KSeF 2.0", kind="token"
    ),
    Case(
        "token_with_line_break",
        lambda c: {"token": token_for(c.client.nip).replace("|nip", "\n|nip")},
        "To nie jest token KSeF 2.0",
        kind="token",
    ),
    Case("token_too_long", lambda c: {"token": "7" * 600}, "Token jest dłuższy niż", kind="token"),
    Case(
        "token_of_another_context",
        lambda c: {"token": token_for("5265877635")},
        "wygenerowano w kontekście „nip-5265877635”",
        kind="token",
    ),
    Case(
        "token_of_an_internal_id_context",
        lambda c: {
            "token": token_for(c.client.nip).replace(
                f"nip-{c.client.nip}", f"internalId-{c.client.nip}-12345"
            )
        },
        "wygenerowano w kontekście „internalId-",
        kind="token",
    ),
    Case(
        "office_slot_with_another_nip",
        lambda c: _cert(c, nip=_other_nip(c.office.nip)),
        "a nie do biura (NIP",
        office_slot=True,
    ),
    Case(
        "office_slot_with_offline_certificate",
        lambda c: _cert(c, nip=c.office.nip, kind="Offline"),
        "To certyfikat offline (typ 2)",
        office_slot=True,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_each_bad_upload_gets_its_own_message_and_stores_nothing(
    case, login, admin_member, accountant, client_company, office, client_files
):
    ctx = Ctx(client=client_company, office=office, files=client_files)
    data = {key: value for key, value in case.build(ctx).items() if value != ""}
    if case.office_slot:
        url, browser = reverse("certificates:office_upload"), login(admin_member)
    else:
        url, browser = upload_url(client_company.pk, case.kind), login(accountant)

    response = browser.post(url, data)

    assert response.status_code == 200
    page = response.content.decode()
    assert case.expected in page, page[page.find("errorlist") - 200 : page.find("errorlist") + 600]
    assert Credential.objects.count() == 0
    assert CredentialSecret.objects.count() == 0
    assert not AuditEvent.objects.filter(action__startswith="credential.").exists()


def test_the_suite_covers_at_least_forty_distinct_failures():
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)


def test_a_failed_upload_never_echoes_the_password_or_token(
    login, accountant, client_company, client_files
):
    browser = login(accountant)
    response = browser.post(
        upload_url(client_company.pk), client_files.pair(password="Zle-Haslo-XYZ-123!")
    )
    assert "Zle-Haslo-XYZ-123!" not in response.content.decode()
    token = token_for("5265877635")
    response = browser.post(upload_url(client_company.pk, "token"), {"token": token})
    assert token.split("|")[2] not in response.content.decode()
