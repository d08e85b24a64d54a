"""A reminder travels through a real SMTP server on loopback and is read back as a client's
mail program would: headers, the plain-text part and the HTML part."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core import mail
from django.test import override_settings

from certificates.expiry.reminders import reminders_run
from certificates.models import Credential
from tests.certificates.expiry.factories import make_credential, new_client, warsaw


class Inbox:
    """aiosmtpd handler keeping every message with its SMTP envelope."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=default_policy)
        self.messages.append((list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.mark.django_db
def test_a_reminder_sent_over_smtp_arrives_with_polish_subject_recipients_and_both_parts(
    smtp_inbox, office, accountant
) -> None:
    inbox, port = smtp_inbox
    client = new_client(
        office,
        assigned=[accountant],
        name="Zakład Stolarski Żółć sp. z o.o.",
        contact_emails=["wlasciciel@stolarz.example", "biuro@stolarz.example"],
    )
    make_credential(office, client, Credential.Kind.TOKEN)
    backend = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": port,
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "EMAIL_USE_TLS": False,
        "EMAIL_USE_SSL": False,
        "EMAIL_TIMEOUT": 10,
    }
    with override_settings(**backend), time_machine.travel(warsaw(2026, 12, 1, 7), tick=False):
        report = reminders_run()
    assert report.sent == 1
    assert mail.outbox == []  # it really went over SMTP

    [(envelope_recipients, message)] = inbox.messages
    assert sorted(envelope_recipients) == sorted(
        ["wlasciciel@stolarz.example", "biuro@stolarz.example", accountant.user.email]
    )
    # strip(): the folded, RFC 2047-encoded header unfolds with a leading space, which mail
    # programs drop when they show it.
    assert str(message["Subject"]).strip() == (
        "KSeF: token KSeF – Zakład Stolarski Żółć sp. z o.o. – "
        "przestaje działać za 30 dni (31.12.2026)"
    )
    assert message["To"] == "wlasciciel@stolarz.example, biuro@stolarz.example"
    assert message["Cc"] == accountant.user.email
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    text_content, html_content = text.get_content(), html.get_content()
    assert "Token KSeF firmy Zakład Stolarski Żółć sp. z o.o." in text_content
    assert "jest ważny do 31 grudnia 2026 r. Zostało 30 dni." in text_content
    assert "Od 1 stycznia 2027 r. tokeny KSeF przestają działać" in text_content
    assert "<strong>31 grudnia 2026 r.</strong>" in html_content
    assert "Od <strong>1 stycznia 2027 r.</strong> tokeny KSeF przestają działać" in html_content
