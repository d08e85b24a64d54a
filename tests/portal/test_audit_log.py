"""Browsing the audit log (managers and admins), and the log's append-only guarantee."""

from __future__ import annotations

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from portal.audit import audit_record
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db

WARSAW = ZoneInfo("Europe/Warsaw")


@pytest.fixture
def events(office, other_office, admin_member, manager, accountant, outsider, client_company):
    """Events on three days, by two people and the system, plus one in another office."""
    with time_machine.travel(datetime.datetime(2026, 3, 1, 9, 30, tzinfo=WARSAW), tick=False):
        audit_record(office=office, actor=admin_member.user, action="staff.created", obj=manager)
    with time_machine.travel(datetime.datetime(2026, 3, 2, 23, 30, tzinfo=WARSAW), tick=False):
        audit_record(office=office, actor=manager.user, action="client.created", obj=client_company)
    with time_machine.travel(datetime.datetime(2026, 3, 3, 0, 15, tzinfo=WARSAW), tick=False):
        audit_record(office=office, actor=None, action="grants.verified", obj=client_company)
        audit_record(office=other_office, actor=outsider.user, action="staff.created", obj=outsider)


def _rows(response) -> list[str]:  # type: ignore[no-untyped-def]
    body = response.content.decode()
    body = body[body.index('id="audit-results"') :]
    return [" ".join(r.split()) for r in body.split("<tr>")[2:]]  # skip the header row


def test_a_manager_reads_the_offices_log_newest_first_in_warsaw_time(login, manager, events):
    response = login(manager).get(reverse("audit:list"))

    rows = _rows(response)
    assert response.status_code == 200
    assert "<html" in response.content.decode()
    assert len(rows) == 3
    assert "03.03.2026 00:15" in rows[0] and "system" in rows[0]
    assert "Piekarnia Pod Lipą" in rows[1] and "Marek Kierownik" in rows[1]
    assert "Dodano pracownika" in rows[2] and "Anna Adminowska" in rows[2]
    assert "Olga Obca" not in response.content.decode()


def test_an_admin_reads_the_log_too(login, admin_member, events):
    assert len(_rows(login(admin_member).get(reverse("audit:list")))) == 3


def test_an_accountant_may_not_read_the_log(login, accountant, events):
    assert login(accountant).get(reverse("audit:list")).status_code == 403


def test_the_log_refuses_a_post(login, manager):
    assert login(manager).post(reverse("audit:list")).status_code == 405


def test_filtering_by_action(login, manager, events):
    rows = _rows(login(manager).get(reverse("audit:list"), {"action": "client.created"}))

    assert len(rows) == 1 and "Piekarnia Pod Lipą" in rows[0]


def test_filtering_by_actor_offers_only_people_of_the_office(login, manager, admin_member, events):
    client = login(manager)
    page = client.get(reverse("audit:list")).content.decode()

    rows = _rows(client.get(reverse("audit:list"), {"actor": admin_member.user.pk}))

    assert "Olga Obca" not in page
    assert len(rows) == 1 and "Anna Adminowska" in rows[0]


def test_filtering_by_days_uses_whole_days_in_warsaw(login, manager, events):
    rows = _rows(
        login(manager).get(
            reverse("audit:list"), {"date_from": "2026-03-02", "date_to": "2026-03-02"}
        )
    )

    # 23:30 in Warsaw on 2 March is 22:30 UTC: still 2 March for the office.
    assert len(rows) == 1 and "02.03.2026 23:30" in rows[0]


def test_filtering_by_object_text_is_case_insensitive(login, manager, events):
    rows = _rows(login(manager).get(reverse("audit:list"), {"q": "piekarnia"}))

    assert len(rows) == 2


def test_a_reversed_date_range_is_explained_and_other_filters_still_apply(login, manager, events):
    response = login(manager).get(
        reverse("audit:list"),
        {"action": "staff.created", "date_from": "2026-03-05", "date_to": "2026-03-01"},
    )

    assert "Data końcowa jest wcześniejsza niż początkowa." in response.content.decode()
    assert len(_rows(response)) == 1


def test_an_htmx_filter_returns_only_the_results(login, manager, events):
    response = login(manager).get(
        reverse("audit:list"), {"action": "staff.created"}, HTTP_HX_REQUEST="true"
    )

    body = response.content.decode()
    assert "<html" not in body
    assert body.strip().startswith('<section id="audit-results">')
    assert "1 zdarzenie" in body


def test_the_log_is_paginated_fifty_events_per_page(login, manager, office):
    for n in range(55):
        audit_record(office=office, actor=manager.user, action="test.event", details={"n": n})
    client = login(manager)

    first = client.get(reverse("audit:list"))
    second = client.get(reverse("audit:list"), {"page": 2})

    assert len(_rows(first)) == 50
    assert "Strona 1 z 2" in first.content.decode()
    assert "?page=2" in first.content.decode()
    assert len(_rows(second)) == 5


def test_an_audit_event_cannot_be_changed_or_deleted(office, manager):
    event = audit_record(office=office, actor=manager.user, action="staff.created")

    event.action = "nothing.happened"
    with pytest.raises(TypeError, match="append-only"):
        event.save()
    with pytest.raises(TypeError, match="append-only"):
        event.delete()
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).update(action="nothing.happened")
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "staff.created"


@pytest.mark.parametrize("key", ["items", "keys", "values", "get", "0"])
def test_details_render_whatever_their_keys_are_called(login, manager, office, key):
    """The weekly digest records a key "items"; template lookups must not trip on it."""
    audit_record(
        office=office,
        actor=None,
        action="reminders.digest_sent",
        details={key: [{"client": "Piekarnia"}], "count": 1},
    )
    response = login(manager).get(reverse("audit:list"))
    assert response.status_code == 200
    row = re.sub(r"<[^>]+>", " ", _rows(response)[0])
    assert f"{key}: " in row and "Piekarnia" in row and "count: 1" in " ".join(row.split())
