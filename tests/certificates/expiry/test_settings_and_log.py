"""The admins' reminder settings page, the reminder log of a client, and the beat schedule."""

from __future__ import annotations

import pytest
import time_machine
from django.core import mail
from django.template import Context, Template
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from certificates.expiry.reminders import parse_thresholds, reminders_run
from certificates.expiry.selectors import reminders_for_client
from certificates.models import Credential, ReminderSettings, SentReminder
from portal.models import AuditEvent
from tests.certificates.expiry.factories import make_credential, new_client, warsaw

SETTINGS_URL = "/expiry/settings/"


def log_url(client_pk: int) -> str:
    return f"/expiry/clients/{client_pk}/reminders/"


# --- Settings ----------------------------------------------------------------------------------


def test_an_admin_sees_the_defaults_and_saves_new_thresholds(login, admin_member) -> None:
    browser = login(admin_member)
    page = browser.get(SETTINGS_URL).content.decode()
    assert 'value="60, 30, 14, 7, 1, 0"' in page
    response = browser.post(
        SETTINGS_URL,
        {"thresholds": "7; 45 ,30", "sender_email": "kontakt@bilans.example", "weekly_digest": ""},
    )
    assert response.status_code == 302
    saved = ReminderSettings.objects.get(office=admin_member.office)
    assert saved.thresholds == [45, 30, 7]
    assert saved.sender_email == "kontakt@bilans.example"
    assert saved.weekly_digest is False
    event = AuditEvent.objects.get(action="reminders.settings_changed")
    assert event.details["after"]["thresholds"] == [45, 30, 7]
    assert 'value="45, 30, 7"' in browser.get(SETTINGS_URL).content.decode()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Podaj co najmniej jeden próg"),
        ("60, trzydzieści", "„trzydzieści” nie jest liczbą dni"),
        ("60, -5", "„-5” nie jest liczbą dni"),
        ("400", "Próg 400 dni jest za duży: najwyżej 365 dni"),
        ("30, 14, 30", "Próg 30 podano dwa razy"),
    ],
)
def test_wrong_thresholds_are_refused_with_a_polish_reason(
    login, admin_member, raw, message
) -> None:
    response = login(admin_member).post(SETTINGS_URL, {"thresholds": raw, "weekly_digest": "on"})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ReminderSettings.objects.exists()


def test_a_wrong_sender_address_is_refused_in_polish(login, admin_member) -> None:
    response = login(admin_member).post(
        SETTINGS_URL, {"thresholds": "30", "sender_email": "nie-adres"}
    )
    assert "Wpisz poprawny adres e-mail" in response.content.decode()


def test_threshold_parsing_sorts_and_accepts_spaces_commas_and_semicolons() -> None:
    assert parse_thresholds("1,60 ; 0  14") == [60, 14, 1, 0]


def test_only_admins_may_change_reminder_settings(login, manager, accountant, admin_member) -> None:
    assert login(manager).get(SETTINGS_URL).status_code == 403
    assert login(accountant).post(SETTINGS_URL, {"thresholds": "1"}).status_code == 403
    assert login(admin_member).put(SETTINGS_URL).status_code == 405


def test_the_settings_form_answers_htmx_with_the_form_fragment(login, admin_member) -> None:
    browser = login(admin_member)
    fragment = browser.post(
        SETTINGS_URL, {"thresholds": "x"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert fragment.lstrip().startswith('<form id="reminder-settings"')
    assert "<html" not in fragment
    saved = browser.post(SETTINGS_URL, {"thresholds": "30"}, headers={"HX-Request": "true"})
    assert saved.status_code == 200
    assert saved["HX-Redirect"] == SETTINGS_URL


# --- Reminder log of a client -------------------------------------------------------------------


@pytest.fixture
def reminded(office, accountant, client_company):  # type: ignore[no-untyped-def]
    credential = make_credential(office, client_company, valid_to=warsaw(2026, 11, 27, 12))
    with time_machine.travel(warsaw(2026, 11, 21, 7), tick=False):
        reminders_run()
    return credential


def test_the_client_log_shows_what_was_sent_when_and_to_whom(
    login, accountant, client_company, reminded
) -> None:
    page = login(accountant).get(log_url(client_company.pk)).content.decode()
    assert "Przypomnienia o wygasaniu" in page
    assert "21.11.2026 07:00" in page
    assert "7 dni przed" in page
    assert "Wysłano" in page
    assert "ksiegowosc@klient.example" in page
    assert f"kopia: {accountant.user.email}" in page


def test_the_client_log_is_hidden_from_other_offices_and_unassigned_accountants(
    login, outsider, unassigned_accountant, manager, client_company, reminded
) -> None:
    assert login(outsider).get(log_url(client_company.pk)).status_code == 404
    assert login(unassigned_accountant).get(log_url(client_company.pk)).status_code == 404
    assert login(manager).get(log_url(client_company.pk)).status_code == 200
    assert login(manager).post(log_url(client_company.pk)).status_code == 405


def test_the_client_log_fragment_for_htmx_and_the_template_tag_for_other_pages(
    login, manager, client_company, reminded
) -> None:
    fragment = (
        login(manager)
        .get(log_url(client_company.pk), headers={"HX-Request": "true"})
        .content.decode()
    )
    assert fragment.lstrip().startswith('<section class="card" id="client-reminders">')
    tag = Template("{% load expiry_tags %}{% client_reminders client %}").render(
        Context({"client": client_company})
    )
    assert "7 dni przed" in tag and "ksiegowosc@klient.example" in tag
    assert [r.threshold for r in reminders_for_client(client_company)] == [7]


def test_a_client_with_no_reminders_says_so(login, manager, client_company) -> None:
    page = login(manager).get(log_url(client_company.pk)).content.decode()
    assert "Nie wysłano jeszcze żadnego przypomnienia" in page


# --- The beat schedule ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_daily_and_weekly_jobs_are_registered_with_celery_beat() -> None:
    daily = PeriodicTask.objects.get(task="certificates.reminders_daily")
    weekly = PeriodicTask.objects.get(task="certificates.expiry_digest_weekly")
    assert daily.enabled and weekly.enabled
    assert (daily.crontab.hour, daily.crontab.minute, daily.crontab.day_of_week) == ("7", "0", "*")
    assert (weekly.crontab.hour, weekly.crontab.day_of_week) == ("7", "1")
    assert str(daily.crontab.timezone) == "Europe/Warsaw"


@pytest.mark.django_db
def test_the_beat_registration_can_run_again_without_duplicating_schedules() -> None:
    from importlib import import_module

    from django.apps import apps

    migration = import_module("certificates.migrations.0003_reminder_beat_schedule")
    migration.register(apps, None)
    migration.register(apps, None)
    assert PeriodicTask.objects.filter(task="certificates.reminders_daily").count() == 1


@pytest.mark.django_db
def test_the_celery_tasks_run_the_services(office, accountant) -> None:
    from portal.celery import app

    app.loader.import_default_modules()  # what a worker or beat does at start: autodiscovery
    assert {"certificates.reminders_daily", "certificates.expiry_digest_weekly"} <= set(app.tasks)
    client = new_client(office, assigned=[accountant])
    make_credential(office, client, Credential.Kind.TOKEN)
    with time_machine.travel(warsaw(2026, 11, 21, 7), tick=False):
        result = app.tasks["certificates.reminders_daily"].delay()
    assert result.get()["sent"] == 1
    assert len(mail.outbox) == 1
    assert SentReminder.objects.get().threshold == 60


def test_the_client_page_shows_its_reminder_log(
    login, accountant, client_company, reminded
) -> None:
    page = login(accountant).get(reverse("clients:detail", args=[client_company.pk]))
    body = page.content.decode()
    assert 'id="client-reminders"' in body
    assert "7 dni przed" in body
    assert "ksiegowosc@klient.example" in body
