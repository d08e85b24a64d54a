"""The confirm form's mode choice: online, offline24, and the outage's mode while one is in
force; why offline issuance is impossible shown before anything is accepted; a refusal
changes nothing; another office's job 404, an unassigned accountant 404."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone

from invoices.models import KsefOutage, OutgoingInvoice, SendJob
from invoices.sending import offline
from tests.invoices.sending.offline_core import checked_job, store_offline, verify_kod_ii
from tests.invoices.sending.support import seller

pytestmark = pytest.mark.django_db


@pytest.fixture
def sending_client(office, accountant):  # type: ignore[no-untyped-def]
    client = seller(office)
    client.assigned_accountants.set([accountant])
    return client


def _urls(job: SendJob) -> tuple[str, str]:
    args = [job.client_id, job.pk]
    return reverse("invoices:send_job", args=args), reverse("invoices:send_confirm", args=args)


def test_the_confirm_form_offers_offline24_and_issues_it(login, accountant, sending_client):
    signer = store_offline(sending_client.office, sending_client)
    job = checked_job(sending_client, ["FV/W/1/2026"])
    page_url, confirm_url = _urls(job)
    http = login(accountant)

    page = http.get(page_url).content.decode()
    assert 'name="mode" value="online"' in page and 'name="mode" value="offline24"' in page
    assert 'value="offline"' not in page  # no outage in force
    assert "Wystawienie offline jest niemożliwe" not in page

    response = http.post(confirm_url, {"mode": "offline24"}, follow=True)
    assert "Wystawiono 1 fakturę w trybie offline" in response.content.decode()
    invoice = job.invoices.get()
    assert invoice.invoicing_mode == "offline24" and invoice.state == OutgoingInvoice.State.QUEUED
    verify_kod_ii(
        invoice.certificate_url, bytes(invoice.xml), signer.certificate, sending_client.nip
    )


def test_the_form_warns_when_offline24_would_make_invoices_late_and_says_how_many(
    login, accountant, sending_client
):
    store_offline(sending_client.office, sending_client)
    today = offline.local_day(timezone.now())
    on_time = checked_job(sending_client, ["FV/W/1/2026"], day=today)
    late_one = checked_job(sending_client, ["FV/W/2/2026"], day=date(2026, 2, 13))
    late_two = checked_job(sending_client, ["FV/W/3/2026", "FV/W/4/2026"], day=date(2026, 2, 13))
    http = login(accountant)

    assert "send-offline24-late" not in http.get(_urls(on_time)[0]).content.decode()
    one = http.get(_urls(late_one)[0]).content.decode()
    assert "Dla 1 faktury termin trybu offline24" in one and "16 lutego 2026" in one
    assert 'aria-describedby="send-mode-offline24-help send-offline24-late"' in one
    two = http.get(_urls(late_two)[0]).content.decode()
    assert "Dla 2 faktur termin trybu offline24" in two and "najwcześniej 16 lutego 2026" in two
    # A warning, not a refusal: an invoice already given to the buyer still goes offline.
    http.post(_urls(late_one)[1], {"mode": "offline24"})
    assert late_one.invoices.get().offline_deadline == date(2026, 2, 16)


def test_without_an_offline_certificate_the_reason_shows_and_nothing_is_issued(
    login, accountant, sending_client
):
    job = checked_job(sending_client, ["FV/W/2/2026"])
    page_url, confirm_url = _urls(job)
    http = login(accountant)

    page = http.get(page_url).content.decode()
    assert "Wystawienie offline jest niemożliwe" in page and "certyfikatu offline" in page
    assert 'value="offline24" id="send-mode-offline24"' in page
    assert page.count(" disabled") >= 1

    response = http.post(confirm_url, {"mode": "offline24"}, follow=True)
    assert "certyfikatu offline" in response.content.decode()
    job.refresh_from_db()
    assert job.state == SendJob.State.CHECKED
    assert job.invoices.get().state == OutgoingInvoice.State.DRAFT


def test_the_outage_mode_appears_only_while_the_outage_lasts(login, accountant, sending_client):
    store_offline(sending_client.office, sending_client)
    job = checked_job(sending_client, ["FV/W/3/2026"])
    page_url, confirm_url = _urls(job)
    http = login(accountant)

    response = http.post(confirm_url, {"mode": "offline"}, follow=True)
    assert "trwającej niedostępności" in response.content.decode()
    assert job.invoices.get().state == OutgoingInvoice.State.DRAFT

    offline.outage_begin(KsefOutage.Kind.UNAVAILABLE, KsefOutage.Source.DECLARED)
    assert 'name="mode" value="offline"' in http.get(page_url).content.decode()
    http.post(confirm_url, {"mode": "offline"})
    invoice = job.invoices.get()
    assert invoice.invoicing_mode == "offline" and invoice.outage_id is not None


def test_an_unknown_mode_changes_nothing(login, accountant, sending_client):
    job = checked_job(sending_client, ["FV/W/4/2026"])
    _page, confirm_url = _urls(job)
    response = login(accountant).post(confirm_url, {"mode": "papier"}, follow=True)
    assert "Nieznany tryb" in response.content.decode()
    assert job.invoices.get().state == OutgoingInvoice.State.DRAFT


@pytest.mark.parametrize("persona", ["unassigned_accountant", "outsider"])
def test_others_get_404_and_nothing_is_issued(request, login, persona, sending_client):
    store_offline(sending_client.office, sending_client)
    job = checked_job(sending_client, ["FV/W/5/2026"])
    page_url, confirm_url = _urls(job)
    http = login(request.getfixturevalue(persona))
    assert http.get(page_url).status_code == 404
    assert http.post(confirm_url, {"mode": "offline24"}).status_code == 404
    assert job.invoices.get().state == OutgoingInvoice.State.DRAFT
