"""`manage.py renew_certificates`: the same service in the foreground, with its reasons."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from certificates.models import ClientRenewalChoice, Credential
from certificates.services import credential_upload
from tests.certificates.conftest import token_for
from tests.certificates.renewal.conftest import issue, store


def _run(*args: str) -> str:
    out = StringIO()
    call_command("renew_certificates", *args, stdout=out)
    return out.getvalue()


def test_a_dry_run_names_what_is_due_and_sends_nothing(sim, due_client):
    client, _credential, _files = due_client
    output = _run("--dry-run")
    assert "do odnowienia (próba na sucho" in output
    assert client.name in output
    assert sim.enrollments(client.nip) == 0


def test_it_renews_a_named_client_and_prints_the_new_validity(sim, due_client):
    client, _credential, _files = due_client
    output = _run("--client", client.nip)
    assert "Odnowiono: nowy certyfikat" in output
    assert sim.enrollments(client.nip) == 1
    assert Credential.objects.get(client=client, status="active").source == "renewal"


def test_it_says_why_a_named_clients_credentials_are_not_renewed(
    sim, renewing_office, client_company
):
    store(client_company, issue(sim.state, client_company.nip, ends_in=_days(300)))
    credential_upload(
        office=client_company.office,
        client=client_company,
        kind="token",
        token=token_for(client_company.nip),
        actor=None,
    )
    output = _run("--client", client_company.nip)
    assert "odnowienie zaplanowane od" in output
    assert "token KSeF nie może wnioskować o certyfikaty" in output
    ClientRenewalChoice.objects.create(
        office=client_company.office, client=client_company, enabled=False
    )
    assert "automatyczne odnawianie jest wyłączone" in _run("--client", client_company.nip)
    assert sim.enrollments(client_company.nip) == 0


def test_a_failure_is_printed_and_the_exit_code_says_so(sim, due_client):
    client, credential, _files = due_client
    sim.state.certificates[credential.serial_number].status = "Revoked"
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("renew_certificates", "--client", client.nip, stdout=out)
    assert "NIEPOWODZENIE" in out.getvalue() and "unieważniony" in out.getvalue()


def test_an_unknown_nip_is_refused(db):
    with pytest.raises(CommandError, match="Nie ma klienta ani biura"):
        _run("--client", "5265877635")


def _days(n: int):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    return timedelta(days=n)
