"""The weekly digest to managers: what expires in the next 30 days, once a week, on/off."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMultiAlternatives

from certificates.expiry.reminders import digests_run
from certificates.models import Credential, ExpiryDigest, ReminderSettings
from tests.certificates.expiry.factories import make_credential, new_client, warsaw

MONDAY = warsaw(2026, 11, 23, 7, 30)


@pytest.fixture
def expiring(office, accountant):  # type: ignore[no-untyped-def]
    soon = new_client(office, assigned=[accountant], name="Wkrótce sp. z o.o.")
    make_credential(office, soon, valid_to=warsaw(2026, 12, 3, 12))  # 10 days
    expired = new_client(office, name="Po terminie S.A.")
    make_credential(office, expired, Credential.Kind.OFFLINE, valid_to=warsaw(2026, 11, 20, 12))
    far = new_client(office, name="Daleko sp. j.")
    make_credential(office, far, valid_to=warsaw(2027, 6, 1, 12))
    make_credential(office, far, Credential.Kind.TOKEN)  # 38 days: beyond 30


def test_managers_and_admins_get_one_digest_a_week_listing_the_next_30_days(
    office, admin_member, manager, accountant, expiring
) -> None:
    with time_machine.travel(MONDAY, tick=False):
        assert digests_run() == 1
        assert digests_run() == 0  # the second run of the week sends nothing
    [message] = mail.outbox
    assert sorted(message.to) == sorted([admin_member.user.email, manager.user.email])
    assert accountant.user.email not in message.to
    assert message.subject == (
        "KSeF: poświadczenia do odnowienia w ciągu 30 dni – Biuro Rachunkowe Bilans (pozycji: 2)"
    )
    assert "stan na 23 listopada 2026 r." in message.body
    assert (
        "Wkrótce sp. z o.o.: Certyfikat uwierzytelniający KSeF (typ 1), "
        "ważny do 03.12.2026 (za 10 dni)" in message.body
    )
    assert "Po terminie S.A.: Certyfikat offline KSeF (typ 2), wygasł 20.11.2026" in message.body
    assert "Daleko" not in message.body
    assert isinstance(message, EmailMultiAlternatives)
    assert "/expiry/?bucket=30" in str(message.alternatives[0][0])
    assert ExpiryDigest.objects.get().item_count == 2

    with time_machine.travel(MONDAY + datetime.timedelta(days=14), tick=False):
        assert digests_run() == 1  # two weeks on, the token (24 days left) is listed too
    assert "Daleko sp. j.: Token KSeF" in mail.outbox[1].body


def test_an_office_that_switched_the_digest_off_gets_none(office, manager, expiring) -> None:
    ReminderSettings.objects.create(office=office, weekly_digest=False)
    with time_machine.travel(MONDAY, tick=False):
        assert digests_run() == 0
    assert mail.outbox == []


def test_nothing_to_report_means_no_digest(office, manager) -> None:
    make_credential(office, new_client(office), valid_to=warsaw(2027, 6, 1, 12))
    with time_machine.travel(MONDAY, tick=False):
        assert digests_run() == 0
    assert mail.outbox == []
