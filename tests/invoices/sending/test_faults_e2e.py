"""Faults end to end, online and batch: a 5xx, a timeout or a killed worker after KSeF
processed the open, the send (invoice POST / part upload), the close or a status call —
after the re-runs every invoice has exactly one KSeF number counted in the simulator,
none is lost. And KSeF's 403 (no InvoiceWrite in the context) ends the job with its
clear message, nothing half-stored."""

from __future__ import annotations

import re

import pytest
from flask import request

from invoices.models import OutgoingInvoice, SendJob, SendSession
from invoices.sending.messages import job_error_message
from invoices.sending.sender import LEASE, ComeBack
from ksef_simulator import security
from tests.invoices.sending.support import (
    WorkerKilled,
    example,
    queued_job,
    seller,
    sendsim_fixture,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.django_db

State = OutgoingInvoice.State
COUNT = 5
STEPS = {
    "online": ["online_open", "online_send", "online_close", "status"],
    "batch": ["batch_open", "batch_send", "batch_close", "status"],
}
CASES = [
    (kind, step, fault, nth)
    for kind, steps in STEPS.items()
    for step in steps
    for fault in ("500", "timeout", "crash")
    # The 2nd invoice POST / part upload: some of the job is in KSeF already.
    for nth in [2 if step.endswith("_send") else 1]
]


def _run_to_the_end(sendsim, job: SendJob, kind: str) -> list[str]:
    """Runs as the task queue would: after ComeBack its countdown, after a killed worker
    the lease. Returns what each run ended in."""
    outcomes = []
    for _run in range(10):
        try:
            outcome = sendsim.sender(kind).run(job.pk)
        except WorkerKilled:
            outcomes.append("killed")
            sendsim.clock.advance(LEASE.total_seconds() + 1)
            continue
        except ComeBack as again:
            outcomes.append(f"come back ({again.code})")
            sendsim.clock.advance(again.countdown)
            continue
        outcomes.append(outcome)
        if outcome == SendJob.State.DONE:
            return outcomes
        if outcome == "busy":
            sendsim.clock.advance(LEASE.total_seconds() + 1)
    raise AssertionError(f"the job did not end: {outcomes}")


def _killed_at(sendsim, office, settings, step: str) -> tuple[SendJob, SendSession]:
    """A batch job of COUNT invoices in several parts whose worker is killed right after
    KSeF took STEP's first request; returns the job and its session as the worker left it."""
    settings.KSEF_BATCH_PART_BYTES = 1_500
    client = seller(office)
    files = [(f"FV-{n}.xml", example(client, f"FV/{n}/2026")) for n in range(COUNT)]
    job = queued_job(client, files)
    sendsim.transport.strike_at = (step, 1, "crash")
    with pytest.raises(WorkerKilled):
        sendsim.sender("batch").run(job.pk)
    return job, SendSession.objects.get(job=job)


@pytest.mark.parametrize(("kind", "step", "fault", "nth"), CASES)
def test_a_lost_answer_at_any_step_never_gives_an_invoice_two_ksef_numbers(
    sendsim, office, settings, kind, step, fault, nth
):
    settings.KSEF_BATCH_PART_BYTES = 1_500  # a few parts, so one is uploaded before a fault
    client = seller(office)
    files = [(f"FV-{n}.xml", example(client, f"FV/{n}/2026")) for n in range(COUNT)]
    job = queued_job(client, files)
    sendsim.transport.strike_at = (step, nth, fault)

    outcomes = _run_to_the_end(sendsim, job, kind)

    assert sendsim.transport.strike_at is None, "the fault never struck"
    if fault == "crash":
        assert "killed" in outcomes, outcomes
    assert job.invoices.filter(state=State.SENT).count() == COUNT
    assert sorted(sendsim.ksef_numbers().values()) == [1] * COUNT
    numbers = {invoice.invoice_hash: invoice.ksef_number for invoice in job.invoices.all()}
    assert len(set(numbers.values())) == COUNT
    job.refresh_from_db()
    assert (job.session_kind, job.sent_count) == (kind, COUNT)
    if kind == "batch":
        assert not SendSession.objects.filter(
            job=job, state__in=["opening", "open", "closed"]
        ).exists()
        assert all(invoice.upo_page_id for invoice in job.invoices.all())


def test_a_batch_whose_parts_never_all_arrived_is_not_closed_and_its_invoices_go_again(
    sendsim, office, settings
):
    """Killed after the first part: the next run's close is refused (21205, a part is
    missing), so KSeF can never process that session; the invoices go in a new one."""
    job, first = _killed_at(sendsim, office, settings, "batch_send")
    assert first.state == SendSession.State.OPEN and first.part_count > 1
    assert set(job.invoices.values_list("session_reference", flat=True)) == {first.reference}

    sendsim.clock.advance(LEASE.total_seconds() + 1)
    assert sendsim.sender("batch").run(job.pk) == SendJob.State.DONE

    first.refresh_from_db()
    assert first.state == SendSession.State.CANCELLED
    second = SendSession.objects.get(job=job, state=SendSession.State.DONE)
    assert set(job.invoices.values_list("session_reference", flat=True)) == {second.reference}
    assert sorted(sendsim.ksef_numbers().values()) == [1] * COUNT


def test_an_open_whose_answer_was_lost_is_found_as_an_orphan_and_nothing_is_sent_twice(
    sendsim, office, settings
):
    job, marker = _killed_at(sendsim, office, settings, "batch_open")
    assert marker.state == SendSession.State.OPENING and not marker.reference
    assert job.invoices.filter(state=State.SENDING, send_session=marker).count() == COUNT

    sendsim.clock.advance(LEASE.total_seconds() + 1)
    assert sendsim.sender("batch").run(job.pk) == SendJob.State.DONE

    marker.refresh_from_db()
    assert marker.state == SendSession.State.ABANDONED and len(marker.orphans) == 1
    assert sorted(sendsim.ksef_numbers().values()) == [1] * COUNT


def test_ksef_down_during_the_batch_open_leaves_the_job_to_come_back(sendsim, office):
    client = seller(office)
    files = [(f"FV-{n}.xml", example(client, f"FV/{n}/2026")) for n in range(COUNT)]
    job = queued_job(client, files)
    sendsim.faults(error_rate=1.0, error_status=503, path_prefix="/sessions/batch")

    with pytest.raises(ComeBack):
        sendsim.sender("batch").run(job.pk)

    sendsim.faults(error_rate=0.0, path_prefix="")
    assert sendsim.sender("batch").run(job.pk) == SendJob.State.DONE
    assert sorted(sendsim.ksef_numbers().values()) == [1] * COUNT


# --- 403: no InvoiceWrite in the context ------------------------------------------------


@pytest.fixture(name="deny_write")
def deny_write_fixture(monkeypatch):  # type: ignore[no-untyped-def]
    """KSeF's own 403 missing-permissions for requests whose path matches: the context's
    InvoiceWrite taken away (as when the client revokes the office's grant)."""
    denied: dict[str, str] = {}
    has_any = security.AccessContext.has_any

    def without_write(self, *permissions: str) -> bool:  # type: ignore[no-untyped-def]
        pattern = denied.get("path")
        if pattern and re.fullmatch(pattern, request.path):
            permissions = tuple(p for p in permissions if p != "InvoiceWrite")
            if not permissions:
                return False
        return has_any(self, *permissions)

    monkeypatch.setattr(security.AccessContext, "has_any", without_write)
    return denied


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("online", r"/v2/sessions/online"),
        ("online", r"/v2/sessions/online/[^/]+/invoices"),
        ("batch", r"/v2/sessions/batch"),
    ],
)
def test_no_invoice_write_ends_the_job_with_its_message_and_nothing_half_stored(
    sendsim, office, deny_write, kind, path
):
    client = seller(office)
    files = [(f"FV-{n}.xml", example(client, f"FV/{n}/2026")) for n in range(COUNT)]
    job = queued_job(client, files)
    deny_write["path"] = path

    assert sendsim.sender(kind).run(job.pk) == SendJob.State.FAILED

    job.refresh_from_db()
    assert job.error_code == "no_invoice_write"
    message = job_error_message(job.error_code, job.error_params)
    assert "InvoiceWrite" in message and client.nip in message
    assert set(job.invoices.values_list("state", flat=True)) == {State.DRAFT}
    assert not job.invoices.exclude(session_reference="").exists()
    assert not job.invoices.exclude(send_session=None).exists()
    assert sendsim.ksef_numbers() == {}
    assert not SendSession.objects.filter(job=job).exclude(state="abandoned").exists()

    # The grant back, the job started again: each invoice once.
    deny_write.clear()
    from invoices.sending import services

    services.send_job_start(actor=None, job=job, enqueue=False)
    assert sendsim.sender(kind).run(job.pk) == SendJob.State.DONE
    assert sorted(sendsim.ksef_numbers().values()) == [1] * COUNT


def test_a_session_ksef_cancelled_when_its_upload_window_ended_sends_its_invoices_again(
    sendsim, office, settings
):
    """Killed during the upload and back only after the window (parts x 20 minutes):
    KSeF cancelled the session (440), nothing of it was processed; the invoices go in a
    new session, each numbered once."""
    job, first = _killed_at(sendsim, office, settings, "batch_send")

    sendsim.clock.advance(first.part_count * 20 * 60 + 60)
    assert sendsim.sender("batch").run(job.pk) == SendJob.State.DONE

    first.refresh_from_db()
    assert (first.state, first.status_code) == (SendSession.State.CANCELLED, 440)
    assert sorted(sendsim.ksef_numbers().values()) == [1] * COUNT
    assert job.invoices.filter(state=State.SENT).count() == COUNT


def test_a_batch_ksef_takes_long_to_process_comes_back_and_is_followed_to_the_end(sendsim, office):
    sendsim.state.config.batch_processing_seconds = 900
    client = seller(office)
    files = [(f"FV-{n}.xml", example(client, f"FV/{n}/2026")) for n in range(COUNT)]
    job = queued_job(client, files)
    sender = sendsim.sender("batch")
    sender.batch_wait_limit = 120

    with pytest.raises(ComeBack) as again:
        sender.run(job.pk)

    assert again.value.code == "timeout"
    session = SendSession.objects.get(job=job)
    assert session.state == SendSession.State.CLOSED
    assert (
        job.invoices.filter(state=State.SENDING, session_reference=session.reference).count()
        == COUNT
    )
    countdown, outcome = again.value.countdown, ""
    for _run in range(10):
        sendsim.clock.advance(countdown)
        try:
            outcome = sender.run(job.pk)
            break
        except ComeBack as later:
            countdown = later.countdown
    assert outcome == SendJob.State.DONE
    assert sorted(sendsim.ksef_numbers().values()) == [1] * COUNT
    assert SendSession.objects.filter(job=job).count() == 1


def test_a_worker_killed_while_storing_a_batchs_outcomes_stores_each_invoice_once(
    sendsim, office, monkeypatch
):
    """Outcomes are stored in chunks, each one transaction: killed in the second chunk,
    the first stays stored, the second is rolled back whole, the next run stores the rest
    from the same session (nothing is sent again)."""
    from invoices.sending import batch, services
    from portal.audit import audit_record
    from portal.models import AuditEvent

    monkeypatch.setattr(batch, "_STORE_CHUNK", 2)
    calls = {"sent": 0}

    def dying_audit(**kwargs):  # type: ignore[no-untyped-def]
        if kwargs["action"] == "invoices.sent":
            calls["sent"] += 1
            if calls["sent"] == 3:
                raise WorkerKilled()
        return audit_record(**kwargs)

    monkeypatch.setattr(services, "audit_record", dying_audit)
    client = seller(office)
    files = [(f"FV-{n}.xml", example(client, f"FV/{n}/2026")) for n in range(COUNT)]
    job = queued_job(client, files)

    with pytest.raises(WorkerKilled):
        sendsim.sender("batch").run(job.pk)
    assert job.invoices.filter(state=State.SENT).count() == 2
    assert job.invoices.filter(state=State.SENDING).count() == COUNT - 2
    assert not job.invoices.filter(state=State.SENDING).exclude(invoice=None).exists()
    assert AuditEvent.objects.filter(action="invoices.sent").count() == 2

    sendsim.clock.advance(LEASE.total_seconds() + 1)
    assert sendsim.sender("batch").run(job.pk) == SendJob.State.DONE

    assert job.invoices.filter(state=State.SENT).count() == COUNT
    assert SendSession.objects.filter(job=job).count() == 1
    assert sorted(sendsim.ksef_numbers().values()) == [1] * COUNT
    assert AuditEvent.objects.filter(action="invoices.sent").count() == COUNT
