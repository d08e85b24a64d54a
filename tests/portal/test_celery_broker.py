"""A real Celery worker takes a real task from the configured broker.

The rest of the suite runs tasks eagerly; this test proves the production path: a task
queued on the broker (Redis when CELERY_BROKER_URL points at it, as in CI; the server-less
filesystem transport by default) is picked up by a worker and does its work in the database.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from celery.result import EagerResult
from django.conf import settings
from django.core import mail

from certificates.models import SentReminder
from portal.celery import app
from tests.certificates.expiry.factories import days_from_now, make_credential, new_client


@pytest.fixture
def real_worker(tmp_path: Path) -> Iterator[str]:
    """A worker thread consuming a queue of its own on the configured broker."""
    queue = f"test-{uuid.uuid4().hex}"
    overrides: dict[str, object] = {"task_always_eager": False}
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        for folder in ("in", "processed", "control"):
            (tmp_path / folder).mkdir()
        overrides["broker_transport_options"] = {
            "data_folder_in": str(tmp_path / "in"),
            "data_folder_out": str(tmp_path / "in"),
            "processed_folder": str(tmp_path / "processed"),
            "control_folder": str(tmp_path / "control"),
        }
    saved = {key: app.conf[key] for key in overrides}
    app.conf.update(overrides)
    app.loader.import_default_modules()
    try:
        with start_worker(app, queues=[queue], perform_ping_check=False, shutdown_timeout=20):
            yield queue
    finally:
        app.conf.update(saved)


@pytest.mark.django_db(transaction=True)
def test_a_worker_takes_the_daily_reminder_job_from_the_broker_and_sends_the_email(
    real_worker: str,
    office,
    accountant,  # type: ignore[no-untyped-def]
) -> None:
    client = new_client(office, assigned=[accountant])
    make_credential(office, client, valid_to=days_from_now(6))

    # A fresh connection and an explicit queue: the app caches its producer pool and queue
    # table on first use, which would ignore the overrides of the fixture.
    with app.connection_for_write() as connection:
        result = app.tasks["certificates.reminders_daily"].apply_async(
            queue=real_worker,
            connection=connection,  # type: ignore[call-arg]  # stubs lag
        )

    assert not isinstance(result, EagerResult), "the task ran inline instead of via the broker"

    deadline = time.monotonic() + 30
    while not SentReminder.objects.filter(status="sent").exists():
        assert time.monotonic() < deadline, "the worker did not process the task in 30 s"
        time.sleep(0.2)
    assert SentReminder.objects.get().threshold == 7
    assert [message.to for message in mail.outbox] == [client.contact_emails]
