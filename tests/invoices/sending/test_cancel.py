"""invoices:send_cancel: a checked job (or a failed one with nothing on its way to KSeF)
is cancelled, its drafts deleted so the same files can be uploaded again, with an audit
record; a queued or sending job, or one holding an invoice issued offline, is refused with
the reason and changes nothing. Who may: whoever may work on the client (404/403/405)."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from invoices.models import OutgoingInvoice, SendJob
from invoices.sending import checks, services
from portal.models import AuditEvent
from tests.invoices.sending.offline_support import offline_invoice
from tests.invoices.sending.support import example

pytestmark = pytest.mark.django_db
State = SendJob.State


def checked_job(client, *numbers: str) -> SendJob:  # type: ignore[no-untyped-def]
    files = [checks.InvoiceFile(f"{n.replace('/', '-')}.xml", example(client, n)) for n in numbers]
    return services.send_job_create(
        actor=None, client=client, checked=checks.check_files(client, files)
    )


def cancel(http, job: SendJob):  # type: ignore[no-untyped-def]
    return http.post(reverse("invoices:send_cancel", args=[job.client_id, job.pk]))


def _messages(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_cancelling_a_checked_job_deletes_its_drafts_and_records_it(
    login, accountant, client_company
):  # type: ignore[no-untyped-def]
    job = checked_job(client_company, "FV/1", "FV/2")
    assert job.invoices.count() == 2

    response = cancel(login(accountant), job)

    assert response.status_code == 302
    assert response["Location"] == reverse("invoices:send_job", args=[client_company.pk, job.pk])
    job.refresh_from_db()
    assert job.state == State.CANCELLED and job.finished_at is not None
    assert not OutgoingInvoice.objects.filter(job=job).exists()
    event = AuditEvent.objects.get(action="invoices.send_cancelled")
    assert event.actor == accountant.user
    assert event.details == {
        "drafts_deleted": 2,
        "files": ["FV-1.xml", "FV-2.xml"],
        "was": "checked",
    }
    assert "usunięto 2 " in _messages(response)[0]


def test_the_same_files_can_be_uploaded_again_after_cancelling(login, accountant, client_company):  # type: ignore[no-untyped-def]
    job = checked_job(client_company, "FV/1")
    cancel(login(accountant), job)

    again = checked_job(client_company, "FV/1")
    started = services.send_job_start(actor=None, job=again, enqueue=False)

    assert started.state == State.QUEUED
    assert again.invoices.get().state == OutgoingInvoice.State.QUEUED


@pytest.mark.parametrize("state", [State.QUEUED, State.SENDING, State.DONE, State.CANCELLED])
def test_a_job_past_checking_is_not_cancelled(state, login, accountant, client_company):  # type: ignore[no-untyped-def]
    job = checked_job(client_company, "FV/1")
    SendJob.objects.filter(pk=job.pk).update(state=state)

    response = cancel(login(accountant), job)

    job.refresh_from_db()
    assert job.state == state and job.invoices.count() == 1
    assert "nie można anulować" in _messages(response)[0] or "już" in _messages(response)[0]
    assert not AuditEvent.objects.filter(action="invoices.send_cancelled").exists()


def test_a_queued_job_says_it_is_in_the_queue(login, accountant, client_company):  # type: ignore[no-untyped-def]
    job = services.send_job_start(
        actor=None, job=checked_job(client_company, "FV/1"), enqueue=False
    )
    response = cancel(login(accountant), job)
    assert _messages(response) == ["Tej wysyłki nie można anulować: jest w kolejce do KSeF."]


def test_a_failed_job_with_nothing_sending_is_cancelled_keeping_what_ksef_answered(
    login, accountant, client_company
):  # type: ignore[no-untyped-def]
    job = checked_job(client_company, "FV/1", "FV/2", "FV/3")
    first, second, _third = job.invoices.order_by("position")
    OutgoingInvoice.objects.filter(pk=first.pk).update(state=OutgoingInvoice.State.SENT)
    OutgoingInvoice.objects.filter(pk=second.pk).update(state=OutgoingInvoice.State.REJECTED)
    SendJob.objects.filter(pk=job.pk).update(state=State.FAILED)

    cancel(login(accountant), job)

    job.refresh_from_db()
    assert job.state == State.CANCELLED
    assert set(job.invoices.values_list("pk", flat=True)) == {first.pk, second.pk}


def test_a_failed_job_with_an_invoice_sending_is_refused(login, accountant, client_company):  # type: ignore[no-untyped-def]
    job = checked_job(client_company, "FV/1", "FV/2")
    OutgoingInvoice.objects.filter(pk=job.invoices.first().pk).update(  # type: ignore[union-attr]
        state=OutgoingInvoice.State.SENDING
    )
    SendJob.objects.filter(pk=job.pk).update(state=State.FAILED)

    response = cancel(login(accountant), job)

    job.refresh_from_db()
    assert job.state == State.FAILED and job.invoices.count() == 2
    assert "mogła już dotrzeć do KSeF" in _messages(response)[0]


def test_a_job_holding_an_invoice_issued_offline_is_refused(login, accountant, client_company):  # type: ignore[no-untyped-def]
    job = SendJob.objects.create(client=client_company, state=State.FAILED)
    issued = offline_invoice(
        client_company, deadline=None, job=job, state=OutgoingInvoice.State.DRAFT
    )

    response = cancel(login(accountant), job)

    assert OutgoingInvoice.objects.filter(pk=issued.pk).exists()
    assert "wystawione w trybie offline" in _messages(response)[0]


def test_the_job_page_offers_cancel_only_where_it_is_allowed(login, accountant, client_company):  # type: ignore[no-untyped-def]
    http = login(accountant)
    job = checked_job(client_company, "FV/1")
    page = reverse("invoices:send_job", args=[client_company.pk, job.pk])
    assert 'id="send-cancel-form"' in http.get(page).content.decode()
    services.send_job_start(actor=None, job=job, enqueue=False)
    assert 'id="send-cancel-form"' not in http.get(page).content.decode()


@pytest.mark.parametrize("persona", ["manager", "admin_member"])
def test_managers_and_admins_may_cancel(persona, request, login, client_company):  # type: ignore[no-untyped-def]
    job = checked_job(client_company, "FV/1")
    cancel(login(request.getfixturevalue(persona)), job)
    job.refresh_from_db()
    assert job.state == State.CANCELLED


@pytest.mark.parametrize("persona", ["unassigned_accountant", "outsider"])
def test_others_get_404_and_change_nothing(persona, request, login, client_company):  # type: ignore[no-untyped-def]
    job = checked_job(client_company, "FV/1")
    assert cancel(login(request.getfixturevalue(persona)), job).status_code == 404
    job.refresh_from_db()
    assert job.state == State.CHECKED and job.invoices.count() == 1


def test_another_clients_job_under_this_client_is_404(office, accountant, login, client_company):  # type: ignore[no-untyped-def]
    from tests.factories import make_client

    job = checked_job(client_company, "FV/1")
    mine = make_client(office, assigned=[accountant])
    url = reverse("invoices:send_cancel", args=[mine.pk, job.pk])
    assert login(accountant).post(url).status_code == 404


def test_a_user_outside_any_office_gets_403(client, django_user_model, client_company):  # type: ignore[no-untyped-def]
    job = checked_job(client_company, "FV/1")
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    assert cancel(client, job).status_code == 403


def test_get_is_405_and_a_post_without_csrf_is_403(accountant, client_company):  # type: ignore[no-untyped-def]
    from django.test import Client as HttpClient

    job = checked_job(client_company, "FV/1")
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(accountant.user)
    url = reverse("invoices:send_cancel", args=[client_company.pk, job.pk])
    assert http.get(url).status_code == 405
    assert http.post(url).status_code == 403
    job.refresh_from_db()
    assert job.state == State.CHECKED


def test_htmx_is_sent_to_the_job_page(login, accountant, client_company):  # type: ignore[no-untyped-def]
    job = checked_job(client_company, "FV/1")
    response = login(accountant).post(
        reverse("invoices:send_cancel", args=[client_company.pk, job.pk]), HTTP_HX_REQUEST="true"
    )
    assert response["HX-Redirect"] == reverse("invoices:send_job", args=[client_company.pk, job.pk])
