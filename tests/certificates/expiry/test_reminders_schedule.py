"""Which reminders go out when: a frozen clock walked day by day across 90 days.

Day 0 is 21 November 2026 (the day this feature shipped), 07:00 in Warsaw, when the daily
job runs. KSeF tokens stop working after 31 December 2026, which is 40 days away on day 0,
so every token is already inside the 60-day threshold.
"""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core import mail

from certificates.expiry.reminders import due_threshold, reminders_run
from certificates.models import Credential, ReminderSettings, SentReminder
from tests.certificates.expiry.factories import make_credential, new_client, warsaw
from tests.factories import make_member

DAY_0 = warsaw(2026, 11, 21, 7, 0)


def at_day(day: int) -> datetime.datetime:
    return DAY_0 + datetime.timedelta(days=day)


def noon_of_day(day: int) -> datetime.datetime:
    return warsaw(2026, 11, 21, 12, 0) + datetime.timedelta(days=day)


def reminders_sent_in(outbox: list) -> list[tuple[int, int]]:  # type: ignore[type-arg]
    """(credential id, threshold) of every reminder e-mail in the outbox, in order."""
    pairs = []
    for message in outbox:
        credential_id, threshold = message.extra_headers["X-Portal-Reminder"].split("/")
        pairs.append((int(credential_id), int(threshold)))
    return pairs


def test_the_due_threshold_is_the_latest_one_crossed() -> None:
    thresholds = [60, 30, 14, 7, 1, 0]
    assert due_threshold(90, thresholds) is None
    assert due_threshold(61, thresholds) is None
    assert due_threshold(60, thresholds) == 60
    assert due_threshold(40, thresholds) == 60
    assert due_threshold(10, thresholds) == 14
    assert due_threshold(1, thresholds) == 1
    assert due_threshold(0, thresholds) == 0
    # A missed run on the day of expiry is caught up for a week, then left alone.
    assert due_threshold(-3, thresholds) == 0
    assert due_threshold(-8, thresholds) is None


@pytest.mark.django_db
def test_ninety_days_of_daily_runs_send_each_threshold_once_at_the_right_day(
    office, admin_member, accountant
) -> None:
    with time_machine.travel(DAY_0, tick=False):
        token_client = new_client(office, assigned=[accountant], name="Tokenowa sp. z o.o.")
        token = make_credential(office, token_client, Credential.Kind.TOKEN)
        company = new_client(office, assigned=[accountant], name="Certyfikatowa S.A.")
        authentication = make_credential(office, company, valid_to=noon_of_day(45))
        offline = make_credential(
            office, company, Credential.Kind.OFFLINE, valid_to=noon_of_day(100)
        )
        replaced_client = new_client(office, name="Zmieniona sp. j.")
        to_be_replaced = make_credential(office, replaced_client, valid_to=noon_of_day(20))
        office_own = make_credential(office, None, valid_to=noon_of_day(3))
        deleted = make_credential(
            office,
            new_client(office, name="Usunięta"),
            valid_to=noon_of_day(5),
            status=Credential.Status.DELETED,
        )
        archived = new_client(office, name="Archiwalna", is_archived=True)
        make_credential(office, archived, valid_to=noon_of_day(5))
        late_client = new_client(office, name="Spóźniona s.c.")

    late_upload = None
    replacement = None
    sent_on: dict[tuple[int, int], list[int]] = {}
    for day in range(90):
        with time_machine.travel(at_day(day), tick=False):
            if day == 10:  # the client renewed: the old certificate is replaced
                Credential.objects.filter(pk=to_be_replaced.pk).update(
                    status=Credential.Status.REPLACED
                )
                replacement = make_credential(office, replaced_client, valid_to=noon_of_day(740))
            if day == 50:  # uploaded with only 10 days left
                late_upload = make_credential(office, late_client, valid_to=noon_of_day(60))
            mail.outbox.clear()
            reminders_run()
            reminders_run()  # the job running twice in a day changes nothing
            for pair in reminders_sent_in(mail.outbox):
                sent_on.setdefault(pair, []).append(day)

    assert late_upload is not None and replacement is not None
    expected = {
        # token: 40 days left on day 0, cut-off 31.12.2026 (day 40)
        (token.pk, 60): [0],
        (token.pk, 30): [10],
        (token.pk, 14): [26],
        (token.pk, 7): [33],
        (token.pk, 1): [39],
        (token.pk, 0): [40],
        (authentication.pk, 60): [0],
        (authentication.pk, 30): [15],
        (authentication.pk, 14): [31],
        (authentication.pk, 7): [38],
        (authentication.pk, 1): [44],
        (authentication.pk, 0): [45],
        (offline.pk, 60): [40],
        (offline.pk, 30): [70],
        (offline.pk, 14): [86],
        # replaced on day 10: 30 (20 days left) and 14 (day 6), nothing after
        (to_be_replaced.pk, 30): [0],
        (to_be_replaced.pk, 14): [6],
        # 10 days left at upload: only the latest crossed threshold (14), then the rest
        (late_upload.pk, 14): [50],
        (late_upload.pk, 7): [53],
        (late_upload.pk, 1): [59],
        (late_upload.pk, 0): [60],
        # the office's own certificate, 3 days left on day 0
        (office_own.pk, 7): [0],
        (office_own.pk, 1): [2],
        (office_own.pk, 0): [3],
    }
    assert sent_on == expected
    assert not any(pk in (deleted.pk, replacement.pk) for pk, _t in sent_on)
    assert SentReminder.objects.filter(status=SentReminder.Status.SENT).count() == len(expected)


@pytest.mark.django_db
def test_an_office_with_its_own_thresholds_gets_reminders_at_those_days_only(
    office, accountant
) -> None:
    ReminderSettings.objects.create(office=office, thresholds=[21, 3])
    with time_machine.travel(DAY_0, tick=False):
        client = new_client(office, assigned=[accountant])
        credential = make_credential(office, client, valid_to=noon_of_day(25))
    sent_on: dict[tuple[int, int], list[int]] = {}
    for day in range(30):
        with time_machine.travel(at_day(day), tick=False):
            mail.outbox.clear()
            reminders_run()
            for pair in reminders_sent_in(mail.outbox):
                sent_on.setdefault(pair, []).append(day)
    # No day-of-expiry reminder: this office left 0 out of its thresholds.
    assert sent_on == {(credential.pk, 21): [4], (credential.pk, 3): [22]}


@pytest.mark.django_db
def test_after_a_week_without_runs_only_the_latest_threshold_is_sent(office, accountant) -> None:
    with time_machine.travel(DAY_0, tick=False):
        client = new_client(office, assigned=[accountant])
        credential = make_credential(office, client, valid_to=noon_of_day(35))
        reminders_run()  # 60
    with time_machine.travel(at_day(29), tick=False):  # the job was down: 30 and 14 went by
        mail.outbox.clear()
        reminders_run()
    assert reminders_sent_in(mail.outbox) == [(credential.pk, 7)]


@pytest.mark.django_db
def test_a_client_without_contact_addresses_is_reminded_through_its_accountant(
    office, accountant
) -> None:
    with time_machine.travel(DAY_0, tick=False):
        client = new_client(office, assigned=[accountant], contact_emails=[])
        make_credential(office, client, valid_to=noon_of_day(7))
        reminders_run()
    [message] = mail.outbox
    assert message.to == [accountant.user.email]
    assert message.cc == []


@pytest.mark.django_db
def test_a_reminder_with_nobody_to_write_to_is_logged_as_skipped(office) -> None:
    with time_machine.travel(DAY_0, tick=False):
        client = new_client(office, contact_emails=[])
        make_credential(office, client, valid_to=noon_of_day(7))
        report = reminders_run()
    assert mail.outbox == []
    assert report.skipped == 1
    reminder = SentReminder.objects.get()
    assert reminder.status == SentReminder.Status.SKIPPED
    assert "Brak adresów" in reminder.last_error


@pytest.mark.django_db
def test_the_office_credential_reminder_goes_to_the_office_admins(
    office, admin_member, manager
) -> None:
    other_admin = make_member(office, "admin", "admin2")
    with time_machine.travel(DAY_0, tick=False):
        make_credential(office, None, valid_to=noon_of_day(1))
        reminders_run()
    [message] = mail.outbox
    assert sorted(message.to) == sorted([admin_member.user.email, other_admin.user.email])
    assert manager.user.email not in message.to + message.cc
