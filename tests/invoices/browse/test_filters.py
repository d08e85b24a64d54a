"""The lists' selection (`invoices.browse.filters.filtered_links`): every filter keeps the
rows it names and drops the others, sorting is stable, an invalid parameter gets a Polish
message and is not applied, and an accountant never gets a row of an unassigned client."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.http import QueryDict

from invoices.browse.filters import filter_form, filtered_links, select
from invoices.browse.services import SESSION_GAP, list_visit_record
from invoices.models import ClientInvoice
from tests.factories import make_client
from tests.invoices.browse.support import WARSAW, link_also, make_invoice

pytestmark = pytest.mark.django_db


def _ids(links):  # type: ignore[no-untyped-def]
    return {link.pk for link in links}


def _pick(membership, query="", client=None):  # type: ignore[no-untyped-def]
    return _ids(filtered_links(membership=membership, params=QueryDict(query), client=client))


@pytest.fixture
def other_client(office):  # type: ignore[no-untyped-def]
    return make_client(office, name="Kwiaciarnia Róża s.c.")


# --- Scope ----------------------------------------------------------------------------------


def test_an_accountant_gets_only_assigned_clients_rows_and_a_manager_every_row(
    accountant, manager, outsider, client_company, other_client, other_office
):
    mine = make_invoice(client_company)
    theirs = make_invoice(other_client)
    foreign = make_invoice(make_client(other_office))
    assert _pick(accountant) == {mine.pk}
    assert _pick(manager) == {mine.pk, theirs.pk}
    assert _pick(outsider) == {foreign.pk}
    # A client filter or an explicit client never widens the scope.
    assert _pick(accountant, f"client={other_client.pk}") == set()
    assert _pick(accountant, client=other_client) == set()
    assert _pick(accountant, f"q={theirs.invoice.invoice_number}") == set()


def test_a_clients_list_is_one_role_purchases_unless_asked(manager, client_company):
    purchase = make_invoice(client_company, "Subject2")
    sale = make_invoice(client_company, "Subject1")
    third = make_invoice(client_company, "Subject3")
    authorised = make_invoice(client_company, "SubjectAuthorized")
    assert _pick(manager, client=client_company) == {purchase.pk}
    assert _pick(manager, "role=sales", client=client_company) == {sale.pk}
    assert _pick(manager, "role=third", client=client_company) == {third.pk, authorised.pk}
    # Office-wide, every role unless one is chosen.
    assert _pick(manager) == {purchase.pk, sale.pk, third.pk, authorised.pk}
    assert _pick(manager, "role=purchases") == {purchase.pk}


def test_the_office_wide_client_filter_keeps_that_clients_rows(
    manager, client_company, other_client
):
    mine = make_invoice(client_company)
    make_invoice(other_client)
    assert _pick(manager, f"client={client_company.pk}") == {mine.pk}


def test_an_invoice_between_two_clients_is_a_row_for_each(manager, client_company, other_client):
    sale = make_invoice(other_client, "Subject1", counterparty_nip=client_company.nip)
    purchase = link_also(sale, client_company, "Subject2")
    assert _pick(manager) == {sale.pk, purchase.pk}


# --- Filters --------------------------------------------------------------------------------


def test_the_issue_date_range_is_inclusive(manager, client_company):
    before = make_invoice(client_company, issue_date=dt.date(2026, 2, 28))
    first = make_invoice(client_company, issue_date=dt.date(2026, 3, 1))
    last = make_invoice(client_company, issue_date=dt.date(2026, 3, 31))
    after = make_invoice(client_company, issue_date=dt.date(2026, 4, 1))
    assert _pick(manager, "date_from=2026-03-01&date_to=2026-03-31") == {first.pk, last.pk}
    assert _pick(manager, "date_from=01.03.2026") == {first.pk, last.pk, after.pk}
    assert _pick(manager, "date_to=2026-02-28") == {before.pk}


def test_the_month_shortcut_keeps_that_months_invoices(manager, client_company):
    make_invoice(client_company, issue_date=dt.date(2026, 1, 31))
    february = make_invoice(client_company, issue_date=dt.date(2026, 2, 28))
    make_invoice(client_company, issue_date=dt.date(2026, 3, 1))
    assert _pick(manager, "month=2026-02") == {february.pk}


def test_the_ksef_date_counts_days_in_warsaw_not_utc(manager, client_company):
    # 23:30 on 31 March in Warsaw is 21:30 UTC: still March; 00:30 on 1 April is March in UTC.
    late_march = make_invoice(
        client_company,
        issue_date=dt.date(2026, 3, 2),
        invoicing_date=dt.datetime(2026, 3, 31, 23, 30, tzinfo=WARSAW),
    )
    early_april = make_invoice(
        client_company,
        issue_date=dt.date(2026, 3, 2),
        invoicing_date=dt.datetime(2026, 4, 1, 0, 30, tzinfo=WARSAW),
    )
    assert _pick(manager, "date_field=ksef&month=2026-03") == {late_march.pk}
    assert _pick(manager, "date_field=ksef&date_from=2026-04-01") == {early_april.pk}
    # By issue date both are March invoices.
    assert _pick(manager, "month=2026-03") == {late_march.pk, early_april.pk}


def test_the_counterparty_is_matched_by_nip_or_name_on_the_other_side(manager, client_company):
    purchase = make_invoice(
        client_company, "Subject2", counterparty_nip="5261040828", counterparty_name="Orlen S.A."
    )
    sale = make_invoice(
        client_company, "Subject1", counterparty_nip="5260250274", counterparty_name="Ruch S.A."
    )
    assert _pick(manager, "counterparty=5261040828") == {purchase.pk}
    assert _pick(manager, "counterparty=PL 526-104-08-28") == {purchase.pk}
    assert _pick(manager, "counterparty=526") == {purchase.pk, sale.pk}
    assert _pick(manager, "counterparty=orlen") == {purchase.pk}
    assert _pick(manager, "counterparty=ruch") == {sale.pk}
    # The client itself is never its own counterparty: its name matches no row.
    assert _pick(manager, f"counterparty={client_company.nip}") == set()
    assert _pick(manager, "counterparty=Piekarnia") == set()
    assert _pick(manager, "counterparty=orlen&role=sales") == set()
    assert _pick(manager, "counterparty=orlen", client=client_company) == {purchase.pk}


def test_the_amount_range_filters_on_gross_or_net(manager, client_company):
    small = make_invoice(
        client_company, net_amount=Decimal("100.00"), gross_amount=Decimal("123.00")
    )
    big = make_invoice(
        client_company, net_amount=Decimal("1322.77"), gross_amount=Decimal("1626.01")
    )
    assert _pick(manager, "amount_min=1 626,01") == {big.pk}
    assert _pick(manager, "amount_min=1626.02") == set()
    assert _pick(manager, "amount_max=123") == {small.pk}
    assert _pick(manager, "amount_field=net&amount_min=1322,77&amount_max=1322,77") == {big.pk}
    assert _pick(manager, "amount_field=net&amount_min=1626") == set()


def test_currency_mode_attachment_filters(manager, client_company):
    euro = make_invoice(client_company, currency="EUR")
    offline = make_invoice(client_company, invoicing_mode="Offline")
    attached = make_invoice(client_company, has_attachment=True)
    assert _pick(manager, "currency=eur") == {euro.pk}
    assert _pick(manager, "mode=offline") == {offline.pk}
    assert _pick(manager, "mode=online") == {euro.pk, attached.pk}
    assert _pick(manager, "attachment=1") == {attached.pk}


def test_type_groups_map_ksefs_invoice_types_and_combine_with_or(manager, client_company):
    rows = {
        kind: make_invoice(client_company, invoice_type=kind, form_code=form)
        for kind, form in [
            ("Vat", "FA (3)"),
            ("Kor", "FA (3)"),
            ("Zal", "FA (3)"),
            ("KorZal", "FA (3)"),
            ("Roz", "FA (2)"),
            ("Upr", "FA (3)"),
            ("VatRr", "FA_RR (1)"),
            ("KorVatRr", "FA_RR (1)"),
            ("VatPef", "PEF (3)"),
            ("KorPef", "PEF_KOR (3)"),
        ]
    }

    def kinds(query: str) -> set[str]:
        chosen = _pick(manager, query)
        return {kind for kind, link in rows.items() if link.pk in chosen}

    assert kinds("type=vat") == {"Vat"}
    assert kinds("type=correction") == {"Kor", "KorZal", "KorVatRr", "KorPef"}
    assert kinds("type=advance") == {"Zal", "KorZal"}
    assert kinds("type=settlement") == {"Roz"}
    assert kinds("type=simplified") == {"Upr"}
    assert kinds("type=fa_rr") == {"VatRr", "KorVatRr"}
    assert kinds("type=pef") == {"VatPef", "KorPef"}
    assert kinds("type=simplified&type=settlement") == {"Upr", "Roz"}


def test_the_search_finds_number_ksef_number_and_counterparty_but_not_the_client(
    manager, client_company
):
    target = make_invoice(
        client_company,
        counterparty_nip="5261040828",
        counterparty_name="Orlen S.A.",
        invoice_number="FV/2026/03/777",
    )
    other = make_invoice(client_company, counterparty_name="Biedronka")
    assert _pick(manager, "q=03/777") == {target.pk}
    assert _pick(manager, f"q={target.invoice.ksef_number[-12:]}") == {target.pk}
    assert _pick(manager, "q=ORLEN") == {target.pk}
    assert _pick(manager, "q=1040828") == {target.pk}
    assert _pick(manager, "q=biedr") == {other.pk}
    assert _pick(manager, "q=Piekarnia", client=client_company) == set()


def test_the_filters_combine(manager, client_company):
    hit = make_invoice(
        client_company, issue_date=dt.date(2026, 3, 5), currency="EUR", has_attachment=True
    )
    make_invoice(client_company, issue_date=dt.date(2026, 3, 5), currency="PLN")
    make_invoice(client_company, issue_date=dt.date(2026, 4, 5), currency="EUR")
    assert _pick(manager, "month=2026-03&currency=EUR&attachment=1") == {hit.pk}


# --- "New since I last looked" --------------------------------------------------------------


def test_new_means_stored_after_the_previous_look_at_the_same_scope(accountant, client_company):
    t0 = dt.datetime(2026, 3, 10, 8, 0, tzinfo=dt.UTC)
    make_invoice(client_company, stored_at=t0 - dt.timedelta(days=1))
    # Never looked, and during the first look: nothing to compare with, nothing is new.
    assert _pick(accountant, "new=1", client=client_company) == set()
    list_visit_record(membership=accountant, client=client_company, role="purchases", now=t0)
    assert _pick(accountant, "new=1", client=client_company) == set()
    arrived = make_invoice(client_company, stored_at=t0 + dt.timedelta(minutes=5))
    later = t0 + SESSION_GAP + dt.timedelta(minutes=10)
    list_visit_record(membership=accountant, client=client_company, role="purchases", now=later)
    assert _pick(accountant, "new=1", client=client_company) == {arrived.pk}
    # Working through the list (another view within the gap) keeps the same new rows.
    list_visit_record(
        membership=accountant,
        client=client_company,
        role="purchases",
        now=later + dt.timedelta(minutes=20),
    )
    assert _pick(accountant, "new=1", client=client_company) == {arrived.pk}
    # Other scopes have their own looks: the sales tab was looked at before both arrived.
    list_visit_record(
        membership=accountant, client=client_company, role="sales", now=t0 - SESSION_GAP * 4
    )
    list_visit_record(membership=accountant, client=client_company, role="sales", now=later)
    assert _pick(accountant, "new=1&role=sales", client=client_company) == set()
    assert _pick(accountant, "new=1") == set()  # the office-wide list: never looked


def test_new_is_per_member_and_the_office_wide_list_is_its_own_scope(
    accountant, manager, client_company
):
    t0 = dt.datetime(2026, 3, 10, 8, 0, tzinfo=dt.UTC)
    link = make_invoice(client_company, stored_at=t0 + dt.timedelta(minutes=1))
    for member in (accountant, manager):
        list_visit_record(membership=member, client=None, role="", now=t0)
    list_visit_record(membership=accountant, client=None, role="", now=t0 + 2 * SESSION_GAP)
    assert _pick(accountant, "new=1") == {link.pk}
    assert _pick(manager, "new=1") == set()  # the manager has not looked again yet
    assert _pick(accountant, "new=1", client=client_company) == set()


# --- Sorting --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "field"),
    [
        ("gross", "gross_amount"),
        ("net", "net_amount"),
        ("number", "invoice_number"),
        ("ksef_date", "invoicing_date"),
    ],
)
def test_sorting_orders_by_the_column_both_ways(manager, client_company, sort, field):  # type: ignore[no-untyped-def]
    columns: dict[str, list[Any]] = {
        "gross_amount": [Decimal("300.00"), Decimal("100.00"), Decimal("200.00")],
        "net_amount": [Decimal("30.00"), Decimal("10.00"), Decimal("20.00")],
        "invoice_number": ["C/1", "A/1", "B/1"],
        "invoicing_date": [dt.datetime(2026, 3, day, 10, tzinfo=dt.UTC) for day in (3, 1, 2)],
    }
    values = columns[field]
    links = [make_invoice(client_company, **{field: value}) for value in values]
    ascending = [link.pk for link in filtered_links(membership=manager, params={"sort": sort})]
    descending = [
        link.pk for link in filtered_links(membership=manager, params={"sort": f"-{sort}"})
    ]
    assert ascending == [links[1].pk, links[2].pk, links[0].pk]
    assert descending == list(reversed(ascending))


def test_sorting_by_counterparty_and_client_and_date(manager, client_company, other_client):
    b = make_invoice(client_company, counterparty_name="Beta", issue_date=dt.date(2026, 3, 2))
    a = make_invoice(other_client, counterparty_name="Alfa", issue_date=dt.date(2026, 3, 1))
    c = make_invoice(other_client, "Subject1", counterparty_name="Celsius")

    def order(sort: str) -> list[int]:
        return [link.pk for link in filtered_links(membership=manager, params={"sort": sort})]

    assert order("counterparty") == [a.pk, b.pk, c.pk]
    assert order("-client") == [b.pk, c.pk, a.pk]  # Piekarnia, then Kwiaciarnia by id desc
    assert order("issue_date") == [a.pk, b.pk, c.pk]
    assert order("-issue_date") == [c.pk, b.pk, a.pk]  # the default


def test_equal_values_are_ordered_by_id_so_pages_never_repeat_a_row(manager, client_company):
    links = [make_invoice(client_company) for _ in range(4)]
    assert [
        link.pk for link in filtered_links(membership=manager, params={"sort": "gross"})
    ] == sorted(link.pk for link in links)
    assert [
        link.pk for link in filtered_links(membership=manager, params={"sort": "-gross"})
    ] == sorted((link.pk for link in links), reverse=True)


# --- Invalid parameters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("date_from=2026-13-01", "date_from", "Podaj datę jako RRRR-MM-DD"),
        ("date_from=2026-03-01&date_to=2026-02-01", "date_to", "wcześniejsza"),
        ("month=marzec", "month", "Podaj miesiąc jako RRRR-MM"),
        ("month=2026-13", "month", "Podaj miesiąc jako RRRR-MM"),
        ("amount_min=dużo", "amount_min", "Podaj kwotę liczbą"),
        ("amount_min=NaN", "amount_min", "Podaj kwotę liczbą"),
        ("amount_min=10&amount_max=5", "amount_max", "mniejsza"),
        ("currency=złoty", "currency", "trzech liter"),
        ("type=faktura", "type", "Nieznany rodzaj faktury"),
        ("mode=fax", "mode", "online lub offline"),
        ("q=ab", "q", "co najmniej 3 znaki"),
        ("sort=price", "sort", "Nie można sortować"),
        ("role=buyer", "role", "Nieznana rola"),
        ("client=abc", "client", "Nieznany klient"),
        ("date_field=paid", "date_field", "wystawienia lub przyjęcia"),
    ],
)
def test_an_invalid_parameter_gets_a_polish_message_and_is_not_applied(
    manager, client_company, query, field, message
):
    link = make_invoice(client_company, issue_date=dt.date(2026, 3, 5))
    selection = select(membership=manager, params=QueryDict(query))
    assert message in " ".join(str(error) for error in selection.form.errors[field])
    assert _ids(selection.links) == {link.pk}


def test_the_valid_parameters_still_apply_next_to_an_invalid_one(manager, client_company):
    euro = make_invoice(client_company, currency="EUR")
    make_invoice(client_company, currency="PLN")
    selection = select(membership=manager, params=QueryDict("currency=EUR&month=nie"))
    assert "month" in selection.form.errors
    assert _ids(selection.links) == {euro.pk}


def test_a_plain_mapping_works_like_a_query_string(manager, client_company):
    upr = make_invoice(client_company, invoice_type="Upr")
    roz = make_invoice(client_company, invoice_type="Roz")
    make_invoice(client_company, invoice_type="Vat")
    assert _ids(filtered_links(membership=manager, params={"type": "simplified,settlement"})) == {
        upr.pk,
        roz.pk,
    }
    assert _ids(filtered_links(membership=manager, params={"type": ["simplified"]})) == {upr.pk}


def test_the_rows_carry_the_list_columns_without_the_heavy_ones(manager, client_company):
    make_invoice(client_company, counterparty_name="Orlen S.A.", counterparty_nip="5261040828")
    link = filtered_links(membership=manager, params={}).get()
    assert isinstance(link, ClientInvoice)
    assert link.counterparty_name == "Orlen S.A."  # type: ignore[attr-defined]
    assert link.counterparty_nip == "5261040828"  # type: ignore[attr-defined]
    assert {"xml", "metadata"} <= link.invoice.get_deferred_fields()


def test_filter_form_keeps_the_chosen_values_for_the_page(client_company):
    form = filter_form(QueryDict("month=2026-03&type=vat&type=pef"), client=client_company)
    assert form.cleaned_data["role"] == "purchases"
    assert form.cleaned_data["type"] == ["vat", "pef"]
    assert form.cleaned_data["month"] == (dt.date(2026, 3, 1), dt.date(2026, 3, 31))


# --- Counts for the tabs --------------------------------------------------------------------


def test_the_tab_counts_match_each_roles_list_under_the_same_filters(
    manager, client_company, other_client
):
    for _ in range(3):
        make_invoice(client_company, "Subject2", counterparty_name="Orlen S.A.")
    make_invoice(client_company, "Subject2", counterparty_name="Biedronka")
    sale = make_invoice(client_company, "Subject1", counterparty_name="Orlen S.A.")
    make_invoice(client_company, "Subject3", counterparty_name="Orlen S.A.")
    # An invoice between two clients: a sale of the other client to this one.
    link_also(sale, other_client, "Subject2")
    for query in ["q=orlen", "counterparty=orlen", "", f"q={client_company.name[:8]}"]:
        selection = select(membership=manager, params=QueryDict(query), client=client_company)
        counts = selection.counts()
        for role in ("purchases", "sales", "third"):
            expected = len(_pick(manager, f"{query}&role={role}", client=client_company))
            assert counts[role] == expected, (query, role)
    counts = select(membership=manager, params=QueryDict("q=orlen"), client=client_company).counts()
    assert (counts["purchases"], counts["sales"], counts["third"]) == (3, 1, 1)
    everywhere = select(membership=manager, params=QueryDict("q=orlen")).counts()
    # Office-wide the other client's purchase from this client is no Orlen invoice.
    assert (everywhere["purchases"], everywhere["sales"]) == (3, 1)


def test_the_tab_counts_count_new_rows_per_role(accountant, client_company):
    t0 = dt.datetime(2026, 3, 10, 8, 0, tzinfo=dt.UTC)
    make_invoice(client_company, "Subject2", stored_at=t0 - dt.timedelta(hours=2))
    make_invoice(client_company, "Subject2", stored_at=t0 + dt.timedelta(minutes=1))
    make_invoice(client_company, "Subject1", stored_at=t0 - dt.timedelta(hours=2))
    for role in ("purchases", "sales"):
        list_visit_record(membership=accountant, client=client_company, role=role, now=t0)
        list_visit_record(
            membership=accountant, client=client_company, role=role, now=t0 + 2 * SESSION_GAP
        )
    counts = select(membership=accountant, params={}, client=client_company).counts()
    assert counts["purchases"] == 2 and counts["new_purchases"] == 1
    assert counts["sales"] == 1 and counts["new_sales"] == 0
