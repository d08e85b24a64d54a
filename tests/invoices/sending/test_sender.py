"""The sender end to end against the in-process KSeF simulator: every official FA(3)
sample gets a KSeF number and a UPO valid against the official XSD, sent invoices are in
the client's sales list once (also after the sync fetches them), KSeF's rejections are
explained, and after a 5xx, a timeout or a killed worker after the POST every invoice
still ends with exactly one KSeF number."""

from __future__ import annotations

import pytest
from lxml import etree

from invoices.models import ClientInvoice, Invoice, OutgoingInvoice, SendJob
from invoices.sending.messages import rejection_message
from invoices.sending.sender import LEASE, ComeBack
from invoices.sync.runner import run_until_done
from ksef.schemas import schema_dir
from portal.models import AuditEvent
from tests.invoices.documents.support import sample_bytes
from tests.invoices.sending.support import (
    FA3_SAMPLES,
    WorkerKilled,
    as_sold_by,
    example,
    queued_job,
    seller,
    sendsim_fixture,  # noqa: F401 - fixture
)
from tests.invoices.sync.support import cursor_ids

pytestmark = pytest.mark.django_db

State = OutgoingInvoice.State


def _upo_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(schema_dir("upo") / "upo-v4-3.xsd")))


ATTACHMENT_SAMPLE = "invoice-template-fa-3-with-attachment.xml"


def test_every_official_fa3_sample_gets_a_ksef_number_and_a_valid_upo(sendsim, office):
    """Online, that is (forced: a job with an attachment goes in batch by itself, see
    test_batch): KSeF takes an invoice with an attachment only in a batch session, and
    says so with 415, which the portal explains."""
    client = seller(office)
    files = [
        (name, as_sold_by(sample_bytes(name), client.nip, number=f"S/{n}"))
        for n, name in enumerate(FA3_SAMPLES)
    ]
    job = queued_job(client, files)
    assert job.invoices.count() == len(FA3_SAMPLES)

    assert sendsim.sender("online").run(job.pk) == SendJob.State.DONE

    job.refresh_from_db()
    assert (job.sent_count, job.rejected_count) == (len(FA3_SAMPLES) - 1, 1)
    schema = _upo_schema()
    for invoice in job.invoices.exclude(file_name=ATTACHMENT_SAMPLE):
        assert invoice.state == State.SENT, (invoice.file_name, invoice.status_description)
        assert invoice.ksef_number and invoice.acquisition_date
        upo = etree.fromstring(bytes(invoice.upo_xml or b""))
        assert schema.validate(upo), (invoice.file_name, schema.error_log)
        assert invoice.ksef_number.encode() in bytes(invoice.upo_xml or b"")
    attachment = job.invoices.get(file_name=ATTACHMENT_SAMPLE)
    assert attachment.state == State.REJECTED and attachment.status_code == 415
    assert "wsadow" in rejection_message(415)
    assert sorted(sendsim.ksef_numbers().values()) == [1] * (len(FA3_SAMPLES) - 1)


def test_a_sent_invoice_is_in_the_sales_list_once_even_after_the_sync_fetches_it(sendsim, office):
    client = seller(office)
    job = queued_job(client, [("FV-1.xml", example(client, "FV/1/2026"))])
    sendsim.sender().run(job.pk)
    sent = job.invoices.get()
    assert sent.invoice is not None and sent.invoice.ksef_number == sent.ksef_number
    links = ClientInvoice.objects.filter(client=client, subject_type="Subject1")
    assert links.count() == 1

    sendsim.clock.advance(3600)
    report = run_until_done(sendsim.sync.engine(), cursor_ids(client, clock=sendsim.clock))
    assert report.failed == []

    assert Invoice.objects.filter(ksef_number=sent.ksef_number).count() == 1
    assert links.count() == 1
    assert bytes(Invoice.objects.get(ksef_number=sent.ksef_number).xml) == bytes(sent.xml)


def test_a_duplicate_number_is_rejected_by_ksef_with_its_code_explained(sendsim, office):
    client = seller(office)
    first = queued_job(client, [("FV-1.xml", example(client, "FV/7/2026"))])
    sendsim.sender().run(first.pk)
    # Same number, other bytes, and the portal's own duplicate check bypassed: KSeF's 440.
    second = queued_job(client, [("FV-1b.xml", example(client, "FV/8/2026"))])
    OutgoingInvoice.objects.filter(job=second).update(
        xml=example(client, "FV/7/2026").replace(b"<P_1>", b"<!-- b --><P_1>", 1)
    )
    from ksef.crypto import sha256_b64

    invoice = second.invoices.get()
    OutgoingInvoice.objects.filter(pk=invoice.pk).update(
        invoice_hash=sha256_b64(bytes(OutgoingInvoice.objects.get(pk=invoice.pk).xml))
    )

    sendsim.sender().run(second.pk)

    invoice.refresh_from_db()
    assert invoice.state == State.REJECTED and invoice.status_code == 440
    assert "Duplikat" in rejection_message(invoice.status_code)
    assert not invoice.ksef_number and invoice.invoice is None
    second.refresh_from_db()
    assert (second.sent_count, second.rejected_count) == (0, 1)


@pytest.mark.parametrize("kind", ["500", "timeout"])
def test_a_lost_answer_after_the_post_never_gives_an_invoice_two_ksef_numbers(
    sendsim, office, kind
):
    client = seller(office)
    files = [(f"FV-{n}.xml", example(client, f"FV/{n}/2026")) for n in range(1, 4)]
    job = queued_job(client, files)
    sendsim.transport.strike = (2, kind)

    assert sendsim.sender().run(job.pk) == SendJob.State.DONE

    assert job.invoices.filter(state=State.SENT).count() == 3
    assert sorted(sendsim.ksef_numbers().values()) == [1, 1, 1]
    numbers = set(job.invoices.values_list("ksef_number", flat=True))
    assert len(numbers) == 3


def test_a_worker_killed_between_the_post_and_storing_the_reference_resends_nothing(
    sendsim, office
):
    client = seller(office)
    files = [(f"FV-{n}.xml", example(client, f"FV/{n}/2026")) for n in range(1, 4)]
    job = queued_job(client, files)
    sendsim.transport.strike = (2, "crash")

    with pytest.raises(WorkerKilled):
        sendsim.sender().run(job.pk)
    killed = job.invoices.get(position=1)
    assert killed.state == State.SENDING and killed.session_reference
    assert not killed.ksef_reference
    # Another worker may take the job only once the dead one's lease has run out.
    assert sendsim.sender().run(job.pk) == "busy"
    sendsim.clock.advance(LEASE.total_seconds() + 1)
    sendsim.transport.strike = None

    assert sendsim.sender().run(job.pk) == SendJob.State.DONE

    assert job.invoices.filter(state=State.SENT).count() == 3
    assert sorted(sendsim.ksef_numbers().values()) == [1, 1, 1]


def test_ksef_down_before_anything_is_sent_leaves_the_job_to_come_back(sendsim, office):
    client = seller(office)
    job = queued_job(client, [("FV-1.xml", example(client, "FV/1/2026"))])
    sendsim.faults(error_rate=1.0, error_status=503, path_prefix="/sessions/online")

    with pytest.raises(ComeBack):
        sendsim.sender().run(job.pk)

    assert job.invoices.get().state == State.QUEUED
    sendsim.faults(error_rate=0.0)
    assert sendsim.sender().run(job.pk) == SendJob.State.DONE
    assert sendsim.ksef_numbers() == {job.invoices.get().invoice_hash: 1}


def test_every_send_is_in_the_audit_log_and_the_credential_use_in_its_custody_log(sendsim, office):
    client = seller(office)
    job = queued_job(client, [("FV-1.xml", example(client, "FV/1/2026"))])
    sendsim.sender().run(job.pk)

    sent = AuditEvent.objects.get(action="invoices.sent")
    assert sent.client_id == client.pk
    assert sent.details["ksef_number"] == job.invoices.get().ksef_number
    used = AuditEvent.objects.filter(action="credential.used", client_id=client.pk)
    assert used.filter(details__purpose="invoice_send").exists()


def test_a_failed_job_started_again_settles_what_it_left_in_ksef_and_sends_each_invoice_once(
    sendsim, office
):
    from certificates.models import Credential
    from invoices.sending import services

    client = seller(office)
    files = [(f"FV-{n}.xml", example(client, f"FV/{n}/2026")) for n in range(1, 4)]
    job = queued_job(client, files)
    sendsim.transport.strike = (2, "crash")
    with pytest.raises(WorkerKilled):
        sendsim.sender().run(job.pk)
    sendsim.transport.strike = None
    # Before the next run the client's credential goes: the job fails, the invoices posted
    # stay "sending" (KSeF may hold them), the others are drafts again.
    credentials = Credential.objects.filter(client=client, status=Credential.Status.ACTIVE)
    kept = list(credentials.values_list("pk", flat=True))
    credentials.update(status=Credential.Status.REPLACED)
    sendsim.clock.advance(LEASE.total_seconds() + 1)
    assert sendsim.sender().run(job.pk) == SendJob.State.FAILED
    assert job.invoices.filter(state=State.SENDING).exists()

    Credential.objects.filter(pk__in=kept).update(status=Credential.Status.ACTIVE)
    restarted = services.send_job_start(
        actor=None, job=SendJob.objects.get(pk=job.pk), enqueue=False
    )

    assert restarted.state == SendJob.State.QUEUED and not restarted.error_code
    assert sendsim.sender().run(job.pk) == SendJob.State.DONE
    assert job.invoices.filter(state=State.SENT).count() == 3
    assert sorted(sendsim.ksef_numbers().values()) == [1, 1, 1]
