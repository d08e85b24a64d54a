"""The audit log shows details in words per action, filters by client, and names actors."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from portal.audit import audit_record
from tests.factories import make_client

pytestmark = pytest.mark.django_db


def _results(response) -> str:  # type: ignore[no-untyped-def]
    body = response.content.decode()
    return body[body.index('id="audit-results"') :]


def test_a_grant_request_reads_as_permissions_in_words(login, manager, office, client_company):
    audit_record(
        office=office,
        actor=manager.user,
        action="grant.requested",
        obj=client_company,
        details={
            "client_nip": client_company.nip,
            "grantee": "90010112345",
            "mode": "direct",
            "permissions": ["InvoiceWrite", "InvoiceRead"],
            "can_delegate": False,
        },
    )

    results = _results(login(manager).get(reverse("audit:list")))

    assert "Uprawnienia: wystawianie faktur, przeglądanie faktur." in results
    assert "can_delegate" not in results and "InvoiceWrite" not in results


def test_a_finished_departure_counts_clients_instead_of_showing_raw_results(
    login, manager, office, accountant
):
    audit_record(
        office=office,
        actor=None,
        action="staff.grants_revoke_finished",
        obj=accountant,
        details={"job_id": 7, "results": [[21, "revoked"], [22, "revoked"], [23, "failed"]]},
    )

    results = _results(login(manager).get(reverse("audit:list")))

    assert "Odebrano u 2 klientów." in results
    assert "Nie udało się u 1 klienta." in results
    assert "[[21" not in results and "revoked" not in results and "job_id" not in results


def test_an_upload_with_warnings_reads_as_labelled_words(login, manager, office, client_company):
    audit_record(
        office=office,
        actor=manager.user,
        action="credential.uploaded",
        obj=client_company,
        details={
            "kind": "authentication",
            "client_id": client_company.pk,
            "fingerprint": "ab" * 32,
            "valid_to": "2027-03-01",
            "source": "staff",
            "warnings": ["Certyfikat wygasa za 20 dni."],
        },
    )

    results = _results(login(manager).get(reverse("audit:list")))

    assert "rodzaj: certyfikat uwierzytelniający" in results
    assert "ważny do: 01.03.2027" in results
    assert "ostrzeżenia: Certyfikat wygasa za 20 dni." in results
    assert "['" not in results and "ab" * 32 not in results


def test_the_log_filters_by_client(login, manager, office, client_company):
    other = make_client(office, name="Warsztat Inny sp.j.")
    audit_record(office=office, actor=manager.user, action="client.updated", obj=client_company)
    audit_record(office=office, actor=manager.user, action="client.archived", obj=other)

    response = login(manager).get(reverse("audit:list"), {"client": str(other.pk)})

    results = _results(response)
    assert "Zarchiwizowano klienta" in results
    assert "Zmieniono dane klienta" not in results
    assert f'<option value="{client_company.pk}"' in response.content.decode()


def test_events_on_a_clients_objects_belong_to_that_client(office, manager, client_company):
    from clients.models import Prerequisite

    prerequisite = Prerequisite.objects.get(client=client_company)

    event = audit_record(
        office=office, actor=manager.user, action="prerequisite.filed", obj=prerequisite
    )

    assert event.client_id == client_company.pk


def test_a_client_links_upload_is_attributed_in_the_readers_language(
    login, manager, office, client_company
):
    audit_record(
        office=office,
        actor=None,
        actor_label="client_link:12",
        action="upload_link.used",
        obj=client_company,
    )
    browser = login(manager)

    polish = _results(browser.get(reverse("audit:list")))
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = _results(browser.get(reverse("audit:list")))

    assert "klient (link jednorazowy #12)" in polish
    assert "client (one-time link #12)" in english and "jednorazowy" not in english


def test_english_dates_are_day_first_on_a_24_hour_clock_in_warsaw_time(login, manager, office):
    moment = datetime.datetime(2026, 2, 12, 2, 52, tzinfo=ZoneInfo("Europe/Warsaw"))
    with time_machine.travel(moment, tick=False):
        audit_record(office=office, actor=manager.user, action="staff.created", obj=manager)
    browser = login(manager)
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    results = _results(browser.get(reverse("audit:list")))

    assert "12/02/2026 02:52" in results
    assert "a.m." not in results
