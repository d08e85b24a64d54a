"""Background export jobs: queued after the commit, claimed once, progress, the file, a
second delivery doing nothing, failures ending on the job with a code, the scope of the
member who asked, and the hourly clean-up."""

from __future__ import annotations

import datetime as dt
import zipfile

import pytest
from django.utils import timezone

from invoices.exports import services
from invoices.models import ExportJob
from portal.models import AuditEvent
from tests.factories import make_client
from tests.invoices.exports.support import sample_link

State = ExportJob.State


@pytest.fixture
def three(client_company):  # type: ignore[no-untyped-def]
    return [sample_link(client_company, "invoice-template-fa-3.xml") for _ in range(3)]


def _start(member, kind="csv", client=None, **params):  # type: ignore[no-untyped-def]
    return services.export_start(membership=member, kind=kind, params=params, client=client)


def test_a_job_is_queued_after_the_commit_and_the_task_writes_the_register(
    accountant, client_company, three, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = _start(accountant, client=client_company, role=["purchases"])
        assert ExportJob.objects.get(pk=job.pk).state == State.QUEUED
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.state == State.DONE and (job.done, job.total) == (3, 3) and job.percent == 100
    path = services.export_file(job)
    assert path is not None and path.stat().st_size == job.file_size
    text = path.read_bytes().decode("utf-8")
    assert text.startswith("\ufeff") and text.count("\r\n") == 4
    assert AuditEvent.objects.filter(action="invoices.export_requested").count() == 1


def test_a_task_delivered_twice_writes_the_file_once(manager, three, fake_pdf):
    job = _start(manager, kind="zip")
    assert services.export_run(job.pk, pdf=fake_pdf) == "done"
    job.refresh_from_db()
    first = services.export_file(job)
    assert first is not None
    content = first.read_bytes()
    assert services.export_run(job.pk, pdf=fake_pdf) == "skipped"
    job.refresh_from_db()
    assert services.export_file(job) == first and first.read_bytes() == content
    assert len(list(first.parent.iterdir())) == 1
    with zipfile.ZipFile(first) as zf:
        assert len(zf.namelist()) == 6


def test_a_run_claimed_by_a_live_worker_is_left_alone_but_a_dead_ones_is_taken_over(manager, three):
    job = _start(manager)
    now = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(state=State.RUNNING, heartbeat_at=now)
    assert services.export_run(job.pk) == "skipped"
    stale = now - services.LEASE - dt.timedelta(seconds=1)
    ExportJob.objects.filter(pk=job.pk).update(heartbeat_at=stale)
    assert services.export_run(job.pk) == "done"


def test_a_run_that_lost_its_claim_stops_and_leaves_no_file(manager, three, monkeypatch):
    job = _start(manager)
    original = services._progress

    def steal(job):  # type: ignore[no-untyped-def]
        ExportJob.objects.filter(pk=job.pk).update(claim_token="someone-else")
        return original(job)

    monkeypatch.setattr(services, "_progress", steal)
    assert services.export_run(job.pk) == "skipped"
    assert not any((services.exports_root()).rglob("*.*"))


def test_a_failure_ends_on_the_job_with_a_code_and_no_partial_file(manager, three, monkeypatch):
    job = _start(manager, kind="xlsx")

    def broken(rows, path):  # type: ignore[no-untyped-def]
        path.write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(services.registers, "xlsx_write", broken)
    assert services.export_run(job.pk) == "failed"
    job.refresh_from_db()
    assert job.state == State.FAILED and job.error_code == "failed"
    assert "Nie udało się przygotować pliku" in job.error_text
    assert services.export_file(job) is None
    assert not any(services.exports_root().rglob("*.*"))


def test_pdfs_that_fail_are_listed_on_the_finished_job(manager, three):
    job = _start(manager, kind="zip")

    def broken(invoice):  # type: ignore[no-untyped-def]
        raise RuntimeError("no fonts")

    assert services.export_run(job.pk, pdf=broken) == "done"
    job.refresh_from_db()
    assert job.error_code == "pdf_missing" and job.error_params["count"] == 3
    assert three[0].invoice.ksef_number in job.error_text


def test_an_accountants_office_wide_export_holds_only_their_assigned_clients(
    office, accountant, client_company, three
):
    other = make_client(office, name="Cudzy Klient S.A.")
    hidden = sample_link(other, "invoice-template-fa-3.xml")
    job = _start(accountant)
    assert job.total == 3
    services.export_run(job.pk)
    job.refresh_from_db()
    text = services.export_file(job).read_text(encoding="utf-8")  # type: ignore[union-attr]
    assert hidden.invoice.ksef_number not in text and "Cudzy Klient" not in text
    assert all(link.invoice.ksef_number in text for link in three)


def test_an_accountant_unassigned_before_the_job_runs_gets_no_file(
    accountant, client_company, three
):
    job = _start(accountant, client=client_company)
    client_company.assigned_accountants.clear()
    assert services.export_run(job.pk) == "failed"
    job.refresh_from_db()
    assert job.error_code == "no_access"
    assert "Nie masz już dostępu" in job.error_text


def test_a_list_larger_than_a_job_may_hold_is_refused_with_the_numbers(manager, three, monkeypatch):
    monkeypatch.setitem(services.JOB_LIMITS, ExportJob.Kind.ZIP, 2)
    with pytest.raises(services.ExportRefused) as refused:
        _start(manager, kind="zip")
    assert refused.value.code == "too_large"
    assert refused.value.params == {"count": 3, "limit": 2}
    assert not ExportJob.objects.exists()


def test_an_empty_list_is_refused(manager):
    with pytest.raises(services.ExportRefused) as refused:
        _start(manager)
    assert refused.value.code == "empty"


def test_the_cleanup_removes_old_jobs_and_files_ends_dead_runs_and_requeues_lost_ones(
    manager, three, settings, monkeypatch
):
    old = _start(manager)
    services.export_run(old.pk)
    old.refresh_from_db()
    old_file = services.export_file(old)
    assert old_file is not None
    dead, lost, fresh = _start(manager), _start(manager), _start(manager)
    services.export_run(fresh.pk)
    now = timezone.now()
    ExportJob.objects.filter(pk=old.pk).update(
        created_at=now - dt.timedelta(days=settings.EXPORTS_KEEP_DAYS, minutes=1)
    )
    ExportJob.objects.filter(pk=dead.pk).update(
        state=State.RUNNING, heartbeat_at=now - dt.timedelta(hours=1)
    )
    ExportJob.objects.filter(pk=lost.pk).update(created_at=now - dt.timedelta(hours=1))
    queued: list[int] = []
    monkeypatch.setattr(services, "enqueue", lambda name, pk: queued.append(pk))
    report = services.exports_cleanup(now=now)
    assert report == {"removed": 1, "interrupted": 1, "requeued": 1, "files": 0}
    assert not ExportJob.objects.filter(pk=old.pk).exists() and not old_file.exists()
    dead.refresh_from_db()
    assert dead.state == State.FAILED and dead.error_code == "interrupted"
    assert queued == [lost.pk]
    fresh.refresh_from_db()
    assert services.export_file(fresh) is not None


def test_the_tasks_are_registered_under_the_names_services_and_beat_use():
    from portal.celery import app

    app.loader.import_default_modules()
    assert {"invoices.export_run", "invoices.exports_cleanup", "invoices.digest_daily"} <= set(
        app.tasks
    )


def test_the_migration_registers_the_daily_email_and_the_cleanup_with_beat(db):
    from django_celery_beat.models import PeriodicTask

    tasks = dict(PeriodicTask.objects.values_list("task", "crontab__hour"))
    assert tasks["invoices.digest_daily"] == "7"
    assert tasks["invoices.exports_cleanup"] == "*"


def test_a_job_remembers_the_language_of_the_member_who_asked(manager, three):
    from django.utils import translation

    with translation.override("en"):
        job = _start(manager)
    assert job.language == "en"
    assert _start(manager).language == "pl"


def _pid_pdf(invoice):  # type: ignore[no-untyped-def]
    import os

    return b"%PDF " + str(os.getpid()).encode()


def _broken_pdf(invoice):  # type: ignore[no-untyped-def]
    raise RuntimeError("no fonts")


def test_a_zip_job_renders_the_real_pdfs_in_a_child_process(manager, client_company):
    link = sample_link(client_company, "mf-fa3-example-01.xml")
    job = _start(manager, kind="zip")
    assert services.export_run(job.pk) == "done"
    job.refresh_from_db()
    with zipfile.ZipFile(services.export_file(job)) as zf:  # type: ignore[arg-type]
        assert zf.read(f"{link.invoice.ksef_number}.pdf").startswith(b"%PDF-")
    assert job.error_code == ""


def test_the_child_process_is_replaced_every_so_many_pdfs(manager, client_company):
    import os

    from invoices.exports import archive

    links = [sample_link(client_company, "invoice-template-fa-3.xml") for _ in range(5)]
    with archive.isolated_pdf_renderer(_pid_pdf, recycle=2) as render:
        pids = [render(link.invoice) for link in links]
    children = {pid.split()[1] for pid in pids}  # type: ignore[union-attr]
    assert str(os.getpid()).encode() not in children
    assert len(children) == 3  # 2 + 2 + 1


def test_a_pdf_failing_in_the_child_leaves_the_invoice_its_xml(manager, client_company):
    from invoices.exports import archive

    link = sample_link(client_company, "invoice-template-fa-3.xml")
    log = services._PdfLog()
    with archive.isolated_pdf_renderer(_broken_pdf) as render:
        assert log.renderer(render)(link.invoice) is None
    assert log.missing == [link.invoice.ksef_number]
