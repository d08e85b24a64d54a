"""The weekly token reminder: once per client and week, with a working self-upload link,
never for a client with a certificate, never after 31.12.2026, and never in a week in which
an expiry reminder already speaks about the token."""

from __future__ import annotations

import logging
import re
import smtplib
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from certificates.expiry.reminders import reminders_run
from certificates.models import (
    Credential,
    ReminderSettings,
    SentReminder,
    TokenReminder,
    UploadLink,
)
from certificates.services import upload_link_token_hash
from certificates.tokens import reminders as token_reminders
from certificates.tokens.reminders import token_reminders_run
from clients.models import AccessModel
from portal.models import AuditEvent
from tests.certificates.expiry.factories import make_credential, new_client, warsaw
from tests.certificates.expiry.test_reminders_delivery import FLAKY, FlakyBackend

pytestmark = pytest.mark.django_db

# With the default thresholds (60, 30, 14, 7, 1, 0) the expiry reminders speak about a token
# on 1, 17, 24, 30 and 31 December 2026; the week of 7–13 December is the weekly one's.
MONDAY = warsaw(2026, 12, 7, 7, 15)
LINK = re.compile(r"https?://\S+/credentials/u/([\w-]+)/")


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("certificates.expiry.reminders.time.sleep", lambda _s: None)


def on_token(office: Any, **fields: Any) -> Any:
    fields.setdefault("access_model", AccessModel.CLIENT_CREDENTIAL)
    client = new_client(office, **fields)
    make_credential(office, client, Credential.Kind.TOKEN)
    return client


def link_token(message: Any) -> str:
    """The self-upload token in an e-mail's text."""
    found = LINK.search(str(message.body))
    assert found, message.body
    return found.group(1)


def run_at(moment: Any) -> token_reminders.TokenRunReport:
    with time_machine.travel(moment, tick=False):
        return token_reminders_run()


def test_the_job_twice_on_the_same_day_sends_one_email_with_a_working_link(
    office, accountant, client
):
    customer = on_token(office, assigned=[accountant], contact_emails=["szef@firma.example"])

    first, second = run_at(MONDAY), run_at(MONDAY)

    assert (first.sent, second.sent, second.not_ours) == (1, 0, 1)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["szef@firma.example"]
    assert message.cc == [accountant.user.email]
    assert "przestaje działać 31.12.2026" in message.subject
    assert "Zostały 24 dni." in message.body  # 2–4 form: "zostały 24 dni"
    token = link_token(message)
    link = UploadLink.objects.get()
    assert link.token_hash == upload_link_token_hash(token)
    assert link.kind == Credential.Kind.AUTHENTICATION and link.client == customer
    row = TokenReminder.objects.get()
    assert (row.status, row.upload_link, row.week_start.isoformat()) == (
        "sent",
        link,
        "2026-12-07",
    )
    with time_machine.travel(MONDAY, tick=False):
        page = client.get(reverse("certificates:self_upload", kwargs={"token": token}))
    assert page.status_code == 200


def test_a_later_day_of_the_same_week_sends_nothing_the_next_week_sends_again(office):
    on_token(office)

    run_at(MONDAY)
    run_at(warsaw(2026, 12, 10, 7, 15))
    assert len(mail.outbox) == 1

    # 14–20 December: the 14-day expiry reminder (17.12) speaks; the weekly one waits.
    assert run_at(warsaw(2026, 12, 14, 7, 15)).deferred == 1
    assert len(mail.outbox) == 1


def test_each_weekly_email_carries_a_fresh_link(office):
    on_token(office)
    ReminderSettings.objects.create(office=office, thresholds=[0])  # only the last day

    run_at(MONDAY)
    run_at(warsaw(2026, 12, 14, 7, 15))

    tokens = [link_token(m) for m in mail.outbox]
    assert len(tokens) == 2 and tokens[0] != tokens[1]
    assert TokenReminder.objects.filter(status="sent").count() == 2


def test_a_week_with_an_expiry_reminder_about_the_token_gets_no_second_email(office):
    """2 December: 29 days left, so the daily job sends the 30-day token reminder; the weekly
    run that follows it the same day, and later that week, stays silent."""
    on_token(office)
    with time_machine.travel(warsaw(2026, 12, 2, 7, 0), tick=False):
        assert reminders_run().sent == 1

    assert run_at(warsaw(2026, 12, 2, 7, 15)).deferred == 1
    assert run_at(warsaw(2026, 12, 5, 7, 15)).deferred == 1
    assert len(mail.outbox) == 1
    assert not TokenReminder.objects.exists()


def test_both_jobs_over_december_never_send_the_weekly_one_beside_an_expiry_one(office):
    """Every day of December, the 07:00 expiry run and the 07:15 token run: each week brings
    an e-mail about the token, and the weekly one only in a week the expiry ones leave
    empty. (28–31 December has the expiry reminders' own 1-day and 0-day e-mails.)"""
    on_token(office)
    for day in range(1, 32):
        with time_machine.travel(warsaw(2026, 12, day, 7, 0), tick=False):
            reminders_run()
        run_at(warsaw(2026, 12, day, 7, 15))

    expiry_weeks = [
        sent.sent_at.isocalendar().week  # type: ignore[union-attr]
        for sent in SentReminder.objects.filter(status="sent")
    ]
    weekly_weeks = [
        weekly.week_start.isocalendar().week
        for weekly in TokenReminder.objects.filter(status="sent")
    ]
    assert weekly_weeks == [50]  # 7–13 December
    assert sorted(expiry_weeks) == [49, 51, 52, 53, 53]
    assert not set(weekly_weeks) & set(expiry_weeks)
    assert len(mail.outbox) == 6


def test_office_thresholds_decide_which_weeks_are_the_expiry_reminders(office):
    ReminderSettings.objects.create(office=office, thresholds=[24])  # 7 December
    on_token(office)

    assert run_at(MONDAY).deferred == 1
    assert not mail.outbox


@pytest.mark.parametrize(
    "setup",
    ["certificate", "office model", "archived", "replaced token"],
)
def test_no_reminder_for_a_client_that_does_not_rely_on_its_own_token(office, setup):
    if setup == "replaced token":
        client = new_client(office, access_model=AccessModel.CLIENT_CREDENTIAL)
        make_credential(office, client, Credential.Kind.TOKEN, status=Credential.Status.REPLACED)
    else:
        client = on_token(
            office,
            access_model=AccessModel.OFFICE if setup == "office model" else "client",
            is_archived=setup == "archived",
        )
    if setup == "certificate":
        make_credential(office, client, valid_to=warsaw(2028, 1, 1))
    if setup == "office model":
        make_credential(office, None, Credential.Kind.TOKEN)  # the office's own: not the client's

    assert run_at(MONDAY).due == 0
    assert not mail.outbox


def test_reminders_stop_once_the_client_uploads_a_certificate(office):
    client = on_token(office)
    ReminderSettings.objects.create(office=office, thresholds=[0])
    run_at(MONDAY)

    make_credential(office, client, valid_to=warsaw(2028, 1, 1))

    assert run_at(warsaw(2026, 12, 14, 7, 15)).due == 0
    assert len(mail.outbox) == 1


def test_a_client_that_got_a_certificate_after_the_list_was_made_is_not_sent(office):
    client = on_token(office)
    make_credential(office, client, valid_to=warsaw(2028, 1, 1))
    with time_machine.travel(MONDAY, tick=False):
        result = token_reminders.token_reminder_send(client=client, settings_row=None, now=MONDAY)

    assert result is None and not mail.outbox and not TokenReminder.objects.exists()


@pytest.mark.parametrize(
    "moment",
    [warsaw(2027, 1, 1, 0, 0), warsaw(2027, 1, 4, 7, 15), warsaw(2027, 3, 1, 7, 15)],
)
def test_never_after_the_cut_off(office, moment):
    on_token(office)

    report = run_at(moment)

    assert report.due == 0 and not mail.outbox


def test_the_last_week_before_the_cut_off_still_counts(office):
    ReminderSettings.objects.create(office=office, thresholds=[60])
    on_token(office)

    assert run_at(warsaw(2026, 12, 28, 7, 15)).sent == 1
    assert "Zostały 3 dni." in mail.outbox[0].body


def test_a_client_without_contact_emails_is_skipped_and_no_link_is_made(office, accountant):
    on_token(office, assigned=[accountant], contact_emails=[])

    assert run_at(MONDAY).skipped == 1
    assert run_at(MONDAY).not_ours == 1
    assert not mail.outbox and not UploadLink.objects.exists()
    assert TokenReminder.objects.get().status == "skipped"


@override_settings(EMAIL_BACKEND=FLAKY)
def test_a_failed_send_revokes_its_link_and_the_next_run_sends_a_new_one(office, caplog):
    FlakyBackend.reset(fail_from=1, error=smtplib.SMTPRecipientsRefused({}))
    on_token(office)

    with caplog.at_level(logging.DEBUG):
        assert run_at(MONDAY).failed == 1
    failed_link = UploadLink.objects.get()
    assert failed_link.revoked_at is not None
    assert TokenReminder.objects.get().status == "failed"

    FlakyBackend.reset()
    assert run_at(warsaw(2026, 12, 7, 9)).sent == 1
    assert len(mail.outbox) == 1
    assert UploadLink.objects.count() == 2
    assert UploadLink.objects.exclude(pk=failed_link.pk).get().revoked_at is None


def test_the_links_token_is_only_in_the_email(office, caplog):
    on_token(office)
    with caplog.at_level(logging.DEBUG):
        run_at(MONDAY)

    token = link_token(mail.outbox[0])
    assert token not in caplog.text
    events = AuditEvent.objects.all()
    assert {e.action for e in events} == {"upload_link.created", "reminder.sent"}
    assert all(token not in str(e.details) for e in events)
    row = TokenReminder.objects.values().get()
    assert token not in str(row)


def test_the_job_is_scheduled_by_beat_and_takes_no_arguments() -> None:
    from django_celery_beat.models import PeriodicTask

    from portal.celery import app

    task = PeriodicTask.objects.get(task="certificates.token_reminders_weekly")
    assert task.enabled and task.crontab.hour == "7" and task.crontab.minute == "15"
    assert task.args in ("[]", "") and task.kwargs in ("{}", "")
    app.loader.import_default_modules()
    assert "certificates.token_reminders_weekly" in app.tasks


def test_the_task_runs_the_job(office) -> None:
    from certificates.tokens.tasks import token_reminders_weekly

    on_token(office)
    with time_machine.travel(MONDAY, tick=False):
        result = token_reminders_weekly.apply().get()

    assert result["sent"] == 1
