"""Sending reminders: failures mid-batch, a worker dying after its claim, retries of
transient SMTP errors, and what the e-mail says (Polish, Warsaw dates, text and HTML)."""

from __future__ import annotations

import datetime
import smtplib
from typing import Any, ClassVar

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.test import override_settings

from certificates.expiry import reminders
from certificates.expiry.reminders import reminders_run
from certificates.models import Credential, ReminderSettings, SentReminder
from portal.models import AuditEvent
from tests.certificates.expiry.factories import make_credential, new_client, warsaw

DAY_0 = warsaw(2026, 11, 21, 7, 0)
FLAKY = "tests.certificates.expiry.test_reminders_delivery.FlakyBackend"


class WorkerKilled(BaseException):
    """Stands for the worker process dying mid-batch (not an Exception: nothing catches it)."""


class FlakyBackend(LocmemBackend):
    """The locmem outbox, failing on demand: `fail_from` is the 1-based message number from
    which every send raises `error`; `failures_left` limits how many times it does."""

    fail_from: ClassVar[int | None] = None
    failures_left: ClassVar[int] = 10**6
    error: ClassVar[BaseException] = smtplib.SMTPServerDisconnected(
        "Connection unexpectedly closed"
    )
    attempts: ClassVar[int] = 0

    @classmethod
    def reset(cls, **changes: Any) -> None:
        cls.fail_from, cls.failures_left, cls.attempts = None, 10**6, 0
        cls.error = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        for name, value in changes.items():
            setattr(cls, name, value)

    def send_messages(self, messages: Any) -> int:
        cls = type(self)
        cls.attempts += 1
        if (
            cls.fail_from is not None
            and len(mail.outbox) + 1 >= cls.fail_from
            and cls.failures_left > 0
        ):
            cls.failures_left -= 1
            raise cls.error
        return super().send_messages(messages)


@pytest.fixture(autouse=True)
def no_backoff_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reminders, "RETRY_BASE_SECONDS", 0.0)
    FlakyBackend.reset()


@pytest.fixture
def five_due(office, accountant) -> list[Credential]:  # type: ignore[no-untyped-def]
    """Five client certificates, each due its 7-day reminder on day 0."""
    with time_machine.travel(DAY_0, tick=False):
        return [
            make_credential(
                office,
                new_client(office, assigned=[accountant], name=f"Klient {n}"),
                valid_to=warsaw(2026, 11, 26, 12, 0),
            )
            for n in range(5)
        ]


def sent_pairs() -> list[str]:
    return [message.extra_headers["X-Portal-Reminder"] for message in mail.outbox]


@override_settings(EMAIL_BACKEND=FLAKY)
def test_a_send_failing_mid_batch_is_retried_by_the_next_run_and_sent_exactly_once(
    five_due,
) -> None:
    FlakyBackend.reset(fail_from=3)  # the SMTP server goes away after two messages
    with time_machine.travel(DAY_0, tick=False):
        first = reminders_run()
    assert (first.sent, first.failed) == (2, 3)
    assert SentReminder.objects.filter(status=SentReminder.Status.FAILED).count() == 3
    assert "SMTPServerDisconnected" in SentReminder.objects.filter(status="failed")[0].last_error

    FlakyBackend.reset()  # the server is back
    with time_machine.travel(DAY_0 + datetime.timedelta(hours=1), tick=False):
        second = reminders_run()
        third = reminders_run()
    assert (second.sent, second.failed, third.sent) == (3, 0, 0)
    expected = {f"{credential.pk}/7" for credential in five_due}
    assert sorted(sent_pairs()) == sorted(expected)  # each once, none missing
    assert SentReminder.objects.filter(status="sent").count() == 5
    assert SentReminder.objects.get(credential=five_due[4]).attempts == 2


@override_settings(EMAIL_BACKEND=FLAKY)
def test_a_worker_dying_after_its_claim_leaves_the_reminder_to_the_run_after_the_lease(
    five_due,
) -> None:
    FlakyBackend.reset(fail_from=3, error=WorkerKilled(), failures_left=1)
    with time_machine.travel(DAY_0, tick=False), pytest.raises(WorkerKilled):
        reminders_run()
    assert len(mail.outbox) == 2
    stuck = SentReminder.objects.get(status=SentReminder.Status.CLAIMED)

    # A run while the dead worker's lease still holds: sends the rest, not the claimed one
    # (it cannot tell a dead worker from a slow one yet).
    with time_machine.travel(DAY_0 + datetime.timedelta(minutes=5), tick=False):
        reminders_run()
    assert len(mail.outbox) == 4
    assert f"{stuck.credential_id}/7" not in sent_pairs()

    with time_machine.travel(DAY_0 + reminders.CLAIM_LEASE + datetime.timedelta(minutes=1)):
        reminders_run()
        reminders_run()
    assert sorted(sent_pairs()) == sorted(f"{c.pk}/7" for c in five_due)
    stuck.refresh_from_db()
    assert stuck.status == SentReminder.Status.SENT


@override_settings(EMAIL_BACKEND=FLAKY)
def test_transient_smtp_errors_are_retried_with_backoff_and_the_reminder_sent_once(
    five_due, monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(reminders, "RETRY_BASE_SECONDS", 1.0)
    monkeypatch.setattr(reminders.time, "sleep", pauses.append)
    FlakyBackend.reset(
        fail_from=1,
        failures_left=2,
        error=smtplib.SMTPResponseException(421, b"4.7.0 Try again later"),
    )
    with time_machine.travel(DAY_0, tick=False):
        report = reminders_run()
    assert report.sent == 5
    assert len(mail.outbox) == 5
    assert len(pauses) == 2
    assert 1.0 <= pauses[0] <= 2.0 and 2.0 <= pauses[1] <= 4.0  # exponential, with jitter


@override_settings(EMAIL_BACKEND=FLAKY)
def test_a_permanent_smtp_refusal_is_not_retried_but_recorded(five_due) -> None:
    FlakyBackend.reset(
        fail_from=1, error=smtplib.SMTPResponseException(550, b"5.1.1 Mailbox unavailable")
    )
    with time_machine.travel(DAY_0, tick=False):
        report = reminders_run()
    assert report.failed == 5
    assert FlakyBackend.attempts == 5  # once per reminder, no retries
    assert "550" in SentReminder.objects.first().last_error  # type: ignore[union-attr]


@pytest.mark.django_db
def test_a_replaced_or_deleted_credential_gets_no_more_reminders(office, accountant) -> None:
    client = new_client(office, assigned=[accountant])
    with time_machine.travel(DAY_0, tick=False):
        replaced = make_credential(office, client, valid_to=warsaw(2026, 11, 28, 12))
        reminders_run()  # the 7-day reminder
        Credential.objects.filter(pk=replaced.pk).update(status=Credential.Status.REPLACED)
        deleted = make_credential(
            office, client, Credential.Kind.OFFLINE, valid_to=warsaw(2026, 11, 28, 12)
        )
        Credential.objects.filter(pk=deleted.pk).update(status=Credential.Status.DELETED)
    for day in range(1, 15):
        with time_machine.travel(DAY_0 + datetime.timedelta(days=day), tick=False):
            reminders_run()
    assert sent_pairs() == [f"{replaced.pk}/7"]


# --- What the e-mail says ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_certificate_reminder_is_in_polish_with_warsaw_dates_and_renewal_steps(
    office, accountant
) -> None:
    client = new_client(
        office,
        assigned=[accountant],
        name="Piekarnia Pod Lipą & Syn sp. z o.o.",
        contact_emails=["szef@piekarnia.example", "ksiegowa@piekarnia.example"],
    )
    # 23:30 UTC on 4 January is already 5 January in Warsaw.
    valid_to = datetime.datetime(2027, 1, 4, 23, 30, tzinfo=datetime.UTC)
    credential = make_credential(office, client, valid_to=valid_to, serial_number="5A0BCDEF")
    with time_machine.travel(DAY_0, tick=False):
        reminders_run()
    [message] = mail.outbox
    assert message.subject == (
        "KSeF: certyfikat uwierzytelniający KSeF – Piekarnia Pod Lipą & Syn sp. z o.o. – "
        "wygasa za 45 dni (05.01.2027)"
    )
    assert message.to == ["szef@piekarnia.example", "ksiegowa@piekarnia.example"]
    assert message.cc == [accountant.user.email]
    assert message.reply_to == [accountant.user.email]
    text = message.body
    assert "Piekarnia Pod Lipą & Syn sp. z o.o." in text  # not HTML-escaped in the text part
    assert "jest ważny do 5 stycznia 2027 r." in text
    assert "05.01.2027, 00:30 (czas polski)" in text
    assert "5A0BCDEF" in text
    assert "biuro straci cały dostęp do KSeF" in text
    assert "Aplikacji Podatnika KSeF" in text
    assert "w ostatnich 30 dniach ważności obecnego certyfikatu, czyli od 06.12.2026" in text
    assert "Nie wysyłaj" not in text and "nie wysyłać klucza prywatnego" in text
    assert isinstance(message, EmailMultiAlternatives)
    content, mimetype = message.alternatives[0]
    html = str(content)
    assert mimetype == "text/html"
    assert "Piekarnia Pod Lipą &amp; Syn" in html
    assert "5 stycznia 2027 r." in html
    assert f"/credentials/clients/{client.pk}/" in html
    assert credential.pk


@pytest.mark.django_db
def test_the_token_reminder_says_tokens_stop_working_on_1_january_2027(office, accountant) -> None:
    client = new_client(office, assigned=[accountant], name="Tokenowa sp. z o.o.")
    make_credential(office, client, Credential.Kind.TOKEN)
    with time_machine.travel(warsaw(2026, 12, 30, 7), tick=False):
        reminders_run()
    [message] = mail.outbox
    assert message.subject == (
        "KSeF: token KSeF – Tokenowa sp. z o.o. – przestaje działać jutro (31.12.2026)"
    )
    assert "Od 1 stycznia 2027 r. tokeny KSeF przestają działać" in message.body
    assert "certyfikat KSeF typu 1 – uwierzytelniający" in message.body
    assert "biuro straci cały dostęp do KSeF" in message.body


@pytest.mark.django_db
def test_the_offline_reminder_explains_offline_invoicing_stops(office, accountant) -> None:
    client = new_client(office, assigned=[accountant])
    make_credential(office, client, Credential.Kind.OFFLINE, valid_to=warsaw(2026, 11, 21, 18))
    with time_machine.travel(DAY_0, tick=False):
        reminders_run()
    [message] = mail.outbox
    assert "wygasa dziś (21.11.2026)" in message.subject
    assert "nie da się wystawiać faktur w trybie offline" in message.body
    assert "Faktury wystawiane online działają dalej" in message.body
    assert "certyfikat offline (typ 2)" in message.body


@pytest.mark.django_db
def test_the_office_sender_address_is_used_and_each_sent_reminder_is_audited(
    office, accountant
) -> None:
    ReminderSettings.objects.create(office=office, sender_email="przypomnienia@bilans.example")
    client = new_client(office, assigned=[accountant])
    credential = make_credential(office, client, valid_to=warsaw(2026, 11, 22, 12))
    with time_machine.travel(DAY_0, tick=False):
        reminders_run()
    [message] = mail.outbox
    assert message.from_email == "przypomnienia@bilans.example"
    event = AuditEvent.objects.get(action="reminder.sent")
    assert event.object_id == str(credential.pk)
    assert event.details["threshold"] == 1
    reminder = SentReminder.objects.get()
    assert reminder.recipients == client.contact_emails
    assert reminder.copy_to == [accountant.user.email]
    assert reminder.subject == message.subject
