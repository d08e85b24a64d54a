"""The daily e-mail of new purchase invoices: opt-in on the member's own page, counts per
client in the member's scope, Polish plurals, absolute links to the filtered lists, and
exactly one e-mail per member and day however often or concurrently the job runs."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.urls import reverse

from invoices.browse.filters import filtered_links
from invoices.digest import services
from invoices.models import InvoiceDigestSent, InvoiceDigestSubscription
from tests.factories import make_client
from tests.invoices.browse.support import make_invoice

WARSAW = dt.timezone(dt.timedelta(hours=1))  # CET: March 2026 before the clock change
DAY = dt.date(2026, 3, 10)
NOW = dt.datetime(2026, 3, 11, 7, 0, tzinfo=WARSAW)
URL = reverse("invoices:notifications")


def _purchases(client, count, day=DAY, subject_type="Subject2"):  # type: ignore[no-untyped-def]
    moment = dt.datetime.combine(day, dt.time(10, 0), tzinfo=WARSAW)
    return [
        make_invoice(client, subject_type, issue_date=day, invoicing_date=moment)
        for _ in range(count)
    ]


def _subscribe(*members):  # type: ignore[no-untyped-def]
    for member in members:
        InvoiceDigestSubscription.objects.create(membership=member, daily_purchases=True)


@pytest.fixture
def second_client(office, accountant):  # type: ignore[no-untyped-def]
    return make_client(office, assigned=[accountant], name="Apteka Pod Orłem s.c.")


def test_an_accountant_gets_the_count_per_assigned_client_with_links_to_the_lists(
    settings, office, accountant, client_company, second_client
):
    settings.PORTAL_BASE_URL = "https://portal.biuro.example"
    _subscribe(accountant)
    _purchases(client_company, 5)
    _purchases(second_client, 1)
    _purchases(client_company, 2, subject_type="Subject1")  # sales: not in the e-mail
    _purchases(client_company, 3, day=DAY - dt.timedelta(days=1))  # the day before
    _purchases(make_client(office, name="Nieprzypisany sp. j."), 4)  # not assigned
    assert services.digests_run(now=NOW) == {"sent": 1}
    [message] = mail.outbox
    assert message.to == [accountant.user.email]
    assert message.subject == "KSeF: 6 nowych faktur zakupowych u 2 klientów (10.03.2026)"
    assert "Apteka Pod Orłem s.c." in message.body and "1 faktura" in message.body
    assert "Piekarnia Pod Lipą sp. z o.o." in message.body and "5 faktur" in message.body
    assert "Nieprzypisany" not in message.body
    html = message.alternatives[0][0]  # type: ignore[attr-defined]
    assert "10 marca 2026" in html
    link = (
        f"https://portal.biuro.example/invoices/clients/{client_company.pk}/"
        "?role=purchases&date_field=ksef&date_from=2026-03-10&date_to=2026-03-10"
    )
    assert link in message.body and link.replace("&", "&amp;") in html


def test_the_link_shows_exactly_the_invoices_the_email_counted(
    settings, accountant, client_company
):
    _subscribe(accountant)
    _purchases(client_company, 5)
    _purchases(client_company, 2, day=DAY + dt.timedelta(days=1))
    digest = services.digest_for(accountant, DAY)
    [item] = digest.clients
    url = urlsplit(item.url)
    assert url.path == reverse("invoices:client", kwargs={"pk": client_company.pk})
    query = parse_qs(url.query)
    shown = filtered_links(membership=accountant, params=query, client=client_company)
    assert shown.count() == item.count == 5
    assert query == {
        "role": ["purchases"],
        "date_field": ["ksef"],
        "date_from": ["2026-03-10"],
        "date_to": ["2026-03-10"],
    }


def test_a_manager_gets_every_client_of_the_office(office, manager, client_company, second_client):
    _subscribe(manager)
    _purchases(client_company, 1)
    _purchases(make_client(office, name="Nieprzypisany sp. j."), 1)
    services.digests_run(now=NOW)
    [message] = mail.outbox
    assert "u 2 klientów" in message.subject
    assert "Nieprzypisany" in message.body and "Piekarnia" in message.body


def test_one_invoice_at_one_client_reads_in_the_singular(accountant, client_company):
    _subscribe(accountant)
    _purchases(client_company, 1)
    services.digests_run(now=NOW)
    assert mail.outbox[0].subject == "KSeF: 1 nowa faktura zakupowa u 1 klienta (10.03.2026)"


def test_the_email_goes_out_once_however_often_the_job_runs(accountant, client_company):
    _subscribe(accountant)
    _purchases(client_company, 3)
    assert services.digests_run(now=NOW) == {"sent": 1}
    assert services.digests_run(now=NOW + dt.timedelta(hours=2)) == {"not_ours": 1}
    assert len(mail.outbox) == 1
    row = InvoiceDigestSent.objects.get()
    assert (row.day, row.status, row.invoice_count, row.client_count) == (DAY, "sent", 3, 1)
    # The next day is another e-mail.
    _purchases(client_company, 1, day=DAY + dt.timedelta(days=1))
    assert services.digests_run(now=NOW + dt.timedelta(days=1)) == {"sent": 1}
    assert len(mail.outbox) == 2


def test_a_run_meeting_another_workers_fresh_claim_sends_nothing(accountant, client_company):
    _subscribe(accountant)
    _purchases(client_company, 3)
    assert services.digest_claim(membership=accountant, day=DAY) is not None  # worker A
    assert services.digests_run(now=NOW) == {"not_ours": 1}  # worker B, at the same time
    assert mail.outbox == []


def test_a_claim_whose_worker_died_or_a_failed_send_is_taken_over(
    accountant, client_company, monkeypatch
):
    _subscribe(accountant)
    _purchases(client_company, 3)

    def refuse(message, sleep=None):  # type: ignore[no-untyped-def]
        raise ValueError("550 mailbox unavailable")

    monkeypatch.setattr(services, "send_with_retry", refuse)
    assert services.digests_run(now=NOW) == {"failed": 1}
    assert InvoiceDigestSent.objects.get().last_error.startswith("ValueError")
    monkeypatch.undo()
    assert services.digests_run(now=NOW) == {"sent": 1}
    assert len(mail.outbox) == 1
    # A claim older than the lease (its worker died before sending) is taken over too.
    stale = InvoiceDigestSent.objects.get()
    InvoiceDigestSent.objects.filter(pk=stale.pk).update(status="claimed")
    assert services.digests_run(now=NOW) == {"not_ours": 1}
    InvoiceDigestSent.objects.filter(pk=stale.pk).update(
        claimed_at=stale.claimed_at - services.CLAIM_LEASE - dt.timedelta(minutes=1)
    )
    assert services.digests_run(now=NOW) == {"sent": 1}


def test_no_email_without_new_invoices_or_without_opting_in(manager, accountant, client_company):
    _subscribe(accountant)
    assert services.digests_run(now=NOW) == {"empty": 1}
    _purchases(client_company, 2)
    InvoiceDigestSubscription.objects.filter(membership=accountant).update(daily_purchases=False)
    assert services.digests_run(now=NOW) == {}
    assert mail.outbox == []


def test_an_inactive_member_gets_nothing(accountant, client_company):
    _subscribe(accountant)
    _purchases(client_company, 2)
    accountant.user.is_active = False
    accountant.user.save()
    assert services.digests_run(now=NOW) == {}


# --- The setting ----------------------------------------------------------------------------


def test_a_member_switches_the_daily_email_on_and_off_on_their_own_page(login, accountant):
    page = login(accountant)
    form = page.get(URL)
    assert form.status_code == 200 and "ksiegowa@biuro.example" in form.content.decode()
    response = page.post(URL, {"daily_purchases": "on"})
    assert response.status_code == 302
    assert services.digest_enabled(accountant)
    page.post(URL, {})
    assert not services.digest_enabled(accountant)


def test_htmx_gets_the_settings_form_only(login, manager):
    response = login(manager).get(URL, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'id="notification-settings"' in html and "<html" not in html


def test_the_setting_takes_get_and_post_only(login, manager):
    assert login(manager).put(URL).status_code == 405


def test_a_user_outside_any_office_has_no_setting(client, db):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_user("nikt", password="x"))
    assert client.get(URL).status_code == 403


def test_two_invoices_take_the_polish_paucal_form(accountant, client_company, second_client):
    _subscribe(accountant)
    _purchases(client_company, 1)
    _purchases(second_client, 1)
    services.digests_run(now=NOW)
    assert mail.outbox[0].subject == "KSeF: 2 nowe faktury zakupowe u 2 klientów (10.03.2026)"
