"""`manage.py send_invoices --offline` (KOD II and deadline printed, exit 0 sent, 1 refused,
3 queued while KSeF is down) and `manage.py ksef_outage start|end|status`."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.management import CommandError, call_command

from invoices.models import KsefOutage, OutgoingInvoice, SendJob
from invoices.sending import offline
from invoices.sending import sender as sender_module
from invoices.sending.calendar import next_business_day
from tests.invoices.sending.offline_core import KOD_II, dated, store_offline, verify_kod_ii
from tests.invoices.sending.support import example, seller, sendsim_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _virtual_clock(sendsim, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sender_module, "Sender", lambda: sendsim.sender())


def _call(name: str, *args: str) -> tuple[str, str, CommandError | None]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), exc
    return out.getvalue(), err.getvalue(), None


def _files(client, tmp_path, numbers, day=None):  # type: ignore[no-untyped-def]
    paths = []
    for number in numbers:
        path = tmp_path / f"{number.replace('/', '-')}.xml"
        xml = example(client, number)
        path.write_bytes(dated(xml, day) if day else xml)
        paths.append(str(path))
    return paths


def test_offline_prints_each_kod_ii_and_deadline_then_sends(sendsim, office, tmp_path):
    client = seller(office)
    signer = store_offline(office, client)
    today = offline.local_day(sendsim.clock.now())
    files = _files(client, tmp_path, ["FV/K/1/2026", "FV/K/2/2026"], day=today)

    out, _err, error = _call("send_invoices", "--client", client.nip, "--offline", *files)

    assert error is None, out
    invoices = list(OutgoingInvoice.objects.order_by("position"))
    assert len(invoices) == 2
    for invoice in invoices:
        assert invoice.state == OutgoingInvoice.State.SENT
        assert invoice.invoicing_mode == "offline24"
        assert f"due in KSeF by {next_business_day(today)}" in out
        assert f"KOD II: {invoice.certificate_url}" in out
        assert KOD_II.match(invoice.certificate_url)
        verify_kod_ii(invoice.certificate_url, bytes(invoice.xml), signer.certificate, client.nip)
        assert f"{invoice.file_name}: {invoice.ksef_number}" in out
    assert {i.invoice_hash: 1 for i in invoices} == sendsim.ksef_numbers()


def test_offline_says_when_an_invoices_deadline_had_passed_before_it_was_issued(
    sendsim, office, tmp_path
):
    client = seller(office)
    store_offline(office, client)
    today = offline.local_day(sendsim.clock.now())
    files = _files(client, tmp_path, ["FV/K/1/2026"], day=today)
    files += _files(client, tmp_path, ["FV/K/2/2026"], day=date(2026, 2, 13))  # a Friday

    out, _err, error = _call("send_invoices", "--client", client.nip, "--offline", *files)

    assert error is None, out
    lines = [line for line in out.splitlines() if "ISSUED" in line]
    assert lines[0].endswith(f"due in KSeF by {next_business_day(today)}")
    late = "due in KSeF by 2026-02-16 (the deadline has passed: it reaches KSeF late)"
    assert lines[1].endswith(late)


def test_offline_while_ksef_is_down_exits_3_with_the_invoices_queued(sendsim, office, tmp_path):
    client = seller(office)
    store_offline(office, client)
    sendsim.http.post("http://ksef-sim/_sim/outage", json={})
    files = _files(client, tmp_path, ["FV/K/3/2026"])

    _out, _err, error = _call("send_invoices", "--client", client.nip, "--offline", *files)

    assert error is not None and error.returncode == 3
    invoice = OutgoingInvoice.objects.get()
    assert invoice.state == OutgoingInvoice.State.QUEUED and invoice.certificate_url
    assert str(invoice.offline_deadline) in str(error) and "queued" in str(error)
    # The job waits for a worker: claimable (no lease), picked up by the offline sweep.
    assert invoice.job.state in (SendJob.State.QUEUED, SendJob.State.SENDING)
    assert invoice.job.lease_until is None
    assert offline.current_outage() is not None  # the sender detected it
    assert not sendsim.ksef_numbers()

    # In the detected unavailability the "offline" mode is open too.
    more = _files(client, tmp_path, ["FV/K/4/2026"])
    _out, _err, error = _call(
        "send_invoices", "--client", client.nip, "--offline", "--mode", "offline", *more
    )
    assert error is not None and error.returncode == 3
    assert "after the outage" in str(error)


def test_offline_refused_exits_1_and_issues_nothing(sendsim, office, tmp_path):
    client = seller(office)  # no Offline certificate
    files = _files(client, tmp_path, ["FV/K/5/2026"])

    _out, _err, error = _call("send_invoices", "--client", client.nip, "--offline", *files)

    assert error is not None and error.returncode == 1
    assert "Nothing was issued" in str(error)
    invoice = OutgoingInvoice.objects.get()
    assert invoice.state == OutgoingInvoice.State.DRAFT and not invoice.certificate_url

    store_offline(office, client)
    _out, _err, error = _call(
        "send_invoices", "--client", client.nip, "--offline", "--mode", "emergency", *files
    )
    assert error is not None and error.returncode == 1
    assert not OutgoingInvoice.objects.exclude(state=OutgoingInvoice.State.DRAFT).exists()


def test_without_offline_the_command_is_unchanged(sendsim, office, tmp_path):
    client = seller(office)
    files = _files(client, tmp_path, ["FV/K/6/2026"])
    out, _err, error = _call("send_invoices", "--client", client.nip, *files)
    assert error is None
    invoice = OutgoingInvoice.objects.get()
    assert invoice.invoicing_mode == "online" and f": {invoice.ksef_number}" in out


def test_ksef_outage_start_status_end(db):
    out, _err, error = _call("ksef_outage", "status")
    assert error is None and "No outage" in out

    out, _err, error = _call("ksef_outage", "start", "--kind", "emergency", "--note", "BIP 1/2026")
    assert error is None and "emergency (declared)" in out and "BIP 1/2026" in out
    outage = KsefOutage.objects.get()
    assert outage.ended_at is None and outage.source == KsefOutage.Source.DECLARED

    out, _err, _error = _call("ksef_outage", "status")
    assert f"#{outage.pk} emergency" in out

    out, _err, error = _call("ksef_outage", "end")
    assert error is None and "Ended" in out
    outage.refresh_from_db()
    assert outage.ended_at is not None

    _out, _err, error = _call("ksef_outage", "end")
    assert error is not None and error.returncode == 1
