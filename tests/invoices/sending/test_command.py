"""`manage.py send_invoices`: the same path in the foreground, each file's KSeF number or
its refusal printed, a non-zero exit when any file was not sent."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.management import CommandError, call_command

from clients.models import AccessModel
from invoices.models import OutgoingInvoice
from invoices.sending import sender as sender_module
from tests.invoices.sending.support import example, seller, sendsim_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _virtual_clock(sendsim, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sender_module, "Sender", lambda: sendsim.sender())


def _run(*args: str) -> tuple[str, str, CommandError | None]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("send_invoices", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), exc
    return out.getvalue(), err.getvalue(), None


def test_it_sends_files_and_a_zip_printing_each_ksef_number(office, tmp_path):
    client = seller(office)
    single = tmp_path / "FV-1.xml"
    single.write_bytes(example(client, "FV/1"))
    archive = tmp_path / "faktury.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("FV-2.xml", example(client, "FV/2"))
        zipped.writestr("FV-3.xml", example(client, "FV/3"))

    out, _err, error = _run("--client", client.nip, str(single), str(archive))

    assert error is None, out
    numbers = OutgoingInvoice.objects.values_list("file_name", "ksef_number")
    assert len(numbers) == 3
    for name, ksef_number in numbers:
        assert f"{name}: {ksef_number}" in out and ksef_number


def test_it_exits_non_zero_naming_the_refused_file(office, tmp_path):
    client = seller(office)
    good = tmp_path / "FV-1.xml"
    good.write_bytes(example(client, "FV/1"))
    bad = tmp_path / "obcy.xml"
    bad.write_bytes(example(client, "FV/2").replace(client.nip.encode(), b"9999999999", 1))

    out, _err, error = _run("--client", client.nip, str(good), str(bad))

    assert error is not None
    assert "obcy.xml: REFUSED: Sprzedawcą w pliku jest NIP 9999999999" in out
    assert "FV-1.xml: " in out and OutgoingInvoice.objects.get().ksef_number in out


def test_it_refuses_a_client_that_has_no_credential(office, tmp_path):
    from tests.factories import make_client

    client = make_client(office, access_model=AccessModel.CLIENT_CREDENTIAL)
    path = tmp_path / "FV-1.xml"
    path.write_bytes(example(client, "FV/1"))

    _out, _err, error = _run("--client", client.nip, str(path))

    assert error is not None and "Brak aktywnego poświadczenia" in str(error)
    assert not OutgoingInvoice.objects.exists()
