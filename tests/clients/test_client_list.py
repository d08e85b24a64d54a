"""The client register: search, filters, sorting, pagination and the health row."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from certificates.models import Credential
from clients import selectors
from clients.models import LegalForm, OnboardingStage, Prerequisite
from grants.models import PermissionGrant
from invoices.models import InvoiceSyncState
from tests.factories import make_client, make_member

State = Prerequisite.State


def _rows(response):
    body = response.content.decode()
    return [part.split('"')[0] for part in body.split('id="client-')[1:] if part[0].isdigit()]


def _grant(client, *, verified_at=None, verification=""):
    return PermissionGrant.objects.create(
        client=client,
        grantee_kind=PermissionGrant.GranteeKind.ENTITY,
        grantee_identifier_type="Nip",
        grantee_identifier=client.office.nip,
        permissions=["InvoiceRead"],
        state=PermissionGrant.State.GRANTED,
        verified_at=verified_at,
        verification=verification,
    )


def _credential(client, *, valid_to):
    return Credential.objects.create(
        office=client.office, client=client, kind=Credential.Kind.AUTHENTICATION, valid_to=valid_to
    )


@pytest.fixture
def journey(office, accountant):
    """One client at each onboarding stage."""
    now = timezone.now()
    clients = {
        OnboardingStage.PREREQUISITE: make_client(
            office, name="A ZAW-FA", prerequisite=State.FILED
        ),
        OnboardingStage.CREDENTIALS: make_client(office, name="B Bez certyfikatu"),
        OnboardingStage.GRANTS: make_client(office, name="C Bez uprawnień"),
        OnboardingStage.FIRST_SYNC: make_client(office, name="D Bez synchronizacji"),
        OnboardingStage.DONE: make_client(office, name="E Gotowy", assigned=[accountant]),
    }
    for stage in (OnboardingStage.GRANTS, OnboardingStage.FIRST_SYNC, OnboardingStage.DONE):
        _credential(clients[stage], valid_to=now + datetime.timedelta(days=300))
    for stage in (OnboardingStage.FIRST_SYNC, OnboardingStage.DONE):
        _grant(clients[stage], verified_at=now)
    InvoiceSyncState.objects.create(client=clients[OnboardingStage.DONE], last_success_at=now)
    return clients


def test_the_stage_is_derived_from_prerequisite_credential_grants_and_sync(manager, journey):
    for stage, client in journey.items():
        annotated = selectors.client_detail_get(manager, client.pk)
        assert annotated.onboarding_stage == stage, client.name  # type: ignore[attr-defined]


@pytest.mark.parametrize("stage", list(OnboardingStage))
def test_filtering_by_stage_shows_exactly_the_clients_at_that_stage(login, manager, journey, stage):
    response = login(manager).get(reverse("clients:list"), {"stage": stage.value})
    assert _rows(response) == [str(journey[stage].pk)]


def test_sorting_by_stage_orders_the_journey_and_reverses(login, manager, journey):
    http = login(manager)
    order = [str(journey[s].pk) for s in OnboardingStage]
    assert _rows(http.get(reverse("clients:list"), {"sort": "stage"})) == order
    assert _rows(http.get(reverse("clients:list"), {"sort": "-stage"})) == order[::-1]


def test_the_health_row_shows_real_states(login, manager, journey):
    done = journey[OnboardingStage.DONE]
    InvoiceSyncState.objects.filter(client=done).update(
        last_error_code="ksef_unavailable", last_error_params={"status": 503}
    )
    _grant(journey[OnboardingStage.GRANTS], verification=PermissionGrant.Verification.MISSING)
    PermissionGrant.objects.filter(client=journey[OnboardingStage.GRANTS]).update(
        state=PermissionGrant.State.REVOKED
    )
    body = login(manager).get(reverse("clients:list")).content.decode()

    def row(client):
        return body.split(f'id="client-{client.pk}"')[1].split("</tr>")[0]

    fresh = row(journey[OnboardingStage.CREDENTIALS])
    assert (
        fresh.count('badge none">brak<') == 2 and "jeszcze nie" in fresh
    )  # no credential, grants, sync
    assert "Złożony" in row(journey[OnboardingStage.PREREQUISITE])
    ready = row(done)
    assert "Certyfikat uwierzytelniający KSeF (typ 1), ważny do" in ready
    assert "1 nadane, sprawdzone" in ready
    assert "błąd: KSeF zwrócił błąd serwera (HTTP 503)" in ready
    assert row(journey[OnboardingStage.GRANTS]).count('badge none">brak<') == 1  # revoked


def test_search_finds_by_name_and_by_a_nip_typed_with_dashes(login, manager, office):
    wanted = make_client(office, name="Zakład Szewski Kopyto")
    make_client(office, name="Inna firma")
    http = login(manager)
    assert _rows(http.get(reverse("clients:list"), {"q": "szewski"})) == [str(wanted.pk)]
    typed = f"{wanted.nip[:3]}-{wanted.nip[3:6]}"
    assert _rows(http.get(reverse("clients:list"), {"q": typed})) == [str(wanted.pk)]


def test_filters_by_legal_form_and_by_assigned_accountant(login, manager, office, accountant):
    jdg = make_client(office, legal_form=LegalForm.SOLE_PROPRIETORSHIP)
    mine = make_client(office, assigned=[accountant])
    http = login(manager)
    assert _rows(http.get(reverse("clients:list"), {"legal_form": "jdg"})) == [str(jdg.pk)]
    assert _rows(http.get(reverse("clients:list"), {"accountant": accountant.pk})) == [str(mine.pk)]


def test_an_accountant_lists_only_assigned_clients(login, accountant, client_company, office):
    make_client(office, name="Cudzy klient")
    assert _rows(login(accountant).get(reverse("clients:list"))) == [str(client_company.pk)]


def test_unknown_filter_values_are_ignored_instead_of_failing(login, manager, client_company):
    response = login(manager).get(
        reverse("clients:list"),
        {"stage": "x", "legal_form": "y", "archived": "z", "sort": "password", "accountant": "abc"},
    )
    assert _rows(response) == [str(client_company.pk)]


def test_pages_hold_25_clients_and_keep_the_filters(login, manager, office):
    for i in range(30):
        make_client(office, name=f"Klient {i:02d}")
    http = login(manager)
    first = http.get(reverse("clients:list"), {"q": "Klient"})
    second = http.get(reverse("clients:list"), {"q": "Klient", "page": 2})
    assert len(_rows(first)) == 25 and len(_rows(second)) == 5
    next_link = first.content.decode().split("następna")[0].rsplit("href=", 1)[1]
    assert "q=Klient" in next_link and "page=2" in next_link


def _queries_for_list(http):
    with CaptureQueriesContext(connection) as queries:
        response = http.get(reverse("clients:list"), {"sort": "stage", "page": 2})
    assert response.status_code == 200
    return len(queries)


def _add_clients(office, accountants, count):
    now = timezone.now()
    for i in range(count):
        client = make_client(
            office,
            assigned=accountants[: 1 + i % 2],
            prerequisite=State.TO_FILE if i % 3 else State.NOT_REQUIRED,
        )
        if i % 2:
            _credential(client, valid_to=now + datetime.timedelta(days=i))
            _grant(client, verified_at=now)
            InvoiceSyncState.objects.create(
                client=client, last_success_at=now, last_error_code="timeout"
            )


def test_the_list_issues_the_same_number_of_queries_for_10_and_200_clients(login, manager, office):
    accountants = [make_member(office, "accountant") for _ in range(2)]
    http = login(manager)
    _add_clients(office, accountants, 30)  # two pages either way, so the page size decides
    with_few = _queries_for_list(http)
    _add_clients(office, accountants, 170)
    with_many = _queries_for_list(http)
    assert with_few == with_many


def test_the_list_issues_the_same_number_of_queries_for_10_and_200_clients_on_one_page(
    login, manager, office, monkeypatch
):
    monkeypatch.setattr("clients.views.PAGE_SIZE", 500)  # every client rendered at once
    accountants = [make_member(office, "accountant") for _ in range(2)]
    http = login(manager)
    _add_clients(office, accountants, 10)
    with CaptureQueriesContext(connection) as few:
        http.get(reverse("clients:list"))
    _add_clients(office, accountants, 190)
    with CaptureQueriesContext(connection) as many:
        body = http.get(reverse("clients:list")).content.decode()
    assert body.count('id="client-') >= 200
    assert len(few) == len(many)
