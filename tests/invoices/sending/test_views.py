"""The "Wyślij faktury" screens: upload, checks file by file before anything is sent,
confirm, the job's progress (HTMX polling that stops when the job ends), the UPO; and who
may reach them (assigned accountant, manager, admin; others 404; wrong method 405)."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from invoices.models import ClientInvoice, OutgoingInvoice, SendJob, SubjectType
from tests.factories import make_client
from tests.invoices.sending.support import example, queued_job, seller, sendsim_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def sending_client(office, accountant):  # type: ignore[no-untyped-def]
    client = seller(office)
    client.assigned_accountants.set([accountant])
    return client


def _zip(*files: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files:
            archive.writestr(name, content)
    return buffer.getvalue()


def _upload(http, client, *files: tuple[str, bytes]):  # type: ignore[no-untyped-def]
    uploads = [SimpleUploadedFile(name, content) for name, content in files]
    return http.post(reverse("invoices:send", args=[client.pk]), {"invoice_files": uploads})


def test_an_upload_is_checked_file_by_file_and_nothing_is_sent_before_confirming(
    login, accountant, sending_client
):
    http = login(accountant)
    bad = example(sending_client, "FV/2").replace(sending_client.nip.encode(), b"9999999999", 1)
    response = _upload(
        http,
        sending_client,
        ("paczka.zip", _zip(("FV-1.xml", example(sending_client, "FV/1")), ("obcy.xml", bad))),
    )

    job = SendJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("invoices:send_job", args=[sending_client.pk, job.pk])
    page = http.get(response["Location"]).content.decode()
    assert "paczka.zip/obcy.xml" in page and "Sprzedawcą w pliku jest NIP 9999999999" in page
    assert "Wyślij 1 fakturę do KSeF" in page
    assert job.state == SendJob.State.CHECKED
    assert job.invoices.get().state == OutgoingInvoice.State.DRAFT


def test_confirming_sends_and_the_job_page_shows_the_ksef_number_and_the_upo(
    login, accountant, sending_client, sendsim, monkeypatch, django_capture_on_commit_callbacks
):
    from invoices.sending import sender as sender_module

    monkeypatch.setattr(sender_module, "Sender", lambda: sendsim.sender())
    http = login(accountant)
    _upload(http, sending_client, ("FV-1.xml", example(sending_client, "FV/1")))
    job = SendJob.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        response = http.post(reverse("invoices:send_confirm", args=[sending_client.pk, job.pk]))

    assert response.status_code == 302
    sent = job.invoices.get()
    assert sent.state == OutgoingInvoice.State.SENT
    page = http.get(reverse("invoices:send_job", args=[sending_client.pk, job.pk])).content
    assert sent.ksef_number.encode() in page
    upo = http.get(reverse("invoices:outgoing_upo", args=[sending_client.pk, sent.pk]))
    assert upo.status_code == 200 and upo["Content-Type"] == "application/xml"
    assert sent.ksef_number.encode() in upo.content


@pytest.fixture
def sent_and_bought(  # type: ignore[no-untyped-def]
    login,
    office,
    accountant,
    sending_client,
    sendsim,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    """The accountant's logged-in client, one invoice they sent through the screens, and
    the same invoice as a purchase of another client of the office (as the buyer's sync
    would link it)."""
    http = login(accountant)
    capture = django_capture_on_commit_callbacks
    from invoices.sending import sender as sender_module

    monkeypatch.setattr(sender_module, "Sender", lambda: sendsim.sender())
    _upload(http, sending_client, ("FV-1.xml", example(sending_client, "FV/1")))
    job = SendJob.objects.get()
    with capture(execute=True):
        http.post(reverse("invoices:send_confirm", args=[sending_client.pk, job.pk]))
    sent = job.invoices.get()
    assert sent.invoice is not None
    buyer = make_client(office, assigned=[accountant])
    ClientInvoice.objects.create(
        client=buyer,
        invoice=sent.invoice,
        subject_type=SubjectType.SUBJECT2,
        issue_date=sent.invoice.issue_date,
        invoicing_date=sent.invoice.invoicing_date,
        net_amount=sent.invoice.net_amount,
        vat_amount=sent.invoice.vat_amount,
        gross_amount=sent.invoice.gross_amount,
    )
    return http, sent, buyer


def test_a_sent_invoice_is_in_the_clients_sales_list_with_its_upo_and_only_there(
    sent_and_bought, sending_client
):
    http, sent, buyer = sent_and_bought
    upo_url = reverse("invoices:outgoing_upo", args=[sending_client.pk, sent.pk])

    sales = http.get(reverse("invoices:client", args=[sending_client.pk]) + "?role=sales")
    purchases = http.get(reverse("invoices:client", args=[buyer.pk]) + "?role=purchases")

    assert sent.ksef_number in sales.content.decode()
    assert upo_url in sales.content.decode()
    assert sent.ksef_number in purchases.content.decode()
    assert "upo-link" not in purchases.content.decode()
    assert http.get(upo_url).status_code == 200
    detail = http.get(reverse("invoices:detail", args=[sent.invoice.pk])).content.decode()
    assert f'href="{upo_url}"' in detail and "Pobierz UPO" in detail


def test_the_invoice_page_offers_the_upo_only_to_who_sees_the_seller(
    sent_and_bought, sending_client
):
    http, sent, _buyer = sent_and_bought
    sending_client.assigned_accountants.clear()

    detail = http.get(reverse("invoices:detail", args=[sent.invoice.pk]))

    assert detail.status_code == 200  # seen as the buyer's purchase
    assert "Pobierz UPO" not in detail.content.decode()


def test_the_progress_fragment_polls_while_busy_and_stops_when_done(
    login, accountant, sending_client
):
    job = queued_job(sending_client, [("FV-1.xml", example(sending_client, "FV/1"))])
    http = login(accountant)
    url = reverse("invoices:send_job", args=[sending_client.pk, job.pk])

    busy = http.get(url, HTTP_HX_REQUEST="true")
    assert busy.status_code == 200 and b'hx-trigger="every 2s"' in busy.content
    assert b"<html" not in busy.content
    SendJob.objects.filter(pk=job.pk).update(state=SendJob.State.DONE)
    done = http.get(url, HTTP_HX_REQUEST="true")
    assert done.status_code == 286 and b"every 2s" not in done.content


def test_a_client_without_a_credential_gets_the_reason_instead_of_the_form(
    login, accountant, office
):
    from tests.factories import make_client

    client = make_client(office, assigned=[accountant], access_model="client")
    page = login(accountant).get(reverse("invoices:send", args=[client.pk])).content.decode()

    assert "Brak aktywnego poświadczenia" in page and "send-upload-form" not in page


@pytest.mark.parametrize("persona", ["manager", "admin_member"])
def test_managers_and_admins_may_send_for_any_client(request, login, persona, sending_client):
    http = login(request.getfixturevalue(persona))

    assert http.get(reverse("invoices:send", args=[sending_client.pk])).status_code == 200


@pytest.mark.parametrize("persona", ["unassigned_accountant", "outsider"])
def test_others_get_404_on_every_sending_page(request, login, persona, sending_client):
    job = queued_job(sending_client, [("FV-1.xml", example(sending_client, "FV/1"))])
    invoice = job.invoices.get()
    OutgoingInvoice.objects.filter(pk=invoice.pk).update(state="sent", upo_xml=b"<UPO/>")
    http = login(request.getfixturevalue(persona))

    assert http.get(reverse("invoices:send", args=[sending_client.pk])).status_code == 404
    assert _upload(http, sending_client, ("a.xml", b"<x/>")).status_code == 404
    job_url = reverse("invoices:send_job", args=[sending_client.pk, job.pk])
    assert http.get(job_url).status_code == 404
    confirm = reverse("invoices:send_confirm", args=[sending_client.pk, job.pk])
    assert http.post(confirm).status_code == 404
    upo = reverse("invoices:outgoing_upo", args=[sending_client.pk, invoice.pk])
    assert http.get(upo).status_code == 404


def test_another_clients_job_and_upo_are_404_under_this_client(
    login, manager, office, sending_client
):
    other = seller(office)
    job = queued_job(other, [("FV-1.xml", example(other, "FV/1"))])
    invoice = job.invoices.get()
    OutgoingInvoice.objects.filter(pk=invoice.pk).update(state="sent", upo_xml=b"<UPO/>")
    http = login(manager)

    assert (
        http.get(reverse("invoices:send_job", args=[sending_client.pk, job.pk])).status_code == 404
    )
    upo = reverse("invoices:outgoing_upo", args=[sending_client.pk, invoice.pk])
    assert http.get(upo).status_code == 404


def test_the_wrong_method_is_405(login, accountant, sending_client):
    job = queued_job(sending_client, [("FV-1.xml", example(sending_client, "FV/1"))])
    http = login(accountant)

    assert (
        http.get(reverse("invoices:send_confirm", args=[sending_client.pk, job.pk])).status_code
        == 405
    )
    assert (
        http.post(reverse("invoices:send_job", args=[sending_client.pk, job.pk])).status_code == 405
    )
    assert http.delete(reverse("invoices:send", args=[sending_client.pk])).status_code == 405


def test_a_failed_job_offers_to_try_again_and_trying_again_queues_its_drafts(
    login, accountant, sending_client, sendsim
):
    job = queued_job(sending_client, [("FV-1.xml", example(sending_client, "FV/1"))])
    job.invoices.update(state=OutgoingInvoice.State.DRAFT)
    SendJob.objects.filter(pk=job.pk).update(state=SendJob.State.FAILED, error_code="timeout")
    http = login(accountant)
    job_url = reverse("invoices:send_job", args=[sending_client.pk, job.pk])

    page = http.get(job_url).content.decode()
    assert 'id="send-retry-form"' in page and "Spróbuj ponownie" in page

    response = http.post(reverse("invoices:send_confirm", args=[sending_client.pk, job.pk]))

    assert response.status_code == 302
    job.refresh_from_db()
    assert job.state == SendJob.State.QUEUED and job.error_code == ""
    assert job.invoices.get().state == OutgoingInvoice.State.QUEUED
    assert 'id="send-retry-form"' not in http.get(job_url).content.decode()


def test_a_batch_invoices_upo_is_the_session_upo_page_listing_it_and_scoped(
    request, login, accountant, sending_client, sendsim
):
    from lxml import etree

    from invoices.sending import batch
    from ksef_simulator.upo import upo_schema

    files = [(f"FV-{n}.xml", example(sending_client, f"FV/{n}")) for n in range(3)]
    job = queued_job(sending_client, files)
    assert sendsim.sender("batch").run(job.pk) == SendJob.State.DONE
    sent = job.invoices.first()
    assert sent is not None and sent.upo_xml is None and sent.upo_page is not None
    url = reverse("invoices:outgoing_upo", args=[sending_client.pk, sent.pk])

    upo = login(accountant).get(url)

    assert upo.status_code == 200 and upo["Content-Type"] == "application/xml"
    assert upo_schema().validate(etree.fromstring(upo.content))
    assert sent.ksef_number in set(batch.upo_ksef_numbers(upo.content))
    sales = login(accountant).get(
        reverse("invoices:client", args=[sending_client.pk]) + "?role=sales"
    )
    assert url in sales.content.decode()
    assert sent.invoice is not None
    detail = login(accountant).get(reverse("invoices:detail", args=[sent.invoice.pk]))
    assert f'href="{url}"' in detail.content.decode()
    for persona in ("unassigned_accountant", "outsider"):
        assert login(request.getfixturevalue(persona)).get(url).status_code == 404
