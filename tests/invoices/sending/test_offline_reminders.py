"""The hourly e-mail about offline invoices whose deadline to reach KSeF is near: who gets
it, what it lists, that each invoice is reminded once (also with two workers at once, on
PostgreSQL), and the business days it counts."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from invoices.models import OutgoingInvoice
from invoices.sending import offline_reminders
from invoices.sending.offline_reminders import _is_near, offline_reminders_run
from portal.models import AuditEvent
from tests.certificates.expiry.test_reminders_concurrency import run_in_threads
from tests.factories import make_client, make_member
from tests.invoices.sending.offline_support import offline_invoice

WARSAW = datetime.timezone(datetime.timedelta(hours=1))  # December: CET
WEDNESDAY = datetime.datetime(2026, 12, 2, 9, 10, tzinfo=WARSAW)
TODAY = datetime.date(2026, 12, 2)


def _day(offset: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=offset)


def run(moment: datetime.datetime = WEDNESDAY) -> offline_reminders.OfflineReminderReport:
    with time_machine.travel(moment, tick=False):
        return offline_reminders_run()


# --- business days -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "deadline", "near"),
    [
        (datetime.date(2026, 12, 2), datetime.date(2026, 12, 2), True),  # today
        (datetime.date(2026, 12, 2), datetime.date(2026, 12, 3), True),  # next business day
        (datetime.date(2026, 12, 2), datetime.date(2026, 12, 4), False),
        (datetime.date(2026, 12, 2), datetime.date(2026, 11, 30), True),  # passed, unreminded
        (datetime.date(2026, 12, 4), datetime.date(2026, 12, 7), True),  # Friday -> Monday
        (datetime.date(2026, 12, 4), datetime.date(2026, 12, 8), False),
        (datetime.date(2026, 12, 5), datetime.date(2026, 12, 7), True),  # Saturday -> Monday
        # Wigilia, both days of Christmas and a Sunday: Wednesday 23rd -> Monday 28th.
        (datetime.date(2026, 12, 23), datetime.date(2026, 12, 28), True),
        (datetime.date(2026, 12, 23), datetime.date(2026, 12, 29), False),
        (datetime.date(2026, 11, 10), datetime.date(2026, 11, 12), True),  # 11 November
        (datetime.date(2027, 3, 26), datetime.date(2027, 3, 30), True),  # Easter Monday 29.03
        (datetime.date(2027, 5, 26), datetime.date(2027, 5, 28), True),  # Corpus Christi 27.05
        (datetime.date(2026, 12, 2), None, False),  # outage not over: no deadline yet
    ],
)
def test_near_means_today_or_the_next_business_day(today, deadline, near) -> None:  # type: ignore[no-untyped-def]
    assert _is_near(deadline, today) is near


# --- who gets what -----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_assigned_accountant_gets_one_email_listing_all_near_invoices(
    office, accountant, client_company
):  # type: ignore[no-untyped-def]
    other_client = make_client(office, assigned=[accountant], name="Hurtownia Zbyt sp. z o.o.")
    first = offline_invoice(client_company, deadline=_day(1), number="FV/OFF/1")
    second = offline_invoice(
        other_client, deadline=_day(0), number="FV/OFF/2", mode=OutgoingInvoice.Mode.EMERGENCY
    )
    overdue = offline_invoice(client_company, deadline=_day(-2), number="FV/OFF/3")
    later = offline_invoice(client_company, deadline=_day(2), number="FV/OFF/LATER")

    report = run()

    assert (report.claimed, report.emails) == (3, 1)
    [message] = mail.outbox
    assert message.to == [accountant.user.email]
    assert "3 " in message.subject and "offline" in message.subject
    body = message.body
    assert "FV/OFF/1" in body and "FV/OFF/2" in body and "FV/OFF/3" in body
    assert "FV/OFF/LATER" not in body
    assert "Piekarnia Pod Lipą" in body and "Hurtownia Zbyt" in body
    assert "03.12.2026 (jutro)" in body and "02.12.2026 (dziś)" in body
    assert "termin minął 2 dni temu" in body and "Awaria KSeF" in body
    assert "http://127.0.0.1:8000" + reverse("invoices:offline") in body
    assert (
        "http://127.0.0.1:8000"
        + reverse("invoices:outgoing_view", args=[client_company.pk, first.pk])
        in body
    )
    html = str(message.alternatives[0][0])  # type: ignore[attr-defined]
    assert "FV/OFF/2" in html and reverse("invoices:offline") in html
    # KOD II's signed link belongs on the invoice, not in a mailbox.
    for invoice in (first, second, overdue):
        assert invoice.certificate_url not in body and invoice.certificate_url not in html
    reminded = OutgoingInvoice.objects.filter(deadline_reminded_at__isnull=False)
    assert set(reminded.values_list("pk", flat=True)) == {first.pk, second.pk, overdue.pk}
    later.refresh_from_db()
    assert later.deadline_reminded_at is None


@pytest.mark.django_db
def test_one_invoice_reads_in_the_singular(accountant, client_company):  # type: ignore[no-untyped-def]
    offline_invoice(client_company, deadline=_day(1))
    run()
    [message] = mail.outbox
    assert "1 faktura offline do wysłania do KSeF" in message.subject
    assert "1 faktura wystawiona w trybie offline" in message.body


@pytest.mark.django_db
def test_five_invoices_read_in_the_plural_for_five(accountant, client_company):  # type: ignore[no-untyped-def]
    for _ in range(5):
        offline_invoice(client_company, deadline=_day(-1))
    run()
    [message] = mail.outbox
    assert "5 faktur offline nie trafiło jeszcze do KSeF" in message.subject
    assert "5 faktur wystawionych w trybie offline" in message.body


@pytest.mark.django_db
def test_each_invoice_is_reminded_once(accountant, client_company):  # type: ignore[no-untyped-def]
    offline_invoice(client_company, deadline=_day(1))
    run()
    second = run(WEDNESDAY + datetime.timedelta(hours=1))
    next_day = run(WEDNESDAY + datetime.timedelta(days=1))
    assert (second.claimed, next_day.claimed) == (0, 0)
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_sent_invoices_and_those_waiting_for_an_outage_are_not_reminded(accountant, client_company):  # type: ignore[no-untyped-def]
    offline_invoice(client_company, deadline=_day(0), state=OutgoingInvoice.State.SENT)
    offline_invoice(client_company, deadline=None)
    assert run().claimed == 0 and mail.outbox == []


@pytest.mark.django_db
def test_a_client_without_an_accountant_goes_to_the_managers(office, manager, admin_member):  # type: ignore[no-untyped-def]
    second_manager = make_member(office, "manager")
    lonely = make_client(office, name="Bez Opiekuna sp. z o.o.")
    offline_invoice(lonely, deadline=_day(1))
    run()
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [manager.user.email, second_manager.user.email]
    )


@pytest.mark.django_db
def test_with_nobody_to_tell_the_invoice_waits_for_the_first_run_after_someone_is_assigned(
    office, client_company, accountant
):  # type: ignore[no-untyped-def]
    client_company.assigned_accountants.clear()
    invoice = offline_invoice(client_company, deadline=_day(1))
    report = run()
    assert (report.unaddressed, report.emails) == (1, 0)
    invoice.refresh_from_db()
    assert invoice.deadline_reminded_at is None

    client_company.assigned_accountants.add(accountant)
    assert run(WEDNESDAY + datetime.timedelta(hours=1)).emails == 1
    assert [m.to for m in mail.outbox] == [[accountant.user.email]]


@pytest.mark.django_db
def test_an_inactive_accountant_is_replaced_by_the_managers(accountant, manager, client_company):  # type: ignore[no-untyped-def]
    accountant.user.is_active = False
    accountant.user.save()
    offline_invoice(client_company, deadline=_day(1))
    run()
    assert [m.to for m in mail.outbox] == [[manager.user.email]]


@pytest.mark.django_db
def test_each_accountant_of_a_client_gets_their_own_email(office, accountant, client_company):  # type: ignore[no-untyped-def]
    colleague = make_member(office, "accountant")
    client_company.assigned_accountants.add(colleague)
    offline_invoice(client_company, deadline=_day(1))
    assert run().emails == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [accountant.user.email, colleague.user.email]
    )


@pytest.mark.django_db
def test_the_reminder_is_in_the_audit_log(office, accountant, client_company):  # type: ignore[no-untyped-def]
    invoice = offline_invoice(client_company, deadline=_day(1))
    run()
    event = AuditEvent.objects.get(action="invoices.offline_deadline_reminded")
    assert event.office == office
    assert event.details["invoices"] == [invoice.pk]
    assert event.details["to_member"] == accountant.pk


class FailingBackend:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send_messages(self, messages: Any) -> int:
        raise ValueError("relay refused the message")


@pytest.mark.django_db
def test_a_failed_email_releases_its_invoices_for_the_next_run(accountant, client_company, caplog):  # type: ignore[no-untyped-def]
    invoice = offline_invoice(client_company, deadline=_day(1))
    with override_settings(
        EMAIL_BACKEND="tests.invoices.sending.test_offline_reminders.FailingBackend"
    ):
        report = run()
    assert (report.failed, report.emails) == (1, 0)
    invoice.refresh_from_db()
    assert invoice.deadline_reminded_at is None
    assert "relay refused" not in caplog.text

    assert run(WEDNESDAY + datetime.timedelta(hours=1)).emails == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_the_job_is_scheduled_hourly_by_beat_and_takes_no_arguments() -> None:
    from django_celery_beat.models import PeriodicTask

    from portal.celery import app

    task = PeriodicTask.objects.get(task="invoices.offline_deadline_reminders")
    assert task.enabled and task.crontab.hour == "*" and task.crontab.minute == "10"
    assert task.args in ("[]", "") and task.kwargs in ("{}", "")
    app.loader.import_default_modules()
    assert "invoices.offline_deadline_reminders" in app.tasks


@pytest.mark.django_db
def test_the_task_runs_the_job(accountant, client_company) -> None:  # type: ignore[no-untyped-def]
    from invoices.sending.tasks import offline_deadline_reminders

    offline_invoice(client_company, deadline=_day(1))
    with time_machine.travel(WEDNESDAY, tick=False):
        result = offline_deadline_reminders.apply().get()
    assert result["emails"] == 1 and result["claimed"] == 1


# --- two workers at once -----------------------------------------------------------------


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite serialises writers, so two workers cannot race",
)
@pytest.mark.django_db(transaction=True)
@override_settings(EMAIL_BACKEND="tests.certificates.expiry.test_reminders_concurrency.SlowBackend")
def test_two_workers_at_once_remind_each_invoice_once(office) -> None:  # type: ignore[no-untyped-def]
    accountants = [make_member(office, "accountant") for _ in range(4)]
    invoices = []
    for n in range(20):
        client = make_client(office, assigned=[accountants[n % 4]], name=f"Firma {n}")
        invoices.append(offline_invoice(client, deadline=_day(n % 2)))

    first, second = run_in_threads(run)

    assert first.claimed + second.claimed == 20
    reminded = OutgoingInvoice.objects.filter(deadline_reminded_at__isnull=False).count()
    assert reminded == 20
    listed = [
        line
        for message in mail.outbox
        for line in message.body.splitlines()
        if line.startswith("- Firma ")
    ]
    assert len(listed) == 20 and len(set(listed)) == 20
    assert first.emails + second.emails == len(mail.outbox) <= 8
