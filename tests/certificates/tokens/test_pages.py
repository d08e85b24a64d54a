"""The token cut-off on the pages: the client page's banner, the list's marker and the
dashboard's count — for the client-credential model with only a token and for the office
model when the office logs in with a token, before and after 31.12.2026."""

from __future__ import annotations

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from certificates.models import Credential
from clients.models import AccessModel
from tests.certificates.expiry.factories import make_credential, new_client, warsaw

pytestmark = pytest.mark.django_db

TODAY = warsaw(2026, 12, 2, 10)
AFTER_CUTOFF = warsaw(2027, 1, 4, 10)
OWN = AccessModel.CLIENT_CREDENTIAL


@pytest.fixture(autouse=True)
def _today():  # type: ignore[no-untyped-def]
    with time_machine.travel(TODAY, tick=False):
        yield


def on_token(office, **fields):  # type: ignore[no-untyped-def]
    fields.setdefault("access_model", OWN)
    client = new_client(office, **fields)
    make_credential(office, client, Credential.Kind.TOKEN)
    return client


def detail(browser, client) -> str:  # type: ignore[no-untyped-def]
    response = browser.get(reverse("clients:detail", args=[client.pk]))
    assert response.status_code == 200
    return response.content.decode()


def banner(html: str) -> str:
    start = html.find('id="token-banner"')
    return html[start : html.find("</section>", start)] if start != -1 else ""


# --- The banner ----------------------------------------------------------------------------------


def test_a_client_on_its_own_token_gets_the_banner_with_both_actions(login, manager, office):
    client = on_token(office)

    text = banner(detail(login(manager), client))

    assert "Token KSeF działa tylko do 31.12.2026" in text
    assert "Po 31.12.2026 tokeny przestają działać" in text
    assert reverse("certificates:upload", args=[client.pk, "authentication"]) in text
    assert reverse("certificates:client", args=[client.pk]) + "#upload-links" in text


def test_a_client_whose_model_is_not_chosen_yet_but_has_only_a_token_gets_it_too(
    login, manager, office
):
    client = on_token(office, access_model=AccessModel.UNDECIDED)

    assert banner(detail(login(manager), client))


@pytest.mark.parametrize(
    "kinds",
    [
        pytest.param([Credential.Kind.TOKEN, Credential.Kind.AUTHENTICATION], id="token+cert"),
        pytest.param([Credential.Kind.AUTHENTICATION], id="cert only"),
        pytest.param([Credential.Kind.OFFLINE], id="offline only"),
        pytest.param([], id="nothing"),
    ],
)
def test_no_banner_when_the_client_does_not_rely_on_a_token(login, manager, office, kinds):
    client = new_client(office, access_model=OWN)
    for kind in kinds:
        make_credential(office, client, kind, valid_to=warsaw(2028, 1, 1))

    assert banner(detail(login(manager), client)) == ""


def test_a_replaced_token_does_not_count(login, manager, office):
    client = new_client(office, access_model=OWN)
    make_credential(office, client, Credential.Kind.TOKEN, status=Credential.Status.REPLACED)

    assert banner(detail(login(manager), client)) == ""


def test_the_office_model_gets_the_banner_when_the_office_logs_in_with_a_token(
    login, admin_member, manager, office
):
    client = new_client(office, access_model=AccessModel.OFFICE)
    make_credential(office, None, Credential.Kind.TOKEN)

    for_admin = banner(detail(login(admin_member), client))
    for_manager = banner(detail(login(manager), client))

    assert "biuro loguje się do KSeF tokenem" in for_admin
    assert reverse("certificates:office_upload") in for_admin
    assert reverse("certificates:office_upload") not in for_manager  # admins only upload
    assert reverse("certificates:office") in for_manager
    assert reverse("certificates:upload", args=[client.pk, "authentication"]) not in for_admin


@pytest.mark.parametrize(
    "office_kinds",
    [
        pytest.param([Credential.Kind.TOKEN, Credential.Kind.AUTHENTICATION], id="token+cert"),
        pytest.param([Credential.Kind.AUTHENTICATION], id="cert"),
    ],
)
def test_the_office_model_has_no_banner_when_the_office_has_a_certificate(
    login, manager, office, office_kinds
):
    client = new_client(office, access_model=AccessModel.OFFICE)
    for kind in office_kinds:
        make_credential(office, None, kind, valid_to=warsaw(2028, 1, 1))

    assert banner(detail(login(manager), client)) == ""


def test_the_office_model_ignores_the_clients_own_token(login, manager, office):
    """On the office model the office's credential is what logs in; a token the client once
    uploaded, with the office holding a certificate, is not a reason to alarm."""
    client = on_token(office, access_model=AccessModel.OFFICE)
    make_credential(office, None, Credential.Kind.AUTHENTICATION, valid_to=warsaw(2028, 1, 1))

    assert banner(detail(login(manager), client)) == ""


def test_after_the_cut_off_the_banner_says_the_token_stopped_working(login, manager, office):
    client = on_token(office)

    with time_machine.travel(AFTER_CUTOFF, tick=False):
        text = banner(detail(login(manager), client))

    assert "Token KSeF przestał działać" in text
    assert "tokenem, który przestał działać po 31.12.2026" in text
    assert reverse("certificates:upload", args=[client.pk, "authentication"]) in text


def test_an_unassigned_accountant_still_cannot_open_the_client_page(
    login, unassigned_accountant, outsider, office
):
    client = on_token(office)

    assert (
        login(unassigned_accountant).get(reverse("clients:detail", args=[client.pk])).status_code
        == 404
    )
    assert login(outsider).get(reverse("clients:detail", args=[client.pk])).status_code == 404


# --- The marker on the list ----------------------------------------------------------------------


def _row(html: str, client) -> str:  # type: ignore[no-untyped-def]
    start = html.find(f'id="client-{client.pk}"')
    assert start != -1
    return html[start : html.find("</tr>", start)]


def test_the_list_marks_token_clients_only(login, manager, office):
    token_client = on_token(office, name="Tokenowa sp. z o.o.")
    certified = new_client(office, access_model=OWN, name="Certyfikowana sp. z o.o.")
    make_credential(office, certified, valid_to=warsaw(2028, 1, 1))

    html = login(manager).get(reverse("clients:list")).content.decode()

    assert "token do 31.12.2026" in _row(html, token_client)
    assert "token-marker" not in _row(html, certified)


def test_after_the_cut_off_the_marker_says_the_token_stopped(login, manager, office):
    client = on_token(office)

    with time_machine.travel(AFTER_CUTOFF, tick=False):
        html = login(manager).get(reverse("clients:list")).content.decode()

    assert "token przestał działać" in _row(html, client)


def test_the_markers_cost_the_same_queries_for_two_clients_as_for_six(login, manager, office):
    browser = login(manager)
    on_token(office)
    on_token(office)
    browser.get(reverse("clients:list"))  # warm the session and the caches
    with CaptureQueriesContext(connection) as two:
        browser.get(reverse("clients:list"))
    for _n in range(4):
        on_token(office)
    with CaptureQueriesContext(connection) as six:
        html = browser.get(reverse("clients:list")).content.decode()

    assert html.count("token-marker") == 6
    assert len(six.captured_queries) == len(two.captured_queries)


# --- The dashboard count -------------------------------------------------------------------------


def _count(html: str) -> str:
    start = html.find('id="token-count"')
    return html[start : html.find("</div>", start)] if start != -1 else ""


def test_the_dashboard_counts_one_token_client_in_the_singular(login, manager, office):
    on_token(office)

    text = _count(login(manager).get(reverse("dashboard")).content.decode())

    assert "1 klient traci dostęp 31.12.2026" in text
    assert reverse("expiry:dashboard") + "?gap=token" in text


def test_the_dashboard_counts_two_token_clients_with_the_2_to_4_form(login, manager, office):
    on_token(office)
    on_token(office)

    text = _count(login(manager).get(reverse("dashboard")).content.decode())

    assert "2 klientów traci dostęp 31.12.2026" not in text
    assert "2 klienci tracą dostęp 31.12.2026" in text


def test_the_dashboard_counts_five_token_clients_with_the_genitive_plural(login, manager, office):
    for _n in range(5):
        on_token(office)
    certified = new_client(office, access_model=OWN)
    make_credential(office, certified, valid_to=warsaw(2028, 1, 1))

    text = _count(login(manager).get(reverse("dashboard")).content.decode())

    assert "5 klientów traci dostęp 31.12.2026" in text


def test_office_model_clients_count_when_the_office_logs_in_with_a_token(login, manager, office):
    make_credential(office, None, Credential.Kind.TOKEN)
    for _n in range(5):
        new_client(office, access_model=AccessModel.OFFICE)

    text = _count(login(manager).get(reverse("dashboard")).content.decode())

    assert "5 klientów traci dostęp" in text


def test_an_accountant_counts_only_own_clients_and_is_sent_to_the_client_list(
    login, accountant, office
):
    on_token(office, assigned=[accountant])
    on_token(office)  # someone else's

    text = _count(login(accountant).get(reverse("dashboard")).content.decode())

    assert "1 klient traci dostęp" in text
    assert f'href="{reverse("clients:list")}"' in text
    assert "gap=token" not in text


def test_archived_clients_and_other_offices_do_not_count(login, manager, office, other_office):
    on_token(office, is_archived=True)
    on_token(other_office)

    html = login(manager).get(reverse("dashboard")).content.decode()

    assert _count(html) == ""


def test_after_the_cut_off_the_count_says_access_was_lost(login, manager, office):
    for _n in range(5):
        on_token(office)

    with time_machine.travel(AFTER_CUTOFF, tick=False):
        text = _count(login(manager).get(reverse("dashboard")).content.decode())

    assert "5 klientów straciło dostęp 31.12.2026" in text


def test_the_counts_link_lists_exactly_those_clients_on_the_expiry_dashboard(
    login, manager, office
):
    token_client = on_token(office, name="Tokenowa sp. z o.o.")
    certified = new_client(office, access_model=OWN, name="Certyfikowana sp. z o.o.")
    make_credential(office, certified, valid_to=warsaw(2028, 1, 1))

    html = login(manager).get(reverse("expiry:dashboard") + "?gap=token").content.decode()

    assert token_client.name in html and certified.name not in html


# --- In English ----------------------------------------------------------------------------------


def test_the_banner_marker_and_count_read_in_english(login, manager, office):
    client = on_token(office)
    browser = login(manager)
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    pages = [
        banner(detail(browser, client)),
        _row(browser.get(reverse("clients:list")).content.decode(), client),
        _count(browser.get(reverse("dashboard")).content.decode()),
    ]

    for text in pages:
        assert text
        for polish in ("Token KSeF działa", "tokeny przestają", "klient traci", "token do"):
            assert polish not in text
    banner_text, _row_text, count_text = pages
    for text in (banner_text, count_text):
        assert not set("ąćęłńóśźż") & set(text.lower()), text
