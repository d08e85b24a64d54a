"""Two workers at the same moment, on PostgreSQL (where two connections really race): one
export job is written once, one member's daily e-mail is sent once."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from django.core import mail
from django.db import connection, connections

from invoices.digest import services as digest
from invoices.exports import services as exports
from invoices.models import ExportJob, InvoiceDigestSubscription
from tests.invoices.browse.support import make_invoice
from tests.invoices.exports.support import sample_link

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: SQLite's shared-memory test database serialises connections",
    ),
    pytest.mark.django_db(transaction=True),
]


def _race(work: Callable[[], object], workers: int = 2) -> list[object]:
    barrier = threading.Barrier(workers)
    results: list[object] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(work())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_workers_given_the_same_job_write_it_once(
    manager, client_company, fake_pdf, monkeypatch
):
    for _ in range(5):
        sample_link(client_company, "invoice-template-fa-3.xml")
    monkeypatch.setattr(exports, "enqueue_on_commit", lambda name, pk: None)  # the race runs it
    job = exports.export_start(membership=manager, kind="zip", params={}, client=None)
    results = _race(lambda: exports.export_run(job.pk, pdf=fake_pdf))
    assert sorted(results) == ["done", "skipped"]  # type: ignore[type-var]
    job.refresh_from_db()
    assert job.state == ExportJob.State.DONE
    assert len(list(exports.exports_root().rglob("*.*"))) == 1


def test_two_workers_running_the_daily_job_at_once_send_one_email(accountant, client_company):
    InvoiceDigestSubscription.objects.create(membership=accountant, daily_purchases=True)
    moment = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    for _ in range(3):
        make_invoice(client_company, issue_date=moment.date(), invoicing_date=moment)
    now = moment + dt.timedelta(days=1)
    results = _race(lambda: digest.digests_run(now=now), workers=3)
    assert len(mail.outbox) == 1
    assert sorted(str(r) for r in results) == sorted(
        [str({"sent": 1}), str({"not_ours": 1}), str({"not_ours": 1})]
    )
