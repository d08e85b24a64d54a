"""A server error inside any view that receives a secret never shows that secret.

Every view that takes a key password, a KSeF token, a key file or an account password is
made to fail (a function it calls is patched to raise). With DEBUG on, the technical 500
page; with DEBUG off and ADMINS set, the error e-mail; in both, the log line the real
console handler writes: none of them contains the password, the token, a line of the key
file or the upload link's token.
"""

from __future__ import annotations

import io
import logging
import logging.config
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from certificates.models import UploadLink
from certificates.services import upload_link_create, upload_link_token_hash
from tests.certificates.conftest import make_files, token_for, upload_file
from tests.factories import PASSWORD

LINK_TOKEN = "live-upload-link-token-Zq8-4fG7kPw2mN9xR3tY6vB1cD5eH0jL"
KSEF_SECRET = "9f" * 32
NEW_PASSWORD = "Zupelnie-Nowe-Haslo-2026#"


class ForcedFailure(RuntimeError):
    """Raised inside the view under test."""


@dataclass
class Case:
    url: str
    data: dict[str, Any]
    secrets: list[str]
    patch: tuple[str, str]
    login_as: Any = None
    before: Callable[[Any], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _raise(*args: Any, **kwargs: Any) -> Any:
    raise ForcedFailure("forced failure inside the view")


@pytest.fixture
def console_log() -> Iterator[io.StringIO]:
    """What the configured console handler (with its filters) writes, captured."""
    # The portal's own configuration, even if a test before this one (a Celery worker)
    # replaced the root logger's handlers.
    logging.config.dictConfig(settings.LOGGING)
    handlers = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    assert handlers, "the console handler of settings.LOGGING is installed"
    buffer = io.StringIO()
    previous = [h.setStream(buffer) for h in handlers]  # type: ignore[attr-defined]
    yield buffer
    for handler, stream in zip(handlers, previous, strict=True):
        handler.setStream(stream)  # type: ignore[attr-defined]


def _key_line(files: Any) -> str:
    lines = files.key_pem.decode().splitlines()
    return lines[len(lines) // 2]


def _upload_case(request: pytest.FixtureRequest, kind: str) -> Case:
    accountant, company = (request.getfixturevalue(n) for n in ("accountant", "client_company"))
    url = reverse("certificates:upload", args=[company.pk, kind])
    patch = ("certificates.services", "credential_upload")
    if kind == "token":
        token = token_for(company.nip, KSEF_SECRET)
        return Case(url, {"token": token}, [token, KSEF_SECRET], patch, login_as=accountant)
    files = make_files(company.nip)
    return Case(url, files.pair(), [files.password, _key_line(files)], patch, accountant)


def _office_case(request: pytest.FixtureRequest) -> Case:
    admin, office = request.getfixturevalue("admin_member"), request.getfixturevalue("office")
    files = make_files(office.nip)
    data = {
        "pkcs12": upload_file("biuro.p12", files.p12()["pkcs12"].read()),
        "password": files.password,
    }
    return Case(
        reverse("certificates:office_upload"),
        data,
        [files.password],
        ("certificates.services", "credential_upload"),
        login_as=admin,
    )


def _self_upload_case(request: pytest.FixtureRequest, kind: str) -> Case:
    accountant, company = (request.getfixturevalue(n) for n in ("accountant", "client_company"))
    link = upload_link_create(
        actor=accountant.user, client=company, kind=kind, recipient_email="a@klient.example"
    )
    UploadLink.objects.filter(pk=link.pk).update(token_hash=upload_link_token_hash(LINK_TOKEN))
    url = reverse("certificates:self_upload", args=[LINK_TOKEN])
    patch = ("certificates.services", "upload_link_submit")
    if kind == "token":
        token = token_for(company.nip, KSEF_SECRET)
        return Case(url, {"token": token}, [token, KSEF_SECRET, LINK_TOKEN], patch)
    files = make_files(company.nip)
    return Case(url, files.pair(), [files.password, _key_line(files), LINK_TOKEN], patch)


def _login_case(request: pytest.FixtureRequest) -> Case:
    accountant = request.getfixturevalue("accountant")
    data = {"username": accountant.user.username, "password": PASSWORD}
    return Case(reverse("login"), data, [PASSWORD], ("django.contrib.auth.forms", "authenticate"))


def _password_change_case(request: pytest.FixtureRequest) -> Case:
    accountant = request.getfixturevalue("accountant")
    data = {
        "old_password": PASSWORD,
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }
    return Case(
        reverse("password_change"),
        data,
        [PASSWORD, NEW_PASSWORD],
        ("django.contrib.auth.password_validation", "validate_password"),
        login_as=accountant,
    )


def _password_reset_confirm_case(request: pytest.FixtureRequest) -> Case:
    user = request.getfixturevalue("accountant").user
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)

    def open_link(client: Any) -> None:  # the link parks its token in the session
        client.get(reverse("password_reset_confirm", args=[uid, token]))

    data = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    return Case(
        reverse("password_reset_confirm", args=[uid, "set-password"]),
        data,
        [NEW_PASSWORD, token],
        ("django.contrib.auth.password_validation", "validate_password"),
        before=open_link,
    )


CASES: dict[str, Callable[[pytest.FixtureRequest], Case]] = {
    "staff upload: certificate, key and password": lambda r: _upload_case(r, "authentication"),
    "staff upload: KSeF token": lambda r: _upload_case(r, "token"),
    "office credential: PKCS#12 and password": _office_case,
    "self-upload link: certificate, key and password": lambda r: _self_upload_case(
        r, "authentication"
    ),
    "self-upload link: KSeF token": lambda r: _self_upload_case(r, "token"),
    "login": _login_case,
    "password change": _password_change_case,
    "password reset: set the new password": _password_reset_confirm_case,
}


@pytest.mark.parametrize("debug", [True, False], ids=["DEBUG=true", "DEBUG=false+ADMINS"])
@pytest.mark.parametrize("name", list(CASES))
def test_a_server_error_shows_no_secret_in_the_page_the_email_or_the_log(
    name, debug, request, client, monkeypatch, console_log
):
    case = CASES[name](request)
    if case.login_as is not None:
        client.force_login(case.login_as.user)
    if case.before is not None:
        case.before(client)
    module, attribute = case.patch
    monkeypatch.setattr(f"{module}.{attribute}", _raise)
    client.raise_request_exception = False
    mail.outbox.clear()

    with override_settings(DEBUG=debug, ADMINS=[("Dyżur", "dyzur@biuro.example")]):
        response = client.post(case.url, case.data)

    page = response.content.decode()
    assert response.status_code == 500
    log = console_log.getvalue()
    assert "Internal Server Error" in log and "ForcedFailure" in log
    if debug:
        assert "forced failure inside the view" in page  # the technical page, in full
        assert not mail.outbox
        reports = [page]
    else:
        assert "forced failure" not in page
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        email = f"{message.subject}\n{message.body}"
        assert "ForcedFailure" in email and "Request information" in email.replace("\n", " ")
        reports = [page, email]
    for secret in case.secrets:
        assert len(secret) >= 8
        for report in [*reports, log]:
            assert secret not in report, f"{name}: a secret leaked"


def test_the_technical_page_still_names_the_frame_locals_it_hides(
    request, client, monkeypatch, accountant, client_company
):
    case = _upload_case(request, "authentication")
    client.force_login(accountant.user)
    monkeypatch.setattr("certificates.services.credential_upload", _raise)
    client.raise_request_exception = False
    with override_settings(DEBUG=True):
        page = client.post(case.url, case.data).content.decode()
    # The report stays useful: the variable is listed, its value replaced.
    assert "********************" in page
    assert "_submit_upload" in page
