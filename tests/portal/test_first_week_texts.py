"""Small things a new office meets in its first week: a doubled full stop after "sp. z o.o.",
"Połączenie działa" said twice, "biuro rachunkowe Biuro Rachunkowe …" in the e-mail,
"ksef" in lower case, and "Dezaktywuj" on the admin's own row."""

from __future__ import annotations

import pytest
from django.core import mail
from django.template.loader import render_to_string
from django.urls import reverse

from certificates.models import Credential, CredentialCheck
from clients.models import LegalForm
from portal.messages import deferred
from portal.text import before_full_stop, format_sentence

pytestmark = pytest.mark.django_db


def test_a_name_ending_in_a_full_stop_is_not_followed_by_a_second_one() -> None:
    assert format_sentence("Dodano klienta %(name)s.", {"name": "Lipa sp. z o.o."}) == (
        "Dodano klienta Lipa sp. z o.o."
    )
    assert format_sentence("Dodano klienta %(name)s.", {"name": "Lipa"}) == "Dodano klienta Lipa."
    assert format_sentence("%(name)s: gotowe.", {"name": "Lipa S.A."}) == "Lipa S.A.: gotowe."
    assert before_full_stop("Nowak S.A.") == "Nowak S.A"


def test_adding_a_limited_company_says_so_with_one_full_stop(login, manager, office) -> None:
    from tests.factories import valid_nip

    response = login(manager).post(
        reverse("clients:create"),
        {
            "name": "Nowa Firma sp. z o.o.",
            "nip": valid_nip(),
            "legal_form": LegalForm.LIMITED_LIABILITY_COMPANY,
            "contact_emails": "biuro@nowa.example",
        },
        follow=True,
    )

    body = response.content.decode()
    assert "Dodano klienta Nowa Firma sp. z o.o." in body
    assert "sp. z o.o.." not in body


def test_a_stored_message_does_not_double_the_full_stop_of_a_name() -> None:
    from portal.messages import render

    stored = deferred("Zarchiwizowano: %(name)s.", {"name": "Lipa sp. z o.o."}).data
    assert render(stored) == "Zarchiwizowano: Lipa sp. z o.o."


def test_the_missing_grants_email_ends_the_office_name_with_one_full_stop(
    client_company, office
) -> None:
    office.name = "Bilans sp. z o.o."
    office.save()
    context = {"client": client_company, "office": office, "grants": [], "url": "http://x/"}

    for template in ("emails/grants/missing.txt", "emails/grants/missing.html"):
        text = render_to_string(template, context)
        assert "Bilans sp. z o.o.." not in text
        assert "Bilans sp. z o.o. Ta sama" in text


def test_a_successful_check_says_that_the_connection_works_once(
    login, accountant, client_company
) -> None:
    credential = Credential.objects.create(
        office=client_company.office, client=client_company, kind=Credential.Kind.AUTHENTICATION
    )
    check = CredentialCheck.objects.create(
        credential=credential,
        client=client_company,
        state=CredentialCheck.State.SUCCEEDED,
        message_data=deferred(
            "Połączenie działa: KSeF przyjął poświadczenie w kontekście klienta (NIP %(nip)s).",
            {"nip": client_company.nip},
        ).data,
    )

    page = login(accountant).get(reverse("certificates:check", args=[check.pk])).content.decode()

    status = page.split('class="check-status"')[1].split("</div>")[0]
    assert status.count("Połączenie działa") == 1
    assert "KSeF przyjął poświadczenie" in status


def test_the_upload_link_email_names_the_office_once(
    login, accountant, client_company, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        login(accountant).post(
            reverse("certificates:link_create", args=[client_company.pk]),
            {"kind": "authentication", "recipient_email": client_company.contact_emails[0]},
        )

    message = mail.outbox[-1]
    html = str(message.alternatives[0][0])  # type: ignore[union-attr]
    for text in (message.body, html):
        assert "biuro rachunkowe Biuro Rachunkowe" not in text
        assert "Biuro Rachunkowe Bilans prosi o przesłanie poświadczenia KSeF" in text


def test_the_expiry_gap_filter_writes_ksef_in_capitals(login, manager) -> None:
    body = login(manager).get(reverse("expiry:dashboard")).content.decode()

    assert "nadal na tokenie KSeF" in body
    assert "tokenie ksef" not in body


def test_an_admin_is_not_offered_to_deactivate_their_own_account(
    login, admin_member, manager
) -> None:
    body = login(admin_member).get(reverse("staff:list")).content.decode()

    def row(member) -> str:
        return body.split(f'id="staff-{member.pk}"')[1].split("</tr>")[0]

    assert "Dezaktywuj" not in row(admin_member)
    assert "Dezaktywuj" in row(manager)


def test_every_page_starts_with_a_skip_link_to_the_content(login, manager) -> None:
    body = login(manager).get(reverse("dashboard")).content.decode()

    assert '<a class="skip-link" href="#main">Przejdź do treści</a>' in body
    assert body.index("skip-link") < body.index('class="topbar"')
    assert 'id="main"' in body


def test_the_portal_stylesheet_draws_a_visible_focus_ring() -> None:
    from pathlib import Path

    css = (Path(__file__).resolve().parents[2] / "static" / "css" / "portal.css").read_text()
    assert ":focus-visible" in css
    assert ".skip-link:focus" in css
