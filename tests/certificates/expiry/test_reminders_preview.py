"""The reminders ahead and "send now": what goes out next, to whom, on which day and with
which subject; sending one client's due reminders at once without ever sending one twice
(the 07:00 job and "send now" claim through the same ledger); who may see and press it."""

from __future__ import annotations

import re
import smtplib
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client as DjangoClient
from django.urls import reverse

from certificates.expiry.reminders import reminders_run
from certificates.models import Credential, SentReminder
from portal.models import AuditEvent
from tests.certificates.expiry.factories import make_credential, new_client, warsaw
from tests.factories import make_member

NOW = warsaw(2026, 11, 21, 10, 0)  # after the day's 07:00 run
UPCOMING = "/expiry/reminders/"


def send_url(client_pk: int) -> str:
    return reverse("expiry:send_now", args=[client_pk])


def log_url(client_pk: int) -> str:
    return reverse("expiry:client_reminders", args=[client_pk])


@pytest.fixture(autouse=True)
def _at_ten_in_warsaw() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def customer(office, accountant):  # type: ignore[no-untyped-def]
    return new_client(
        office,
        assigned=[accountant],
        name="Młyn Zbożowy sp. z o.o.",
        contact_emails=["a@mlyn.example"],
    )


@pytest.fixture
def due_now(office, customer):  # type: ignore[no-untyped-def]
    """Expires in 20 days: the 30-day reminder is due and nobody has sent it yet."""
    return make_credential(office, customer, valid_to=warsaw(2026, 12, 11, 12))


def _messages(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- the preview -------------------------------------------------------------------------------


def test_the_office_preview_lists_each_next_reminder_with_day_addresses_and_subject(
    login, manager, office, accountant, customer, due_now
) -> None:
    later = new_client(
        office, assigned=[accountant], name="Tartak Buk", contact_emails=["t@buk.example"]
    )
    expires = warsaw(2027, 1, 5, 12)  # 45 days left: the 60-day reminder went out already
    scheduled = make_credential(office, later, valid_to=expires)
    SentReminder.objects.create(
        credential=scheduled,
        threshold=60,
        office=office,
        client=later,
        status="sent",
        expires_at=expires,
    )
    far = new_client(office, name="Daleko SA")
    make_credential(office, far, valid_to=warsaw(2027, 6, 1, 12))  # next reminder in > 30 days

    page = login(manager).get(UPCOMING).content.decode()

    rows = re.findall(r'<tr data-state="(\w+)">(.*?)</tr>', page, re.S)
    assert [state for state, _row in rows] == ["due", "scheduled"]
    due_row, scheduled_row = (row for _state, row in rows)
    assert "Młyn Zbożowy" in due_row and "teraz — czeka na wysłanie" in due_row
    assert "zadanie wyśle je jutro o 07:00" in due_row  # it is 10:00: today's run is over
    assert "a@mlyn.example" in due_row and accountant.user.email in due_row
    assert "wygasa za 20 dni (11.12.2026)" in due_row
    assert "Wyślij teraz" in due_row
    # Due on 6.12.2026, the day 30 days are left; its subject reads as it will on that day.
    assert "06.12.2026" in scheduled_row and "za 15 dni" in scheduled_row
    assert "wygasa za 30 dni (05.01.2027)" in scheduled_row
    assert "Wyślij teraz" not in scheduled_row
    assert "Daleko SA" not in page


def test_a_client_without_any_address_is_shown_as_skipped_before_it_happens(
    login, manager, office
) -> None:
    lonely = new_client(office, name="Bez Adresu", contact_emails=[])
    make_credential(office, lonely, valid_to=warsaw(2026, 12, 1, 12))

    page = login(manager).get(log_url(lonely.pk)).content.decode()

    assert "brak adresu — przypomnienie zostanie pominięte" in page


def test_the_client_page_shows_a_manager_the_next_reminders_and_send_now(
    login, manager, customer, due_now
) -> None:
    page = login(manager).get(reverse("clients:detail", args=[customer.pk])).content.decode()

    section = page[page.index('id="reminders-ahead"') :]
    assert "Najbliższe przypomnienia" in section and "a@mlyn.example" in section
    assert f'action="{send_url(customer.pk)}"' in section
    assert 'name="csrfmiddlewaretoken"' in section
    assert 'name="back" value="client"' in section


def test_an_accountant_sees_the_log_but_neither_the_preview_nor_send_now(
    login, accountant, customer, due_now
) -> None:
    browser = login(accountant)
    for url in (log_url(customer.pk), reverse("clients:detail", args=[customer.pk])):
        page = browser.get(url).content.decode()
        assert 'id="client-reminders"' in page
        assert "reminders-ahead" not in page and send_url(customer.pk) not in page


def test_the_dashboard_links_to_the_preview(login, manager) -> None:
    assert UPCOMING in login(manager).get(reverse("expiry:dashboard")).content.decode()


# --- send now ----------------------------------------------------------------------------------


def test_send_now_sends_the_due_reminder_and_the_0700_job_does_not_send_it_again(
    login, manager, customer, due_now
) -> None:
    response = login(manager).post(send_url(customer.pk), {"back": "log"}, follow=True)

    assert response.redirect_chain[-1][0] == log_url(customer.pk)
    assert _messages(response) == ["Wysłano 1 przypomnienie."]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["a@mlyn.example"]
    assert mail.outbox[0].extra_headers["X-Portal-Reminder"] == f"{due_now.pk}/30"
    assert SentReminder.objects.get().status == "sent"

    report = reminders_run()  # the daily job, the same day or the next

    assert len(mail.outbox) == 1
    assert (report.due, report.sent, report.not_ours) == (1, 0, 1)
    event = AuditEvent.objects.get(action="reminders.sent_now")
    assert event.actor_id == manager.user.pk and event.details["sent"] == 1
    assert AuditEvent.objects.get(action="reminder.sent").actor_id == manager.user.pk


def test_after_the_job_sent_it_send_now_sends_nothing_and_says_why(
    login, manager, customer, due_now
) -> None:
    reminders_run()
    assert len(mail.outbox) == 1

    response = login(manager).post(send_url(customer.pk), follow=True)

    assert len(mail.outbox) == 1
    assert _messages(response) == [
        "1 przypomnienie zostało już wysłane albo właśnie wysyła je zadanie dzienne — "
        "nie wysłano go drugi raz."
    ]


def test_a_reminder_the_job_is_sending_right_now_is_neither_sent_now_nor_offered(
    login, manager, office, customer, due_now
) -> None:
    SentReminder.objects.create(
        credential=due_now,
        threshold=30,
        office=office,
        client=customer,
        status="claimed",
        claimed_at=NOW,
        claim_token="job",
        expires_at=due_now.valid_to,
    )
    browser = login(manager)
    page = browser.get(log_url(customer.pk)).content.decode()
    assert "właśnie wysyłane" in page and send_url(customer.pk) not in page

    browser.post(send_url(customer.pk))

    assert mail.outbox == []
    assert SentReminder.objects.get().claim_token == "job"


def test_two_due_reminders_are_counted_with_the_plural(
    login, manager, office, customer, due_now
) -> None:
    make_credential(office, customer, Credential.Kind.OFFLINE, valid_to=warsaw(2026, 11, 25, 12))

    response = login(manager).post(send_url(customer.pk), follow=True)

    assert _messages(response) == ["Wysłano 2 przypomnienia."]
    assert len(mail.outbox) == 2


def test_nothing_due_sends_nothing_and_says_when_reminders_go_out(
    login, manager, office, customer
) -> None:
    make_credential(office, customer, valid_to=warsaw(2027, 6, 1, 12))

    response = login(manager).post(send_url(customer.pk), follow=True)

    assert mail.outbox == []
    assert any("Nic nie czeka na wysłanie" in text for text in _messages(response))
    assert AuditEvent.objects.get(action="reminders.sent_now").details["due"] == 0


def test_a_refused_send_is_reported_and_left_for_the_job_to_retry(
    login, manager, customer, due_now, monkeypatch
) -> None:
    def refuse(self: Any, fail_silently: bool = False) -> int:
        raise smtplib.SMTPRecipientsRefused({"a@mlyn.example": (550, b"no such user")})

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)

    response = login(manager).post(send_url(customer.pk), follow=True)

    assert _messages(response)[0].startswith("Nie udało się wysłać 1 przypomnienia")
    assert SentReminder.objects.get().status == "failed"
    monkeypatch.undo()
    assert reminders_run().sent == 1  # the next run takes the failed one over


def test_send_now_from_the_preview_page_returns_there(login, manager, customer, due_now) -> None:
    response = login(manager).post(send_url(customer.pk), {"back": "upcoming"})
    assert response["Location"] == UPCOMING
    response = login(manager).post(send_url(customer.pk), {"back": "https://evil.example/"})
    assert response["Location"] == log_url(customer.pk)


# --- who may --------------------------------------------------------------------------------------


def test_accountants_may_neither_preview_the_office_nor_send_now(
    login, accountant, customer, due_now
) -> None:
    browser = login(accountant)
    assert browser.get(UPCOMING).status_code == 403
    assert browser.post(send_url(customer.pk)).status_code == 403
    assert mail.outbox == [] and not SentReminder.objects.exists()


def test_another_offices_client_is_not_found(login, manager, other_office) -> None:
    stranger = new_client(other_office, name="Obcy Klient")
    make_credential(other_office, stranger, valid_to=warsaw(2026, 12, 1, 12))

    assert login(manager).post(send_url(stranger.pk)).status_code == 404
    assert mail.outbox == []
    assert "Obcy Klient" not in login(manager).get(UPCOMING).content.decode()


def test_send_now_takes_only_a_post_with_the_csrf_token(manager, customer, due_now) -> None:
    browser = DjangoClient(enforce_csrf_checks=True)
    browser.force_login(manager.user)
    assert browser.get(send_url(customer.pk)).status_code == 405
    assert browser.post(send_url(customer.pk)).status_code == 403
    assert mail.outbox == []

    page = browser.get(log_url(customer.pk)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    response = browser.post(send_url(customer.pk), {"csrfmiddlewaretoken": token.group(1)})

    assert response.status_code == 302 and len(mail.outbox) == 1


def test_an_admin_may_send_now_too(login, admin_member, customer, due_now) -> None:
    assert login(admin_member).post(send_url(customer.pk)).status_code == 302
    assert len(mail.outbox) == 1


def test_an_accountant_of_another_office_gets_403_before_any_lookup(
    login, other_office, customer, due_now
) -> None:
    outsider = make_member(other_office, "accountant")
    assert login(outsider).post(send_url(customer.pk)).status_code in (403, 404)
    assert mail.outbox == []


def test_the_audit_log_says_in_words_who_sent_now_and_what_went_out(
    login, manager, customer, due_now
) -> None:
    browser = login(manager)
    browser.post(send_url(customer.pk))

    page = browser.get(reverse("audit:list")).content.decode()

    assert "Wysłano od razu przypomnienia klienta („Wyślij teraz”)" in page
    assert "Wysłano 1 przypomnienie." in page
    assert "not_ours" not in page  # the details are words, not stored keys
