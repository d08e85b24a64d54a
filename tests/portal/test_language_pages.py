"""Every main page speaks one language: English pages show no Polish from the catalogue and
Polish pages no English translation, stored outcomes (checks, departures, the log) included.

The outcomes are written while Polish is active, as a background job in a Polish office
would write them, and read in English afterwards.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_noop

from certificates.models import CredentialCheck
from grants.models import GrantsCheck, StaffDepartureJob
from portal.audit import audit_record
from portal.messages import deferred, joined, to_data
from tests.certificates.expiry.factories import days_from_now, make_credential
from tests.portal.test_translations import PO, POLISH_LETTERS, parse_po

pytestmark = pytest.mark.django_db

PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\{.*?\}\}")


@pytest.fixture(scope="module")
def catalogue():  # type: ignore[no-untyped-def]
    return parse_po(PO)


def _fragments(text: str, minimum: int) -> list[str]:
    """The literal pieces of a message between its placeholders, long enough to be telling."""
    return [part.strip() for part in PLACEHOLDER.split(text) if len(part.strip()) >= minimum]


@pytest.fixture
def stored_outcomes(office, admin_member, manager, accountant, client_company):  # type: ignore[no-untyped-def]
    credential = make_credential(office, client_company, valid_to=days_from_now(20))
    with translation.override("pl"):
        ok = deferred(
            gettext_noop(
                "Połączenie działa: KSeF przyjął poświadczenie w kontekście klienta (NIP %(nip)s)."
            ),
            {"nip": client_company.nip},
        )
        check = CredentialCheck.objects.create(
            credential=credential,
            client=client_company,
            state=CredentialCheck.State.SUCCEEDED,
            message=ok,
            message_data=to_data(ok),
        )
        summary = deferred(
            gettext_noop("Sprawdzono w KSeF — %(summary)s."),
            {
                "summary": joined(
                    [
                        deferred(gettext_noop("potwierdzone: %(n)d"), {"n": 1}),
                        deferred(gettext_noop("brakujące: %(n)d"), {"n": 0}),
                    ],
                    ", ",
                )
            },
        )
        grants_check = GrantsCheck.objects.create(
            client=client_company,
            state=GrantsCheck.State.DONE,
            message=summary,
            message_data=to_data(summary),
        )
        revoked = deferred(gettext_noop("Odebrano uprawnień: %(n)d."), {"n": 2})
        job = StaffDepartureJob.objects.create(
            office=office,
            membership=accountant,
            state=StaffDepartureJob.State.DONE,
            results=[
                {
                    "client_id": client_company.pk,
                    "client_name": client_company.name,
                    "outcome": "revoked",
                    "message": revoked,
                    "message_data": to_data(revoked),
                }
            ],
        )
    audit_record(
        office=office,
        actor=None,
        actor_label="client_link:3",
        action="upload_link.used",
        obj=client_company,
    )
    audit_record(
        office=office,
        actor=manager.user,
        action="grant.requested",
        obj=client_company,
        details={"permissions": ["InvoiceWrite", "InvoiceRead"], "can_delegate": False},
    )
    audit_record(
        office=office,
        actor=None,
        action="staff.grants_revoke_finished",
        obj=accountant,
        details={"results": [[client_company.pk, "revoked"]]},
    )
    return {"check": check, "grants_check": grants_check, "job": job}


def _pages(client, outcomes, accountant):  # type: ignore[no-untyped-def]
    return {
        "dashboard": reverse("dashboard"),
        "client list": reverse("clients:list"),
        "client page": reverse("clients:detail", args=[client.pk]),
        "new client": reverse("clients:create"),
        "client import": reverse("clients:import"),
        "ZAW-FA": reverse("clients:prerequisite", args=[client.pk]),
        "credentials": reverse("certificates:client", args=[client.pk]),
        "office credentials": reverse("certificates:office"),
        "credential check": reverse("certificates:check", args=[outcomes["check"].pk]),
        "grants": reverse("grants:client", args=[client.pk]),
        "grants check": reverse("grants:check", args=[outcomes["grants_check"].pk]),
        "departure job": reverse("grants:departure_job", args=[outcomes["job"].pk]),
        "client handover": reverse("clients:handover", args=[accountant.pk]),
        "invoice sync": reverse("invoices:client_sync", args=[client.pk]),
        "sync settings": reverse("invoices:settings"),
        "expiry dashboard": reverse("expiry:dashboard"),
        "reminder settings": reverse("expiry:settings"),
        "audit log": reverse("audit:list"),
        "staff": reverse("staff:list"),
        "new staff member": reverse("staff:create"),
    }


def _visible_text(body: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def test_every_main_page_in_english_shows_no_polish_from_the_ui(  # type: ignore[no-untyped-def]
    login, admin_member, accountant, client_company, stored_outcomes, catalogue
):
    browser = login(admin_member)
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    polish = {
        fragment
        for e in catalogue
        for text in (e.msgid, e.msgid_plural or "")
        for fragment in _fragments(text, 4)
        if POLISH_LETTERS.search(fragment)
    }
    found = {}
    for name, url in _pages(client_company, stored_outcomes, accountant).items():
        response = browser.get(url)
        assert response.status_code == 200, name
        text = " ".join(response.content.decode().split())
        left = sorted(f for f in polish if f in text)
        if left:
            found[name] = left
    assert not found, found


def test_every_main_page_in_polish_shows_no_english_translation(  # type: ignore[no-untyped-def]
    login, admin_member, accountant, client_company, stored_outcomes, catalogue
):
    browser = login(admin_member)
    english = {
        fragment
        for e in catalogue
        for index, text in e.msgstr.items()
        if text != (e.msgid_plural if index else e.msgid)
        for fragment in _fragments(text, 10)
        if " " in fragment and not POLISH_LETTERS.search(fragment)
    }
    found = {}
    for name, url in _pages(client_company, stored_outcomes, accountant).items():
        text = _visible_text(browser.get(url).content.decode())
        left = sorted(f for f in english if f in text)
        if left:
            found[name] = left
    assert not found, found


def test_polish_pages_count_with_the_three_polish_forms(login, manager, office):  # type: ignore[no-untyped-def]
    from tests.factories import make_client

    make_client(office)
    make_client(office)

    body = login(manager).get(reverse("clients:list")).content.decode()

    assert "2 klienci" in body and "2 klientów" not in body
