"""invoices:offline (the dashboard of unsent offline invoices) and invoices:outgoing_view /
outgoing_pdf for every persona: scope, order, deadlines in Polish, the outage banner, the
client filter, pages, and a query count that does not grow with the rows."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from invoices.models import KsefOutage, OutgoingInvoice
from invoices.sending import offline_views
from tests.factories import make_client
from tests.invoices.sending.offline_support import offline_invoice

pytestmark = pytest.mark.django_db
# Wednesday 2 December 2026, noon in Warsaw.
NOW = datetime.datetime(2026, 12, 2, 11, 0, tzinfo=datetime.UTC)
TODAY = datetime.date(2026, 12, 2)


@pytest.fixture(autouse=True)
def _today():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        yield


def _day(offset: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=offset)


def _rows(html: str) -> list[str]:
    return [part.split('"', 1)[0] for part in html.split('<tr id="offline-')[1:]]


@pytest.fixture
def unsent(client_company):  # type: ignore[no-untyped-def]
    return offline_invoice(client_company, deadline=_day(1), number="FV/OFF/JUTRO")


# --- who sees what -----------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["accountant", "manager", "admin_member"])
def test_members_who_see_the_client_see_its_offline_invoices(persona, unsent, login, request):  # type: ignore[no-untyped-def]
    html = login(request.getfixturevalue(persona)).get(reverse("invoices:offline")).content.decode()
    assert _rows(html) == [str(unsent.pk)]
    assert "FV/OFF/JUTRO" in html and "Piekarnia Pod Lipą" in html


def test_an_accountant_sees_only_the_assigned_clients_invoices(
    unsent, office, login, unassigned_accountant, manager
):  # type: ignore[no-untyped-def]
    other = offline_invoice(make_client(office, assigned=[unassigned_accountant]), deadline=_day(1))
    assert _rows(
        login(unassigned_accountant).get(reverse("invoices:offline")).content.decode()
    ) == [str(other.pk)]
    assert set(_rows(login(manager).get(reverse("invoices:offline")).content.decode())) == {
        str(unsent.pk),
        str(other.pk),
    }


def test_another_offices_member_sees_none_of_them(unsent, login, outsider):  # type: ignore[no-untyped-def]
    html = login(outsider).get(reverse("invoices:offline")).content.decode()
    assert _rows(html) == [] and "FV/OFF/JUTRO" not in html


def test_sent_and_online_invoices_are_not_listed(client_company, unsent, login, manager):  # type: ignore[no-untyped-def]
    offline_invoice(client_company, deadline=_day(1), state=OutgoingInvoice.State.SENT)
    online = offline_invoice(client_company, deadline=None)
    OutgoingInvoice.objects.filter(pk=online.pk).update(issued_offline_at=None)
    assert _rows(login(manager).get(reverse("invoices:offline")).content.decode()) == [
        str(unsent.pk)
    ]


@pytest.mark.parametrize("name", ["invoices:outgoing_view", "invoices:outgoing_pdf"])
@pytest.mark.parametrize("persona", ["accountant", "manager", "admin_member"])
def test_members_who_see_the_client_open_the_offline_invoice(name, persona, unsent, login, request):  # type: ignore[no-untyped-def]
    url = reverse(name, args=[unsent.client_id, unsent.pk])
    assert login(request.getfixturevalue(persona)).get(url).status_code == 200


@pytest.mark.parametrize("name", ["invoices:outgoing_view", "invoices:outgoing_pdf"])
@pytest.mark.parametrize("persona", ["unassigned_accountant", "outsider"])
def test_members_who_do_not_see_the_client_get_404(name, persona, unsent, login, request):  # type: ignore[no-untyped-def]
    url = reverse(name, args=[unsent.client_id, unsent.pk])
    assert login(request.getfixturevalue(persona)).get(url).status_code == 404


@pytest.mark.parametrize("name", ["invoices:outgoing_view", "invoices:outgoing_pdf"])
def test_an_invoice_of_another_client_under_this_clients_url_is_404(
    name, unsent, office, accountant, login
):  # type: ignore[no-untyped-def]
    mine = make_client(office, assigned=[accountant])
    url = reverse(name, args=[mine.pk, unsent.pk])
    assert login(accountant).get(url).status_code == 404


def test_an_online_invoice_has_no_offline_document(client_company, unsent, login, manager):  # type: ignore[no-untyped-def]
    OutgoingInvoice.objects.filter(pk=unsent.pk).update(issued_offline_at=None, certificate_url="")
    url = reverse("invoices:outgoing_view", args=[client_company.pk, unsent.pk])
    assert login(manager).get(url).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        lambda i: reverse("invoices:offline"),
        lambda i: reverse("invoices:outgoing_view", args=[i.client_id, i.pk]),
        lambda i: reverse("invoices:outgoing_pdf", args=[i.client_id, i.pk]),
    ],
)
def test_a_user_outside_any_office_gets_403_and_post_gets_405(
    url, unsent, client, django_user_model, login, manager
):  # type: ignore[no-untyped-def]
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    assert client.get(url(unsent)).status_code == 403
    assert login(manager).post(url(unsent)).status_code == 405


def test_anonymous_visitors_are_sent_to_the_login_page(client):  # type: ignore[no-untyped-def]
    response = client.get(reverse("invoices:offline"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


# --- what the dashboard shows ------------------------------------------------------------


def test_invoices_are_sorted_by_deadline_overdue_first_and_worded_in_polish(
    client_company, login, manager
):  # type: ignore[no-untyped-def]
    later = offline_invoice(client_company, deadline=_day(5))
    waiting = offline_invoice(client_company, deadline=None, mode=OutgoingInvoice.Mode.EMERGENCY)
    tomorrow = offline_invoice(client_company, deadline=_day(1))
    long_overdue = offline_invoice(client_company, deadline=_day(-2))
    today = offline_invoice(client_company, deadline=_day(0))
    yesterday = offline_invoice(
        client_company, deadline=_day(-1), state=OutgoingInvoice.State.REJECTED
    )
    in_three = offline_invoice(client_company, deadline=_day(3))

    html = login(manager).get(reverse("invoices:offline")).content.decode()

    order = [long_overdue, yesterday, today, tomorrow, in_three, later, waiting]
    assert _rows(html) == [str(i.pk) for i in order]
    texts = [
        row.split('class="badge', 1)[1].split(">", 1)[1].split("<", 1)[0]
        for row in html.split('<tr id="offline-')[1:]
    ]
    assert texts == [
        "termin minął 2 dni temu",
        "termin minął wczoraj",
        "dziś",
        "jutro",
        "za 3 dni",
        "za 5 dni",
        "po zakończeniu niedostępności KSeF",
    ]
    assert "Odrzucona przez KSeF" in html and "Awaria KSeF" in html and "Offline24" in html
    row = html.split(f'<tr id="offline-{tomorrow.pk}"', 1)[1].split("</tr>", 1)[0]
    assert reverse("invoices:outgoing_view", args=[client_company.pk, tomorrow.pk]) in row
    assert reverse("invoices:outgoing_pdf", args=[client_company.pk, tomorrow.pk]) in row
    assert reverse("invoices:send_job", args=[client_company.pk, tomorrow.job_id]) in row


def test_an_ongoing_outage_is_announced_above_the_list(unsent, login, manager):  # type: ignore[no-untyped-def]
    KsefOutage.objects.create(
        kind=KsefOutage.Kind.EMERGENCY,
        started_at=datetime.datetime(2026, 12, 1, 8, 30, tzinfo=datetime.UTC),
    )
    html = login(manager).get(reverse("invoices:offline")).content.decode()
    banner = html.split('id="offline-outage"', 1)[1].split("</p>", 1)[0]
    assert "Awaria KSeF od 01.12.2026 09:30" in banner


def test_an_ended_outage_is_not_announced(unsent, login, manager):  # type: ignore[no-untyped-def]
    KsefOutage.objects.create(
        started_at=timezone.now() - datetime.timedelta(hours=3),
        ended_at=timezone.now() - datetime.timedelta(hours=1),
    )
    assert (
        'id="offline-outage"'
        not in login(manager).get(reverse("invoices:offline")).content.decode()
    )


def test_the_client_filter_narrows_the_list(client_company, unsent, office, login, manager):  # type: ignore[no-untyped-def]
    other = offline_invoice(make_client(office, name="Inna firma"), deadline=_day(1))
    response = login(manager).get(reverse("invoices:offline"), {"client": other.client_id})
    assert _rows(response.content.decode()) == [str(other.pk)]


def test_a_client_the_member_does_not_see_is_refused_with_a_message(
    unsent, other_office, login, accountant, office, unassigned_accountant
):  # type: ignore[no-untyped-def]
    hidden = make_client(office, assigned=[unassigned_accountant])
    for value in (hidden.pk, make_client(other_office).pk, "abc"):
        html = (
            login(accountant).get(reverse("invoices:offline"), {"client": value}).content.decode()
        )
        assert "Nie ma takiego klienta wśród Twoich klientów" in html
        assert _rows(html) == [str(unsent.pk)]


def test_htmx_gets_the_list_alone(unsent, login, manager):  # type: ignore[no-untyped-def]
    html = login(manager).get(reverse("invoices:offline"), HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith('<div id="offline-list">') and "<html" not in html


def test_the_list_is_paginated(client_company, login, manager, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(offline_views, "PAGE_SIZE", 2)
    made = [offline_invoice(client_company, deadline=_day(n)) for n in range(5)]
    browser = login(manager)
    first = browser.get(reverse("invoices:offline")).content.decode()
    last = browser.get(reverse("invoices:offline"), {"page": 3}).content.decode()
    assert _rows(first) == [str(i.pk) for i in made[:2]] and "strona 1 z 3" in first
    assert _rows(last) == [str(made[4].pk)]


def test_the_query_count_does_not_grow_with_the_invoices(client_company, office, login, manager):  # type: ignore[no-untyped-def]
    browser = login(manager)
    offline_invoice(client_company, deadline=_day(1))
    browser.get(reverse("invoices:offline"))
    with CaptureQueriesContext(connection) as one:
        browser.get(reverse("invoices:offline"))
    for n in range(12):
        offline_invoice(make_client(office, name=f"Firma {n}"), deadline=_day(n % 4))
    with CaptureQueriesContext(connection) as many:
        html = browser.get(reverse("invoices:offline")).content.decode()
    assert len(_rows(html)) == 13
    assert len(many) == len(one)


def test_the_navigation_links_the_dashboard(login, accountant):  # type: ignore[no-untyped-def]
    html = login(accountant).get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("invoices:offline")}"' in html


def test_the_main_dashboard_counts_invoices_due_within_a_business_day(
    client_company, login, accountant, unassigned_accountant
):  # type: ignore[no-untyped-def]
    offline_invoice(client_company, deadline=_day(-1))
    offline_invoice(client_company, deadline=_day(1))  # Thursday: the next business day
    offline_invoice(client_company, deadline=_day(2))  # Friday: not yet
    offline_invoice(client_company, deadline=None)

    html = login(accountant).get(reverse("dashboard")).content.decode()
    count = html.split('id="offline-due-link">', 1)[1].split("</a>", 1)[0]
    assert count.startswith("2 ")
    assert (
        'id="offline-due-count"'
        not in login(unassigned_accountant).get(reverse("dashboard")).content.decode()
    )


def test_the_offline_page_view_states_the_facts(unsent, login, accountant):  # type: ignore[no-untyped-def]
    html = (
        login(accountant)
        .get(reverse("invoices:outgoing_view", args=[unsent.client_id, unsent.pk]))
        .content.decode()
    )
    assert "Faktura offline FV/OFF/JUTRO" in html
    assert 'id="outgoing-deadline">jutro<' in html
    assert reverse("invoices:outgoing_pdf", args=[unsent.client_id, unsent.pk]) in html
    assert unsent.invoice_hash in html


def test_htmx_gets_the_offline_document_alone(unsent, login, accountant):  # type: ignore[no-untyped-def]
    html = (
        login(accountant)
        .get(
            reverse("invoices:outgoing_view", args=[unsent.client_id, unsent.pk]),
            HTTP_HX_REQUEST="true",
        )
        .content.decode()
    )
    assert html.lstrip().startswith('<article class="invoice-document"') and "<html" not in html
