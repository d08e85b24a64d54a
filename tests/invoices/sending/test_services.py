"""Before an upload is accepted: whether the portal may send for the client (no
credential, no InvoiceWrite grant); the checked upload kept file by file; the same bytes
never queued twice; files the portal already sends refused by the checks."""

from __future__ import annotations

import pytest
from django.utils import translation

from clients.models import AccessModel
from grants.models import PermissionGrant
from invoices.models import OutgoingInvoice, SendJob
from invoices.sending import checks, services
from invoices.sending.messages import job_error_message
from tests.factories import make_client
from tests.invoices.sending.support import example, queued_job, seller

pytestmark = pytest.mark.django_db


def test_a_client_without_a_credential_is_refused_before_any_upload(office):
    client = make_client(office, access_model=AccessModel.CLIENT_CREDENTIAL)

    assert services.send_blocked_reason(client) == "no_credential"
    with translation.override("pl"):
        assert "Brak aktywnego poświadczenia" in job_error_message("no_credential", {})


def test_an_office_model_client_without_an_invoice_write_grant_is_refused(office):
    from tests.grants.grants_support import store_seal

    client = make_client(office, access_model=AccessModel.OFFICE)
    store_seal(office, None, office.nip)

    assert services.send_blocked_reason(client) == "no_invoice_write"
    with translation.override("pl"):
        assert "InvoiceWrite" in job_error_message("no_invoice_write", {"nip": client.nip})

    PermissionGrant.objects.create(
        client=client,
        grantee_kind=PermissionGrant.GranteeKind.ENTITY,
        grantee_identifier_type="Nip",
        grantee_identifier=office.nip,
        permissions=["InvoiceRead"],
        state=PermissionGrant.State.GRANTED,
    )
    assert services.send_blocked_reason(client) == "no_invoice_write"
    PermissionGrant.objects.filter(client=client).update(permissions=["InvoiceWrite"])
    assert services.send_blocked_reason(client) == ""


def test_an_upload_keeps_its_valid_files_as_drafts_and_its_refusals_with_messages(office):
    client = seller(office)
    files = [("ok.xml", example(client, "FV/1")), ("zle.txt", b"hello")]

    unpacked = checks.unpack([checks.InvoiceFile(n, c) for n, c in files])
    job = services.send_job_create(
        actor=None,
        client=client,
        checked=checks.check_files(client, unpacked.files),
        unpack_problems=unpacked.problems,
    )

    assert job.state == SendJob.State.CHECKED
    assert (job.file_count, job.refused_count) == (2, 1)
    assert job.refusals[0]["name"] == "zle.txt"
    assert job.invoices.get().state == OutgoingInvoice.State.DRAFT


def test_the_same_file_cannot_be_queued_twice_for_a_client(office):
    client = seller(office)
    content = example(client, "FV/1")
    first_checked = checks.check_files(client, [checks.InvoiceFile("a.xml", content)])
    second_checked = checks.check_files(client, [checks.InvoiceFile("b.xml", content)])
    first = services.send_job_create(actor=None, client=client, checked=first_checked)
    second = services.send_job_create(actor=None, client=client, checked=second_checked)

    services.send_job_start(actor=None, job=first, enqueue=False)
    second = services.send_job_start(actor=None, job=second, enqueue=False)

    assert OutgoingInvoice.objects.filter(state=OutgoingInvoice.State.QUEUED).count() == 1
    assert second.refused_count == 1 and not second.invoices.exists()
    assert second.state == SendJob.State.DONE


def test_the_checks_refuse_a_file_the_portal_is_already_sending(office):
    client = seller(office)
    queued_job(client, [("a.xml", example(client, "FV/1"))])

    with translation.override("pl"):
        (same,) = checks.check_files(client, [checks.InvoiceFile("b.xml", example(client, "FV/1"))])
        other_bytes = example(client, "FV/1").replace(b"<P_1>", b"<!-- x --><P_1>", 1)
        (number,) = checks.check_files(client, [checks.InvoiceFile("c.xml", other_bytes)])

    assert [str(p) for p in same.problems] == ["Ten plik portal już wysyła albo wysłał (a.xml)."]
    assert "FV/1" in str(number.problems[0]) and "a.xml" in str(number.problems[0])


def test_a_rejected_file_may_be_sent_again(office):
    client = seller(office)
    job = queued_job(client, [("a.xml", example(client, "FV/1"))])
    job.invoices.update(state=OutgoingInvoice.State.REJECTED)

    again = queued_job(client, [("a.xml", example(client, "FV/1"))])

    assert again.invoices.get().state == OutgoingInvoice.State.QUEUED
