"""The managers' expiry dashboard: buckets, gaps, filters, chart and CSV agree on one seeded
office; access by role and office; HTMX fragment vs full page; constant query count."""

from __future__ import annotations

import csv
import datetime
import io
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from certificates.models import Credential
from clients.models import AccessModel, Client, LegalForm
from tests.certificates.expiry.factories import make_credential, new_client, warsaw

NOW = warsaw(2026, 11, 21, 10, 0)
URL = "/expiry/"
EXPORT = "/expiry/export.csv"


def day(days: int, hour: int = 12) -> datetime.datetime:
    return warsaw(2026, 11, 21, hour) + datetime.timedelta(days=days)


@pytest.fixture(autouse=True)
def frozen_clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def seeded(office, other_office, accountant, unassigned_accountant, client_company):  # type: ignore[no-untyped-def]
    """An office with credentials in every bucket, gaps of every kind, and noise that must
    not show: another office, an archived client, replaced and deleted credentials."""
    jdg = new_client(
        office,
        assigned=[unassigned_accountant],
        name="Jan Kowalski Usługi",
        legal_form=LegalForm.SOLE_PROPRIETORSHIP,
        access_model=AccessModel.CLIENT_CREDENTIAL,
    )
    office_model = new_client(office, name="Modelowa sp. z o.o.", access_model=AccessModel.OFFICE)
    undecided = new_client(
        office, name="Niezdecydowana S.A.", legal_form=LegalForm.JOINT_STOCK_COMPANY
    )
    archived = new_client(office, name="Archiwalna sp. z o.o.", is_archived=True)
    client_company.access_model = AccessModel.CLIENT_CREDENTIAL
    client_company.save()
    made = {
        "expired": make_credential(
            office, client_company, Credential.Kind.OFFLINE, valid_to=day(-3)
        ),
        "today": make_credential(office, jdg, valid_to=day(0, hour=18)),
        "7": make_credential(office, client_company, valid_to=day(7, hour=23)),
        "token": make_credential(office, undecided, Credential.Kind.TOKEN),  # 40 days: "60"
        "office": make_credential(office, None, valid_to=day(75)),  # office's own: "90"
        "later": make_credential(office, jdg, Credential.Kind.OFFLINE, valid_to=day(400)),
        "30": make_credential(office, office_model, Credential.Kind.OFFLINE, valid_to=day(8)),
    }
    # Noise.
    make_credential(office, archived, valid_to=day(5))
    make_credential(office, undecided, valid_to=day(6), status=Credential.Status.REPLACED)
    make_credential(office, undecided, Credential.Kind.OFFLINE, valid_to=day(6), status="deleted")
    foreign = new_client(other_office, name="Obca sp. z o.o.")
    make_credential(other_office, foreign, valid_to=day(2))
    return made


def rows_of(response) -> list[int]:  # type: ignore[no-untyped-def]
    return [int(pk) for pk in re.findall(r'data-credential="(\d+)"', response.content.decode())]


def csv_rows(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    content = response.content.decode("utf-8")
    assert content.startswith("\ufeff")
    return list(csv.reader(io.StringIO(content.removeprefix("\ufeff")), delimiter=";"))


def bucket_counts(response) -> dict[str, int]:  # type: ignore[no-untyped-def]
    html = response.content.decode()
    found = re.findall(r'data-bucket="([^"]+)">\s*<span class="stat-number">(\d+)</span>', html)
    return {code: int(count) for code, count in found}


def gap_counts(response) -> dict[str, int]:  # type: ignore[no-untyped-def]
    html = response.content.decode()
    found = re.findall(r'data-gap="([^"]+)">\s*<span class="stat-number">(\d+)</span>', html)
    return {code: int(count) for code, count in found}


# --- Buckets, filters and CSV agree -----------------------------------------------------------


def test_every_active_credential_of_the_office_is_in_exactly_one_bucket(
    login, manager, seeded
) -> None:
    response = login(manager).get(URL)
    assert response.status_code == 200
    assert bucket_counts(response) == {
        "expired": 1,
        "7": 2,
        "30": 1,
        "60": 1,
        "90": 1,
        "later": 1,
    }
    assert sorted(rows_of(response)) == sorted(c.pk for c in seeded.values())


@pytest.mark.parametrize(
    ("bucket", "expected"),
    [
        ("expired", ["expired"]),
        ("7", ["today", "7"]),
        ("30", ["30"]),
        ("60", ["token"]),
        ("90", ["office"]),
        ("later", ["later"]),
    ],
)
def test_the_bucket_filter_the_card_and_the_csv_agree(
    login, manager, seeded, bucket, expected
) -> None:
    browser = login(manager)
    page = browser.get(URL, {"bucket": bucket})
    exported = csv_rows(browser.get(EXPORT, {"bucket": bucket}))
    assert rows_of(page) == [seeded[name].pk for name in expected]  # sorted by expiry
    assert bucket_counts(page)[bucket] == len(expected) == len(exported) - 1
    assert [row[8] for row in exported[1:]] == [
        str(
            {
                "expired": "Wygasłe",
                "7": "Do 7 dni",
                "30": "8–30 dni",
                "60": "31–60 dni",
                "90": "61–90 dni",
                "later": "Ponad 90 dni",
            }[bucket]
        )
    ] * len(expected)


def test_the_csv_is_excel_friendly_and_has_the_filtered_rows_in_the_table_order(
    login, manager, seeded, client_company
) -> None:
    browser = login(manager)
    response = browser.get(EXPORT, {"kind": "authentication", "sort": "-expires"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="wygasajace-poswiadczenia-2026-11-21.csv"'
    )
    rows = csv_rows(response)
    assert rows[0][:4] == ["Klient", "NIP", "Forma prawna", "Rodzaj"]
    page = browser.get(URL, {"kind": "authentication", "sort": "-expires"})
    assert [r[0] for r in rows[1:]] == [
        "Biuro (model biura)",
        client_company.name,
        "Jan Kowalski Usługi",
    ]
    assert len(rows) - 1 == len(rows_of(page)) == 3
    assert rows[2][1] == client_company.nip
    assert rows[2][6] == "28.11.2026"
    assert rows[2][7] == "7"
    assert rows[2][9] == "Katarzyna Księgowa"
    assert rows[3][7] == "0"  # expires today


def test_filters_by_kind_accountant_legal_form_and_search(
    login, manager, seeded, accountant, unassigned_accountant
) -> None:
    browser = login(manager)
    assert rows_of(browser.get(URL, {"kind": "token"})) == [seeded["token"].pk]
    assert sorted(rows_of(browser.get(URL, {"accountant": accountant.pk}))) == sorted(
        [seeded["expired"].pk, seeded["7"].pk]
    )
    assert rows_of(browser.get(URL, {"legal_form": "jdg"})) == [
        seeded["today"].pk,
        seeded["later"].pk,
    ]
    assert rows_of(browser.get(URL, {"q": "kowalski"})) == [seeded["today"].pk, seeded["later"].pk]
    assert rows_of(browser.get(URL, {"q": seeded["7"].serial_number})) == [seeded["7"].pk]
    # An accountant of another office is ignored, not an error.
    assert len(rows_of(browser.get(URL, {"accountant": 999999}))) == 7
    exported = csv_rows(
        browser.get(EXPORT, {"accountant": unassigned_accountant.pk, "kind": "offline"})
    )
    assert [row[0] for row in exported[1:]] == ["Jan Kowalski Usługi"]


def test_sorting_by_client_name_both_ways(login, manager, seeded) -> None:
    browser = login(manager)
    ascending = rows_of(browser.get(URL, {"sort": "client"}))
    descending = rows_of(browser.get(URL, {"sort": "-client"}))
    assert ascending[0] == seeded["office"].pk  # the office's own credential has no client name
    assert descending[-1] == seeded["office"].pk
    names = [Credential.objects.get(pk=pk).client for pk in ascending[1:]]
    assert [c.name for c in names if c] == sorted(c.name for c in names if c)


def test_gaps_list_clients_without_type_1_or_type_2_and_those_still_on_a_token(
    login, manager, seeded, client_company
) -> None:
    browser = login(manager)
    response = browser.get(URL)
    # The office has its own authentication certificate (office model covered) but no
    # offline one: the office-model client lacks type 2 through the office.
    assert gap_counts(response) == {"auth": 1, "offline": 1, "token": 1}
    auth = browser.get(URL, {"gap": "auth"}).content.decode()
    assert "Niezdecydowana S.A." in auth and "Ma tylko token KSeF" in auth
    offline = browser.get(URL, {"gap": "offline"}).content.decode()
    assert "Niezdecydowana S.A." in offline
    assert "Modelowa sp. z o.o." not in offline  # it has its own offline certificate
    token = csv_rows(browser.get(EXPORT, {"gap": "token"}))
    assert token[0] == [
        "Klient",
        "NIP",
        "Forma prawna",
        "Model dostępu",
        "Brak",
        "Uwagi",
        "Opiekunowie",
    ]
    assert [row[0] for row in token[1:]] == ["Niezdecydowana S.A."]


def test_office_model_clients_count_as_missing_a_certificate_when_the_office_has_none(
    login, manager, office
) -> None:
    new_client(office, name="Modelowa", access_model=AccessModel.OFFICE)
    new_client(office, name="Własna", access_model=AccessModel.CLIENT_CREDENTIAL)
    response = login(manager).get(URL)
    assert gap_counts(response) == {"auth": 2, "offline": 2, "token": 0}
    assert "Biuro nie ma aktywnego certyfikatu uwierzytelniającego" in response.content.decode()
    make_credential(office, None, valid_to=day(300))
    make_credential(office, None, Credential.Kind.TOKEN)
    assert gap_counts(login(manager).get(URL)) == {"auth": 1, "offline": 2, "token": 0}


# --- The chart ---------------------------------------------------------------------------------


def test_the_chart_is_inline_svg_with_one_link_per_week_that_filters_the_table(
    login, manager, seeded
) -> None:
    browser = login(manager)
    html = browser.get(URL).content.decode()
    svg = html[html.index("<svg") : html.index("</svg>")]
    weeks = re.findall(r'<a href="\?week=(\d{4}-\d{2}-\d{2})" data-week="\1">', svg)
    assert len(weeks) == 26 and weeks[0] == "2026-11-16" and weeks[-1] == "2027-05-10"
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no external assets
    # The token cut-off (31.12.2026) falls in the week of Monday 28.12.2026.
    token_week = browser.get(URL, {"week": "2026-12-28"})
    assert rows_of(token_week) == [seeded["token"].pk]
    assert 'name="week" value="2026-12-28"' in token_week.content.decode()
    # The week of 16.11: the expired one, today's and the one due in a week are not in it.
    assert rows_of(browser.get(URL, {"week": "2026-11-19"})) == [
        seeded["expired"].pk,
        seeded["today"].pk,
    ]


def test_the_chart_bar_heights_follow_the_weekly_counts(login, manager, office) -> None:
    client = new_client(office)
    for _ in range(3):
        make_credential(office, new_client(office), valid_to=day(15))
    make_credential(office, client, valid_to=day(30))
    html = login(manager).get(URL).content.decode()
    bars = dict(
        re.findall(
            r'data-week="([\d-]+)">.*?<rect class="bar" x="\d+" y="[\d.]+" width="22" '
            r'height="([\d.]+)"',
            html,
            re.S,
        )
    )
    # day(15) is Sunday 6.12 (week of 30.11), day(30) is Monday 21.12.
    assert float(bars["2026-11-30"]) == 120.0  # the tallest week fills the plot
    assert float(bars["2026-12-21"]) == 40.0  # a third of it
    assert float(bars["2026-12-07"]) == 2.0  # an empty week is a thin baseline


# --- Access, methods, HTMX ---------------------------------------------------------------------


def test_managers_and_admins_may_open_it_accountants_may_not(
    login, manager, admin_member, accountant, outsider
) -> None:
    assert login(manager).get(URL).status_code == 200
    assert login(admin_member).get(URL).status_code == 200
    assert login(accountant).get(URL).status_code == 403
    assert login(accountant).get(EXPORT).status_code == 403


def test_another_office_sees_only_its_own_credentials(login, outsider, seeded) -> None:
    response = login(outsider).get(URL)
    assert response.status_code == 200
    [own] = rows_of(response)
    assert Credential.objects.get(pk=own).office == outsider.office
    exported = csv_rows(login(outsider).get(EXPORT))
    assert [row[0] for row in exported[1:]] == ["Obca sp. z o.o."]


def test_anonymous_visitors_are_sent_to_log_in(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_dashboard_and_export_accept_only_get(login, manager) -> None:
    browser = login(manager)
    assert browser.post(URL).status_code == 405
    assert browser.post(EXPORT).status_code == 405


def test_htmx_gets_the_results_fragment_and_a_plain_request_the_full_page(
    login, manager, seeded
) -> None:
    browser = login(manager)
    full = browser.get(URL).content.decode()
    fragment = browser.get(URL, {"bucket": "7"}, headers={"HX-Request": "true"}).content.decode()
    assert "<html" in full and 'id="expiry-results"' in full and "<form" in full
    assert "<html" not in fragment and fragment.lstrip().startswith('<div id="expiry-results"')
    assert "<svg" in fragment
    assert len(re.findall(r'data-credential="', fragment)) == 2
    boosted = browser.get(URL, headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.content.decode()


def test_the_navigation_shows_the_link_to_managers_only(login, manager, accountant) -> None:
    def navigation(member) -> str:  # type: ignore[no-untyped-def]
        page = login(member).get(reverse("dashboard")).content.decode()
        return page.split('class="mainnav"')[1].split("</nav>")[0]

    assert "Wygasające poświadczenia" in navigation(manager)
    assert "Wygasające poświadczenia" not in navigation(accountant)


# --- Query count -------------------------------------------------------------------------------


def seed_clients(office, accountant, count: int) -> None:  # type: ignore[no-untyped-def]
    from tests.certificates.expiry.factories import fresh_nip

    clients = Client.objects.bulk_create(
        Client(
            office=office,
            nip=fresh_nip(),
            name=f"Klient masowy {n}",
            legal_form=LegalForm.LIMITED_LIABILITY_COMPANY,
            access_model=AccessModel.CLIENT_CREDENTIAL,
            contact_emails=["a@b.example"],
        )
        for n in range(count)
    )
    Client.assigned_accountants.through.objects.bulk_create(
        Client.assigned_accountants.through(client_id=c.pk, membership_id=accountant.pk)
        for c in clients
    )
    Credential.objects.bulk_create(
        Credential(
            office=office,
            client=c,
            kind=Credential.Kind.AUTHENTICATION if n % 3 else Credential.Kind.TOKEN,
            valid_to=day(n * 37 % 200 - 10) if n % 3 else None,
            serial_number=f"S{n}",
        )
        for n, c in enumerate(clients)
    )


def queries_for(browser, url: str, params: dict[str, str]) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        assert browser.get(url, params).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (URL, {}),
        (URL, {"gap": "offline"}),
        (URL, {"bucket": "30", "sort": "client"}),
        (EXPORT, {}),
        (EXPORT, {"gap": "auth"}),
    ],
)
def test_the_number_of_queries_does_not_grow_with_the_office(
    login, manager, office, accountant, url, params
) -> None:
    browser = login(manager)
    seed_clients(office, accountant, 10)
    small = queries_for(browser, url, params)
    seed_clients(office, accountant, 490)
    assert queries_for(browser, url, params) == small
