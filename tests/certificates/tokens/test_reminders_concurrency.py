"""Two workers running the token reminder job at the same moment send each client's weekly
e-mail once, with one link. Needs PostgreSQL, as tests/certificates/expiry/
test_reminders_concurrency.py: SQLite serialises writers, so the race cannot happen there."""

from __future__ import annotations

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test import override_settings

from certificates.models import Credential, TokenReminder, UploadLink
from certificates.tokens.reminders import TokenRunReport, token_reminders_run
from clients.models import AccessModel
from tests.certificates.expiry.factories import make_credential, new_client, warsaw
from tests.certificates.expiry.test_reminders_concurrency import run_in_threads

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite serialises writers, so two workers cannot race",
)

MONDAY = warsaw(2026, 12, 7, 7, 15)


@pytest.mark.django_db(transaction=True)
@override_settings(EMAIL_BACKEND="tests.certificates.expiry.test_reminders_concurrency.SlowBackend")
def test_two_workers_at_once_send_each_clients_weekly_reminder_exactly_once(office) -> None:
    clients = []
    for n in range(12):
        client = new_client(office, access_model=AccessModel.CLIENT_CREDENTIAL, name=f"Firma {n}")
        make_credential(office, client, Credential.Kind.TOKEN)
        clients.append(client)

    def job() -> TokenRunReport:
        with time_machine.travel(MONDAY, tick=False):
            return token_reminders_run()

    first, second = run_in_threads(job)

    assert first.sent + second.sent == 12
    assert first.not_ours + second.not_ours == 12
    assert len(mail.outbox) == 12
    assert sorted(m.extra_headers["X-Portal-Reminder"] for m in mail.outbox) == sorted(
        f"token/{client.pk}/2026-12-07" for client in clients
    )
    assert TokenReminder.objects.filter(status="sent").count() == 12
    assert UploadLink.objects.count() == 12  # the loser of a claim makes no link
