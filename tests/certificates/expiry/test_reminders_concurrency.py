"""Two workers running the reminder job at the same moment send every reminder once.

This needs a database where two connections really run at once and a unique constraint
decides the race on INSERT: PostgreSQL (the production database). SQLite serialises
writers on one file lock, so the race this test is about cannot happen there.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection
from django.test import override_settings

from certificates.expiry.reminders import DueReminder, RunReport, reminder_claim, reminders_run
from certificates.models import SentReminder
from tests.certificates.expiry.factories import make_credential, new_client, warsaw

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite serialises writers, so two workers cannot race",
)

DAY_0 = warsaw(2026, 11, 21, 7, 0)


class SlowBackend(LocmemBackend):
    """The locmem outbox, but each message takes a moment, as over a real SMTP link."""

    lock = threading.Lock()

    def send_messages(self, messages: Any) -> int:
        time.sleep(0.02)
        with self.lock:
            return super().send_messages(messages)


def run_in_threads(target: Any, count: int = 2) -> list[Any]:
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = target()
        except BaseException as error:  # reported to the test below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True)
@override_settings(EMAIL_BACKEND="tests.certificates.expiry.test_reminders_concurrency.SlowBackend")
def test_two_workers_running_the_job_at_once_send_each_reminder_exactly_once(
    office, accountant
) -> None:
    credentials = [
        make_credential(
            office,
            new_client(office, assigned=[accountant], name=f"Klient {n}"),
            valid_to=warsaw(2026, 11, 21 + n % 9, 12),
        )
        for n in range(30)
    ]

    with time_machine.travel(DAY_0, tick=False):  # the clock is process-wide: both threads
        reports: list[RunReport] = run_in_threads(reminders_run)

    sent = [message.extra_headers["X-Portal-Reminder"] for message in mail.outbox]
    assert len(sent) == len(set(sent)) == len(credentials)
    assert sum(report.sent for report in reports) == len(credentials)
    assert sum(report.not_ours for report in reports) == len(credentials)
    assert SentReminder.objects.filter(status=SentReminder.Status.SENT).count() == 30


@pytest.mark.django_db(transaction=True)
def test_of_two_workers_claiming_the_same_reminder_only_one_gets_it(office, accountant) -> None:
    client = new_client(office, assigned=[accountant])
    credential = make_credential(office, client, valid_to=warsaw(2026, 11, 28, 12))
    due = DueReminder(credential.pk, office.pk, 7, credential.valid_to)  # type: ignore[arg-type]

    for _round in range(5):
        SentReminder.objects.all().delete()
        claims = run_in_threads(lambda: reminder_claim(due=due), count=4)
        assert sum(claim is not None for claim in claims) == 1
        assert SentReminder.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@override_settings(EMAIL_BACKEND="tests.certificates.expiry.test_reminders_concurrency.SlowBackend")
def test_send_now_racing_the_daily_job_sends_each_reminder_exactly_once(
    office, accountant, manager
) -> None:
    from certificates.expiry.preview import reminders_send_now

    client = new_client(office, assigned=[accountant])
    make_credential(office, client, valid_to=warsaw(2026, 11, 22, 12))
    make_credential(office, client, "offline", valid_to=warsaw(2026, 11, 23, 12))
    make_credential(office, client, "token")  # works until 31.12.2026: the 60-day one is due
    make_credential(office, new_client(office), valid_to=warsaw(2026, 11, 24, 12))  # job only
    lock = threading.Lock()

    for _round in range(3):
        SentReminder.objects.all().delete()
        mail.outbox = []
        jobs = iter([reminders_run, lambda: reminders_send_now(actor=manager.user, client=client)])

        def one_of_them(jobs: Any = jobs) -> Any:
            with lock:
                job = next(jobs)
            return job()

        with time_machine.travel(DAY_0, tick=False):  # both threads start at the barrier
            run_in_threads(one_of_them, count=2)

        sent = [message.extra_headers["X-Portal-Reminder"] for message in mail.outbox]
        assert len(sent) == len(set(sent)) == 4
        assert SentReminder.objects.filter(status=SentReminder.Status.SENT).count() == 4
