"""Batch sending through the portal against the in-process simulator: the session kind
chosen from KSeF's limits, a job split into sessions, 1,000 invoices in several parts each
with a KSeF number and a UPO page valid against the official XSD, rejections explained."""

from __future__ import annotations

import pytest
from lxml import etree

from invoices.models import ClientInvoice, Invoice, OutgoingInvoice, SendJob, SendSession
from invoices.sending import batch
from invoices.sending.batch import choose_session_kind, split_batches
from invoices.sending.messages import rejection_message
from ksef.schemas import schema_dir
from tests.invoices.documents.support import sample_bytes
from tests.invoices.sending.support import (
    FA3_SAMPLES,
    as_sold_by,
    example,
    queued_job,
    seller,
    sendsim_fixture,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.django_db

State = OutgoingInvoice.State


def _upo_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(schema_dir("upo") / "upo-v4-3.xsd")))


def test_a_few_invoices_go_online_many_or_with_attachments_in_batch():
    assert choose_session_kind(1, 3_000, False) == "online"
    assert choose_session_kind(30, 90_000, False) == "online"
    assert choose_session_kind(31, 93_000, False) == "batch"
    assert choose_session_kind(1, 3_000, True) == "batch"


def test_a_job_bigger_than_one_session_is_split(settings):
    settings.KSEF_BATCH_MAX_INVOICES = 4
    assert split_batches([(n, 100) for n in range(10)]) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    settings.KSEF_BATCH_MAX_INVOICES = 10_000
    settings.KSEF_BATCH_PART_BYTES = 1_000  # 50 parts of 1,000 bytes: ~50 kB a session
    groups = split_batches([(n, 10_000) for n in range(12)])
    assert [len(g) for g in groups] == [4, 4, 4]
    assert [pk for group in groups for pk in group] == list(range(12))


def test_a_thousand_invoices_in_a_batch_of_several_parts(sendsim, office, settings):
    settings.KSEF_BATCH_PART_BYTES = 100_000  # ~1.3 MB of ZIP: several parts
    client = seller(office)
    files = [(f"FV-{n}.xml", example(client, f"FV/{n}/2026")) for n in range(1000)]
    job = queued_job(client, files)

    assert sendsim.sender().run(job.pk) == SendJob.State.DONE

    job.refresh_from_db()
    assert job.session_kind == SendJob.SessionKind.BATCH
    assert (job.sent_count, job.rejected_count) == (1000, 0)
    session = SendSession.objects.get(job=job)
    assert session.state == SendSession.State.DONE and session.part_count > 1
    assert sorted(sendsim.ksef_numbers().values()) == [1] * 1000
    page = session.upo_pages.get()
    assert _upo_schema().validate(etree.fromstring(bytes(page.xml)))
    listed = set(batch.upo_ksef_numbers(bytes(page.xml)))
    for invoice in job.invoices.all():
        assert invoice.state == State.SENT and invoice.ksef_number in listed
        assert invoice.acquisition_date and invoice.upo_page_id == page.pk
        assert invoice.invoice is not None
    assert ClientInvoice.objects.filter(client=client, subject_type="Subject1").count() == 1000


def test_every_official_fa3_sample_in_a_batch_attachment_included(sendsim, office):
    """A job with an attachment goes in batch (online KSeF answers 415); the client has
    announced attachments (testdata/attachment), so every sample gets its KSeF number."""
    client = seller(office)
    response = sendsim.http.post("/testdata/attachment", json={"nip": client.nip})
    assert response.status_code == 200, response.text
    files = [
        (name, as_sold_by(sample_bytes(name), client.nip, number=f"S/{n}"))
        for n, name in enumerate(FA3_SAMPLES)
    ]
    job = queued_job(client, files)

    assert sendsim.sender().run(job.pk) == SendJob.State.DONE

    job.refresh_from_db()
    assert job.session_kind == SendJob.SessionKind.BATCH
    assert (job.sent_count, job.rejected_count) == (len(FA3_SAMPLES), 0)
    schema = _upo_schema()
    for invoice in job.invoices.all():
        assert invoice.upo_page is not None, invoice.file_name
        page = bytes(invoice.upo_page.xml)
        assert schema.validate(etree.fromstring(page))
        assert invoice.ksef_number in set(batch.upo_ksef_numbers(page))
    attached = Invoice.objects.get(ksef_number=job.invoices.get(file_name=ATTACHMENT).ksef_number)
    assert attached.has_attachment
    assert sorted(sendsim.ksef_numbers().values()) == [1] * len(FA3_SAMPLES)


ATTACHMENT = "invoice-template-fa-3-with-attachment.xml"


def _renumbered_copy(client, number: str, marker: str) -> tuple[bytes, str]:
    """Other bytes (so the portal's hash check passes) with the number of an invoice
    already sent: the portal's number check is bypassed as a slipped-through case."""
    from ksef.crypto import sha256_b64

    xml = example(client, number).replace(b"<P_1>", f"<!-- {marker} --><P_1>".encode(), 1)
    return xml, sha256_b64(xml)


def test_rejections_in_a_batch_end_with_their_own_message_and_nothing_half_stored(
    sendsim, office, settings
):
    """Among 40 invoices: one with a wrong seller NIP, one breaking the FA(3) schema and
    a duplicate of an invoice KSeF has — each slipped past the portal's checks (the
    stored bytes replaced after them) — KSeF's code and its Polish explanation each."""
    from ksef.crypto import sha256_b64

    client = seller(office)
    first = queued_job(client, [("FV-0.xml", example(client, "FV/0/2026"))])
    assert sendsim.sender().run(first.pk) == SendJob.State.DONE
    files = [(f"FV-{n}.xml", example(client, f"FV/{n}/2026")) for n in range(1, 41)]
    job = queued_job(client, files)
    broken = {
        "FV-1.xml": as_sold_by(example(client, "FV/1/2026"), "5260250274"),  # not the client
        "FV-2.xml": example(client, "FV/2/2026").replace(b"<P_1>", b"<P_1>x", 1),  # no date
        "FV-3.xml": _renumbered_copy(client, "FV/0/2026", "dup")[0],  # duplicate in KSeF
    }
    for name, xml in broken.items():
        OutgoingInvoice.objects.filter(job=job, file_name=name).update(
            xml=xml, invoice_hash=sha256_b64(xml), size=len(xml)
        )

    assert sendsim.sender().run(job.pk) == SendJob.State.DONE

    job.refresh_from_db()
    assert job.session_kind == SendJob.SessionKind.BATCH
    assert (job.sent_count, job.rejected_count) == (37, 3)
    codes = {name: job.invoices.get(file_name=name).status_code for name in broken}
    assert codes == {"FV-1.xml": 410, "FV-2.xml": 450, "FV-3.xml": 440}
    assert "NIP" in rejection_message(410)
    assert "schemat" in rejection_message(450)
    assert "Duplikat" in rejection_message(440)
    for invoice in job.invoices.filter(state=State.REJECTED):
        assert not invoice.ksef_number and invoice.invoice is None
        assert invoice.upo_page is None and invoice.acquisition_date is None
    rejected_hashes = set(
        job.invoices.filter(state=State.REJECTED).values_list("invoice_hash", flat=True)
    )
    assert not rejected_hashes & set(sendsim.ksef_numbers())
    assert Invoice.objects.filter(client_links__client=client).count() == 38
    assert ClientInvoice.objects.filter(client=client, subject_type="Subject1").count() == 38


def test_a_session_error_ends_the_job_with_ksefs_code_and_the_invoices_drafts_again(
    sendsim, office
):
    """KSeF's own limit of the context below the package (420): nothing was numbered, the
    job fails with the session's code explained, its invoices can be sent again."""
    from invoices.sending.messages import job_error_message
    from ksef_simulator.limits import DEFAULT_SESSION_LIMITS

    client = seller(office)
    limits = {kind: dict(values) for kind, values in DEFAULT_SESSION_LIMITS.items()}
    limits["batchSession"]["maxInvoices"] = 3
    sendsim.state.context_limits[("Nip", client.nip)] = limits
    files = [(f"FV-{n}.xml", example(client, f"FV/{n}/2026")) for n in range(5)]
    job = queued_job(client, files)

    assert sendsim.sender("batch").run(job.pk) == SendJob.State.FAILED

    job.refresh_from_db()
    assert job.error_code == "session_failed" and job.error_params["code"] == 420
    assert "420" in job_error_message(job.error_code, job.error_params)
    assert set(job.invoices.values_list("state", flat=True)) == {State.DRAFT}
    assert not job.invoices.exclude(send_session=None).exists()
    session = SendSession.objects.get(job=job)
    assert (session.state, session.status_code) == (SendSession.State.FAILED, 420)
    assert sendsim.ksef_numbers() == {}


def test_a_job_over_one_sessions_limit_goes_in_several_sessions_each_invoice_once(
    sendsim, office, settings
):
    settings.KSEF_BATCH_MAX_INVOICES = 4
    client = seller(office)
    files = [(f"FV-{n}.xml", example(client, f"FV/{n}/2026")) for n in range(10)]
    job = queued_job(client, files)

    assert sendsim.sender("batch").run(job.pk) == SendJob.State.DONE

    sessions = list(SendSession.objects.filter(job=job))
    assert [s.invoice_count for s in sessions] == [4, 4, 2]
    assert {s.state for s in sessions} == {SendSession.State.DONE}
    assert len({s.reference for s in sessions}) == 3
    assert sorted(sendsim.ksef_numbers().values()) == [1] * 10
    for invoice in job.invoices.select_related("upo_page__session"):
        assert invoice.upo_page is not None
        assert invoice.upo_page.session.reference == invoice.session_reference


def test_offline_invoices_go_in_a_batch_of_their_own_declared_offline(sendsim, office):
    client = seller(office)
    files = [(f"FV-{n}.xml", example(client, f"FV/{n}/2026")) for n in range(6)]
    job = queued_job(client, files)
    job.invoices.filter(position__lt=2).update(invoicing_mode=OutgoingInvoice.Mode.OFFLINE24)

    assert sendsim.sender("batch").run(job.pk) == SendJob.State.DONE

    from ksef_simulator.batch import BatchSession
    from ksef_simulator.sessions import sessions_of

    declared = {}
    for session in SendSession.objects.filter(job=job):
        simulated = sessions_of(sendsim.state)[session.reference]
        assert isinstance(simulated, BatchSession)
        declared[session.invoice_count] = simulated.offline_mode
    assert declared == {4: False, 2: True}  # offlineMode of each batch as KSeF has it
    offline = job.invoices.filter(position__lt=2).select_related("invoice")
    assert {invoice.invoice and invoice.invoice.invoicing_mode for invoice in offline} == {
        "Offline"
    }
