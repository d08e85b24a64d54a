"""The invoice lists over HTTP: who sees which rows (404 for another office's or an
unassigned client's list), methods, page vs HTMX fragments, paging that keeps the filters,
Polish formatting and counts, empty states, "new since I last looked", and a number of SQL
queries that does not grow with the office."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from invoices.browse.services import SESSION_GAP
from invoices.models import ClientInvoice, InvoiceListVisit
from tests.factories import make_client
from tests.invoices.browse.support import make_invoice, make_invoices

pytestmark = pytest.mark.django_db

RESULTS = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "invoice-results"}
BROWSER = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "invoice-browser"}
NBSP = "\xa0"


def _list_url(query: str = "") -> str:
    return reverse("invoices:list") + (f"?{query}" if query else "")


def _client_url(client, query: str = "") -> str:  # type: ignore[no-untyped-def]
    return reverse("invoices:client", kwargs={"pk": client.pk}) + (f"?{query}" if query else "")


@pytest.fixture
def other_client(office):  # type: ignore[no-untyped-def]
    return make_client(office, name="Kwiaciarnia Róża s.c.")


# --- Addresses ------------------------------------------------------------------------------


def test_the_addresses_other_tools_link_to():
    assert reverse("invoices:list") == "/invoices/"
    assert reverse("invoices:client", kwargs={"pk": 7}) == "/invoices/clients/7/"


# --- Who sees what --------------------------------------------------------------------------


def test_the_assigned_accountant_sees_only_assigned_clients_rows_office_wide(
    login, accountant, client_company, other_client
):
    mine = make_invoice(client_company, invoice_number="FV/MOJA/1")
    theirs = make_invoice(other_client, invoice_number="FV/CUDZA/1")
    html = login(accountant).get(_list_url()).content.decode()
    assert f'id="link-{mine.pk}"' in html and "FV/MOJA/1" in html
    assert f'id="link-{theirs.pk}"' not in html and "FV/CUDZA/1" not in html
    assert other_client.name not in html  # not even in the client filter
    for query in ["q=CUDZA", f"client={other_client.pk}", "counterparty=Hurtownia"]:
        html = login(accountant).get(_list_url(query)).content.decode()
        assert "FV/CUDZA/1" not in html, query


def test_a_manager_and_an_admin_see_every_clients_rows(
    login, manager, admin_member, client_company, other_client
):
    mine = make_invoice(client_company)
    theirs = make_invoice(other_client)
    for member in (manager, admin_member):
        html = login(member).get(_list_url()).content.decode()
        assert f'id="link-{mine.pk}"' in html and f'id="link-{theirs.pk}"' in html
        assert f'<option value="{other_client.pk}">' in html


def test_the_assigned_accountant_opens_the_clients_list(login, accountant, client_company):
    link = make_invoice(client_company)
    response = login(accountant).get(_client_url(client_company))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html and f'id="link-{link.pk}"' in html
    assert reverse("invoices:detail", kwargs={"pk": link.invoice.pk}) in html


def test_an_unassigned_accountant_gets_404_for_the_clients_list(
    login, unassigned_accountant, client_company
):
    make_invoice(client_company)
    assert login(unassigned_accountant).get(_client_url(client_company)).status_code == 404
    assert (
        login(unassigned_accountant).get(_client_url(client_company), **RESULTS).status_code == 404
    )
    html = login(unassigned_accountant).get(_list_url()).content.decode()
    assert "Nie ma jeszcze żadnych faktur" in html


def test_another_office_gets_404_and_never_sees_the_rows(login, outsider, client_company):
    link = make_invoice(client_company, invoice_number="FV/TAJNA/1")
    assert login(outsider).get(_client_url(client_company)).status_code == 404
    html = login(outsider).get(_list_url("q=TAJNA")).content.decode()
    assert "FV/TAJNA/1" not in html and f"link-{link.pk}" not in html


def test_a_user_outside_any_office_gets_403_and_a_visitor_the_login_page(client, client_company):
    get_user_model().objects.create_user(username="nobody", password="x")
    assert client.get(_list_url()).status_code == 302
    client.force_login(get_user_model().objects.get(username="nobody"))
    assert client.get(_list_url()).status_code == 403
    assert client.get(_client_url(client_company)).status_code == 403


def test_the_lists_answer_405_to_post(login, manager, client_company):
    member = login(manager)
    assert member.post(_list_url()).status_code == 405
    assert member.post(_client_url(client_company)).status_code == 405


# --- Page and fragments ---------------------------------------------------------------------


def test_htmx_gets_the_results_for_a_filter_and_the_browser_for_a_tab(
    login, manager, client_company
):
    make_invoice(client_company)
    member = login(manager)
    results = member.get(_client_url(client_company, "month=2026-03"), **RESULTS)
    html = results.content.decode()
    assert html.lstrip().startswith('<div id="invoice-results">')
    assert "<html" not in html and 'id="invoice-filters"' not in html
    assert 'id="tab-purchases"' in html  # the counts follow the filters
    browser = member.get(_client_url(client_company, "role=sales"), **BROWSER).content.decode()
    assert browser.lstrip().startswith('<div id="invoice-browser">')
    assert 'id="invoice-filters"' in browser and 'id="invoice-results"' in browser
    assert '<input type="hidden" name="role" value="sales">' in browser
    assert "<html" not in browser
    # Another htmx target or a boosted link: the whole page.
    boosted = member.get(
        _client_url(client_company), HTTP_HX_REQUEST="true", HTTP_HX_BOOSTED="true"
    )
    assert "<html" in boosted.content.decode()


def test_the_filter_form_pushes_its_query_string_and_keeps_the_chosen_values(
    login, manager, client_company
):
    html = (
        login(manager)
        .get(_list_url("month=2026-03&type=pef&mode=offline&attachment=1&q=FV/2026&sort=gross"))
        .content.decode()
    )
    assert 'hx-push-url="true"' in html
    assert 'name="month" id="id_month" value="2026-03"' in html
    assert 'value="pef" checked' in html
    assert '<option value="offline" selected>' in html
    assert 'id="id_attachment" checked' in html
    assert 'id="id_q" value="FV/2026"' in html
    assert '<input type="hidden" name="sort" value="gross">' in html


def test_paging_shows_fifty_rows_and_its_links_keep_the_filters(login, manager, client_company):
    make_invoices(client_company, 120)
    make_invoice(client_company, currency="EUR")
    member = login(manager)
    first = member.get(_client_url(client_company, "currency=PLN&sort=gross")).content.decode()
    assert first.count('<tr id="link-') == 50
    assert "strona 1 z 3" in first
    assert 'href="?currency=PLN&amp;sort=gross&amp;page=2"' in first
    third = member.get(_client_url(client_company, "currency=PLN&sort=gross&page=3"))
    html = third.content.decode()
    assert html.count('<tr id="link-') == 20
    assert "strona 3 z 3" in html and 'href="?currency=PLN&amp;sort=gross&amp;page=2"' in html
    pages = [
        member.get(_client_url(client_company, f"currency=PLN&sort=gross&page={n}"))
        .context["page"]
        .rows
        for n in (1, 2, 3)
    ]
    seen = [link.pk for page in pages for link in page]
    assert len(seen) == len(set(seen)) == 120  # no row twice, none left out
    # A page past the end shows the last one rather than an error.
    assert "strona 3 z 3" in member.get(_client_url(client_company, "page=99")).content.decode()
    assert "strona 1 z 3" in member.get(_client_url(client_company, "page=x")).content.decode()


def test_past_the_counting_limit_the_pages_go_on_without_a_last_page(
    login, manager, client_company, monkeypatch
):
    for module in ("browse.filters", "list_views", "templatetags.invoice_list_tags"):
        monkeypatch.setattr(f"invoices.{module}.COUNT_LIMIT", 100)
    make_invoices(client_company, 130)
    member = login(manager)
    html = member.get(_client_url(client_company)).content.decode()
    assert "ponad 100 faktur" in html and "przybliżone" in html
    assert "strona 1</span>" in html and "ostatnia" not in html
    assert 'href="?page=2"' in html
    # The pages stop at the limit: page 2 is the last one offered.
    second = member.get(_client_url(client_company, "page=3")).content.decode()
    assert "strona 2</span>" in second
    assert second.count('<tr id="link-') == 50 and 'rel="next"' not in second


def test_sort_headers_link_to_the_other_direction_and_keep_the_filters(
    login, manager, client_company
):
    make_invoice(client_company)
    html = (
        login(manager).get(_client_url(client_company, "month=2026-03&sort=gross")).content.decode()
    )
    assert 'href="?month=2026-03&amp;sort=-gross"' in html
    assert 'href="?month=2026-03&amp;sort=number"' in html
    assert 'aria-sort="ascending"' in html


def test_tabs_show_counts_per_role_and_keep_the_filters(login, manager, client_company):
    for _ in range(3):
        make_invoice(client_company, "Subject2")
    make_invoice(client_company, "Subject1")
    make_invoice(client_company, "Subject1", issue_date=dt.date(2026, 4, 2))
    html = login(manager).get(_client_url(client_company, "month=2026-03")).content.decode()
    assert 'href="?month=2026-03&amp;role=sales" id="tab-sales"' in html
    start = html.index('class="tabs"')
    tabs = " ".join(html[start : html.index("</nav>", start)].split())
    assert 'Zakupy <span class="count">3</span>' in tabs
    assert 'Sprzedaż <span class="count">1</span>' in tabs
    sales = login(manager).get(_client_url(client_company, "role=sales")).content.decode()
    assert sales.count('<tr id="link-') == 2


# --- Formatting and counts ------------------------------------------------------------------


def test_amounts_and_dates_are_written_the_polish_way(login, manager, client_company):
    make_invoice(
        client_company,
        net_amount=Decimal("1322.77"),
        vat_amount=Decimal("303.24"),
        gross_amount=Decimal("1626.01"),
        issue_date=dt.date(2026, 3, 5),
        # 23:30 UTC on 5 March is 00:30 on 6 March in Warsaw.
        invoicing_date=dt.datetime(2026, 3, 5, 23, 30, tzinfo=dt.UTC),
    )
    html = login(manager).get(_list_url()).content.decode()
    assert f"1{NBSP}626,01" in html and f"1{NBSP}322,77" in html and "303,24" in html
    assert "05.03.2026" in html and "06.03.2026 00:30" in html


@pytest.mark.parametrize(("n", "text"), [(1, "1 faktura"), (5, "5 faktur"), (12, "12 faktur")])
def test_the_count_meets_its_noun(login, manager, client_company, n, text):  # type: ignore[no-untyped-def]
    make_invoices(client_company, n)
    html = login(manager).get(_list_url()).content.decode()
    assert f'<p id="invoice-count" role="status">{text}</p>' in html


@pytest.mark.parametrize(("n", "text"), [(2, "2 faktury"), (22, "22 faktury")])
def test_the_count_takes_the_polish_paucal_form(login, manager, client_company, n, text):  # type: ignore[no-untyped-def]
    make_invoices(client_company, n)
    html = login(manager).get(_list_url()).content.decode()
    assert f'<p id="invoice-count" role="status">{text}</p>' in html


def test_the_type_column_names_the_kind_of_invoice(login, manager, client_company):
    make_invoice(client_company, invoice_type="KorZal")
    html = login(manager).get(_list_url()).content.decode()
    assert "korygująca zaliczkową" in html


# --- Messages and empty states --------------------------------------------------------------


def test_invalid_filters_are_named_and_the_rest_still_apply(login, manager, client_company):
    euro = make_invoice(client_company, currency="EUR")
    zloty = make_invoice(client_company, currency="PLN")
    response = login(manager).get(_list_url("currency=EUR&month=marzec&sort=cena&amount_min=x"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Tych filtrów nie zastosowano" in html
    assert "Miesiąc: Podaj miesiąc jako RRRR-MM" in html
    assert "Kwota od: Podaj kwotę liczbą" in html
    assert f'id="link-{euro.pk}"' in html and f'id="link-{zloty.pk}"' not in html


def test_an_empty_client_tab_points_to_the_sync_page(login, accountant, client_company):
    html = login(accountant).get(_client_url(client_company)).content.decode()
    assert "Nie ma jeszcze faktur w tej zakładce" in html
    assert reverse("invoices:client_sync", args=[client_company.pk]) in html
    assert "<table" not in html


def test_no_match_for_the_filters_says_so_and_offers_to_clear_them(
    login, accountant, client_company
):
    make_invoice(client_company)
    html = login(accountant).get(_client_url(client_company, "currency=USD")).content.decode()
    assert "Żadna faktura nie spełnia tych kryteriów" in html
    assert "Nie ma jeszcze faktur" not in html
    assert f'href="{_client_url(client_company)}"' in html or (
        f'href="{_client_url(client_company, "role=purchases")}"' in html
    )


# --- Links in -------------------------------------------------------------------------------


def test_the_nav_the_client_page_and_the_sync_page_link_to_the_lists(
    login, accountant, client_company
):
    member = login(accountant)
    dashboard = member.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("invoices:list")}"' in dashboard
    detail = member.get(reverse("clients:detail", args=[client_company.pk])).content.decode()
    assert f'href="{_client_url(client_company)}"' in detail
    sync = member.get(reverse("invoices:client_sync", args=[client_company.pk])).content.decode()
    assert f'href="{_client_url(client_company)}"' in sync
    page = member.get(_list_url()).content.decode()
    assert 'class="active" aria-current="page">Faktury</a>' in page


# --- New since I last looked ----------------------------------------------------------------


def test_a_look_is_recorded_and_rows_stored_after_the_previous_look_are_marked_new(
    login, accountant, client_company
):
    member = login(accountant)
    old = make_invoice(client_company)
    member.get(_client_url(client_company))
    visit = InvoiceListVisit.objects.get(membership=accountant, client=client_company)
    assert visit.role == "purchases" and visit.baseline is None
    # The member comes back an hour later; one invoice arrived in between.
    earlier = timezone.now() - SESSION_GAP - dt.timedelta(minutes=30)
    InvoiceListVisit.objects.filter(pk=visit.pk).update(last_seen_at=earlier)
    arrived = make_invoice(client_company)
    ClientInvoice.objects.filter(pk=old.pk).update(stored_at=earlier - dt.timedelta(hours=1))
    html = member.get(_client_url(client_company)).content.decode()
    assert f'<tr id="link-{arrived.pk}" class="new">' in html
    assert f'<tr id="link-{old.pk}">' in html
    assert "2 faktur" in html or "2 faktury" in html
    assert "w tym 1 nowa" in html
    only_new = member.get(_client_url(client_company, "new=1")).content.decode()
    assert f'id="link-{arrived.pk}"' in only_new and f'id="link-{old.pk}"' not in only_new
    # Filtering within the same look keeps the baseline.
    assert InvoiceListVisit.objects.get(pk=visit.pk).baseline == earlier


def test_the_office_wide_list_is_a_scope_of_its_own(login, accountant, client_company):
    login(accountant).get(_list_url("role=sales"))
    assert InvoiceListVisit.objects.filter(
        membership=accountant, client__isnull=True, role=""
    ).exists()
    assert not InvoiceListVisit.objects.filter(client=client_company).exists()


# --- SQL queries ----------------------------------------------------------------------------


QUERIES = [
    "",
    "month=2026-03&sort=-gross",
    "q=Dostawca&type=vat&currency=PLN",
    "counterparty=7&amount_min=150&amount_max=900,50&attachment=&mode=online&new=1",
    "date_field=ksef&date_from=2026-03-02&date_to=2026-03-20&sort=counterparty&page=2",
]


def _queries(member, url: str) -> int:  # type: ignore[no-untyped-def]
    member.get(url)  # the first look inserts its row; count a later one
    with CaptureQueriesContext(connection) as captured:
        assert member.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("query", QUERIES)
def test_the_number_of_queries_does_not_grow_with_the_office(
    login, manager, accountant, office, client_company, query
):
    make_invoices(client_company, 10)
    small = {
        "office, manager": _queries(login(manager), _list_url(query)),
        "office, accountant": _queries(login(accountant), _list_url(query)),
        "client": _queries(login(accountant), _client_url(client_company, query)),
    }
    for n in range(20):
        client = make_client(office, assigned=[accountant] if n % 2 else [])
        make_invoices(client, 50, "Subject2" if n % 3 else "Subject1")
    make_invoices(client_company, 990)
    big = {
        "office, manager": _queries(login(manager), _list_url(query)),
        "office, accountant": _queries(login(accountant), _list_url(query)),
        "client": _queries(login(accountant), _client_url(client_company, query)),
    }
    assert ClientInvoice.objects.count() == 2000
    assert big == small, (big, small)
