"""KSeF down, end to end on the simulator's outage switch: the sender detects the outage
(one row), invoices are issued offline meanwhile, every run comes back, and once KSeF
answers they are sent with offlineMode — each exactly once, before its deadline — and the
outage has its end and its invoices their deadlines. Also the sweep that re-queues jobs
whose task gave up, and two workers finding KSeF down at once."""

from __future__ import annotations

import pytest
from django.db import connection

from invoices.models import KsefOutage, OutgoingInvoice, SendJob
from invoices.sending import offline, services
from invoices.sending.calendar import next_business_day
from invoices.sending.sender import LEASE, ComeBack
from ksef_simulator.invoices import invoices_of
from tests.invoices.sending.offline_core import checked_job, store_offline
from tests.invoices.sending.support import seller, sendsim_fixture  # noqa: F401

State = OutgoingInvoice.State


def _start(job: SendJob, mode: str) -> SendJob:
    return services.send_job_start(actor=None, job=job, enqueue=False, mode=mode)


def test_invoices_issued_offline_in_an_outage_reach_ksef_once_it_answers(sendsim, office):
    client = seller(office)
    store_offline(office, client)
    today = offline.local_day(sendsim.clock.now())
    online = _start(checked_job(client, ["FV/ON/1/2026"], day=today), "online")

    sendsim.http.post("http://ksef-sim/_sim/outage", json={"retryAfter": 60})
    with pytest.raises(ComeBack) as again:
        sendsim.sender().run(online.pk)
    assert again.value.unavailable and again.value.code == "ksef_unavailable"
    outage = offline.current_outage()
    assert outage is not None
    assert (outage.kind, outage.source) == (KsefOutage.Kind.UNAVAILABLE, "detected")

    # Meanwhile the office issues invoices offline: in the unavailability and offline24.
    in_outage = _start(
        checked_job(client, ["FV/OFF/1/2026", "FV/OFF/2/2026"], day=today), "offline"
    )
    offline24 = _start(checked_job(client, ["FV/OFF/3/2026"], day=today), "offline24")
    assert {i.outage_id for i in in_outage.invoices.all()} == {outage.pk}
    assert {i.offline_deadline for i in in_outage.invoices.all()} == {None}

    jobs = [online, in_outage, offline24]
    for _round in range(3):
        sendsim.clock.advance(120)
        for job in jobs:
            with pytest.raises(ComeBack):
                sendsim.sender().run(job.pk)
    assert KsefOutage.objects.count() == 1 and offline.current_outage() == outage
    assert not sendsim.ksef_numbers()
    assert set(OutgoingInvoice.objects.values_list("state", flat=True)) == {State.QUEUED}

    sendsim.http.delete("http://ksef-sim/_sim/outage")
    sendsim.clock.advance(60)
    answered_at = sendsim.clock.now()
    for job in jobs:
        assert sendsim.sender().run(job.pk) == SendJob.State.DONE

    outage.refresh_from_db()
    assert outage.ended_at == answered_at
    invoices = list(OutgoingInvoice.objects.filter(client=client))
    assert len(invoices) == 4 and {i.state for i in invoices} == {State.SENT}
    numbers = sendsim.ksef_numbers()
    assert {i.invoice_hash: 1 for i in invoices} == numbers  # each exactly once
    stored = invoices_of(sendsim.state)
    for invoice in invoices:
        expected = "Online" if invoice.job_id == online.pk else "Offline"
        assert stored[invoice.ksef_number].invoicing_mode == expected, invoice.file_name
        assert invoice.invoice is not None and invoice.invoice.invoicing_mode == expected
        if invoice.job_id == online.pk:
            assert invoice.offline_deadline is None
            continue
        if invoice.job_id == in_outage.pk:
            assert invoice.offline_deadline == next_business_day(offline.local_day(answered_at))
        else:
            assert invoice.offline_deadline == next_business_day(today)
        assert invoice.acquisition_date is not None
        assert offline.local_day(invoice.acquisition_date) <= invoice.offline_deadline


def test_a_declared_outage_is_not_ended_by_ksef_answering(sendsim, office):
    client = seller(office)
    store_offline(office, client)
    declared = offline.outage_begin(KsefOutage.Kind.EMERGENCY, KsefOutage.Source.DECLARED)
    job = _start(checked_job(client, ["FV/AW/1/2026"]), "emergency")
    assert sendsim.sender().run(job.pk) == SendJob.State.DONE
    assert offline.current_outage() == declared
    assert job.invoices.get().offline_deadline is None  # counts from the failure's end


def test_the_sweep_requeues_offline_jobs_nothing_retries_earliest_deadline_first(
    sendsim, office, monkeypatch
):
    from datetime import timedelta

    from invoices.sending import tasks

    client = seller(office)
    store_offline(office, client)
    today = offline.local_day(sendsim.clock.now())
    later = _start(checked_job(client, ["FV/S/1/2026"], day=today), "offline24")
    sooner = _start(
        checked_job(client, ["FV/S/2/2026"], day=today - timedelta(days=3)), "offline24"
    )
    running = _start(checked_job(client, ["FV/S/3/2026"], day=today), "offline24")
    online = _start(checked_job(client, ["FV/S/4/2026"], day=today), "online")
    now = sendsim.clock.now()
    long_ago = now - timedelta(hours=2)
    SendJob.objects.filter(pk__in=[later.pk, sooner.pk, online.pk]).update(
        state=SendJob.State.SENDING, started_at=long_ago, lease_until=None
    )
    # A job whose lease still holds (a worker on it) or that ran minutes ago is left alone.
    SendJob.objects.filter(pk=running.pk).update(
        state=SendJob.State.SENDING, started_at=now, lease_until=now + LEASE
    )

    assert offline.offline_sweep_jobs(now=now) == [sooner.pk, later.pk]

    queued: list[tuple[object, ...]] = []
    monkeypatch.setattr(tasks, "enqueue", lambda name, *args: queued.append((name, *args)))
    assert tasks.offline_sweep.apply().get() == 2
    assert queued == [(services.RUN_TASK, sooner.pk), (services.RUN_TASK, later.pk)]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite serialises writers, so two workers cannot race",
)
@pytest.mark.django_db(transaction=True)
def test_two_workers_finding_ksef_down_at_once_record_one_outage() -> None:
    from tests.certificates.expiry.test_reminders_concurrency import run_in_threads

    for _attempt in range(5):
        first, second = run_in_threads(lambda: offline.record_unavailable().pk, count=4)[:2]
        assert first == second
        assert KsefOutage.objects.filter(ended_at__isnull=True).count() == 1
        assert offline.outage_end() is not None
    assert KsefOutage.objects.count() == 5


def test_the_task_backs_off_while_ksef_does_not_answer(monkeypatch):
    from invoices.sending import sender as sender_module
    from invoices.sending import tasks

    class Retry(Exception):
        pass

    countdowns: list[float] = []

    def retry(countdown: float) -> Exception:
        countdowns.append(countdown)
        return Retry()

    monkeypatch.setattr(tasks.send_job_run, "retry", retry)

    def run(again: ComeBack, retries: int) -> float:
        def come_back(job_id: int) -> str:
            raise again

        monkeypatch.setattr(sender_module, "send_job_run", come_back)
        tasks.send_job_run.apply(args=(1,), retries=retries, throw=False)
        return countdowns[-1]

    down = ComeBack(60, "ksef_unavailable", unavailable=True)
    first, later, latest = run(down, 0), run(down, 3), run(down, 8)
    assert 30 <= first <= 60 and 240 <= later <= 480 and 450 <= latest <= 900
    # KSeF answering "busy" or "still processing" keeps the short, jittered countdown.
    assert 60 <= run(ComeBack(60, "timeout"), 8) <= 90


def test_the_sweep_runs_every_five_minutes(db):
    from django_celery_beat.models import PeriodicTask

    from invoices.sending import tasks

    task = PeriodicTask.objects.get(task="invoices.offline_sweep")
    assert task.enabled and task.interval is not None
    assert (task.interval.every, task.interval.period) == (5, "minutes")
    assert tasks.offline_sweep.name == task.task
