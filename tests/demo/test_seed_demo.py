"""`manage.py seed_demo`: a demo office to click through, safe to run twice."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from certificates.models import Credential
from clients.models import Client, LegalForm, Prerequisite
from portal.models import AuditEvent, Membership, Office
from portal.validators import validate_nip

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", "--no-simulator", stdout=out)
    return out.getvalue()


def test_it_creates_an_office_with_every_role_and_prints_the_logins(client):
    output = _seed()

    office = Office.objects.get(name="Biuro Rachunkowe Demo")
    roles = sorted(Membership.objects.filter(office=office).values_list("role", flat=True))
    assert roles == ["accountant", "accountant", "admin", "manager"]
    assert "http://127.0.0.1:8000" in output
    for username in ("admin", "kierownik", "ksiegowa", "ksiegowy"):
        assert username in output
        assert client.login(username=username, password="Demo-KSeF-2026!")


def test_its_clients_are_valid_varied_and_assigned_to_accountants():
    _seed()

    clients = list(Client.objects.prefetch_related("assigned_accountants"))
    assert len(clients) == 20
    for client in clients:
        validate_nip(client.nip)
        assert [m.role for m in client.assigned_accountants.all()] == ["accountant"]
    assert len({c.legal_form for c in clients}) >= 10
    assert LegalForm.SOLE_PROPRIETORSHIP in {c.legal_form for c in clients}
    states = {p.state for p in Prerequisite.objects.all()}
    assert states == {"not_required", "to_file", "filed", "confirmed"}
    for confirmed in Prerequisite.objects.filter(state__in=["filed", "confirmed"]):
        assert confirmed.person_last_name and confirmed.person_identifier and confirmed.tax_office


def test_running_it_twice_changes_nothing():
    _seed()
    counts = (Client.objects.count(), Membership.objects.count(), AuditEvent.objects.count())

    output = _seed()

    assert (
        Client.objects.count(),
        Membership.objects.count(),
        AuditEvent.objects.count(),
    ) == counts
    assert "0 new clients" in output


def test_the_demo_leaves_a_real_audit_trail():
    _seed()

    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"staff.created", "client.created", "prerequisite.filed", "demo.seeded"} <= actions


def test_without_the_simulator_it_stores_no_credentials():
    _seed()

    assert not Credential.objects.exists()
    assert not Client.objects.exclude(access_model="").exists()
