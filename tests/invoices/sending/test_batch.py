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
from tests.invoices.sending.support import (
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
    assert sum(groups, []) == list(range(12))


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
