"""`manage.py send_invoices --client NIP FILE_OR_ZIP...`: the portal's sending path in the
foreground — the same checks, the same job and sender as the "Wyślij faktury" screen.
Prints each file's KSeF number or why it was refused or rejected; exits 1 if any was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clients.models import Client
from invoices.models import OutgoingInvoice, SendJob
from invoices.sending import checks, services
from invoices.sending.messages import job_error_message, rejection_message
from invoices.sending.sender import ComeBack, Sender
from portal.messages import render


class Command(BaseCommand):
    help = "Send a client's FA(3) invoice files (XML or ZIP) to KSeF in an online session."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", required=True, help="the client's NIP")
        parser.add_argument("files", nargs="+", help="FA(3) XML files or ZIP archives")

    def handle(self, *args: Any, **options: Any) -> None:
        client = Client.objects.filter(nip=options["client"]).first()
        if client is None:
            raise CommandError(f"No client with NIP {options['client']}.")
        blocked = services.send_blocked_reason(client)
        if blocked:
            raise CommandError(job_error_message(blocked, {"nip": client.nip}))
        uploads = [checks.InvoiceFile(Path(name).name, _read(name)) for name in options["files"]]
        unpacked = checks.unpack(uploads)
        checked = checks.check_files(client, unpacked.files)
        job = services.send_job_create(
            actor=None, client=client, checked=checked, unpack_problems=unpacked.problems
        )
        job = services.send_job_start(actor=None, job=job, enqueue=False)
        if job.state == SendJob.State.QUEUED:
            self._run(job)
        job.refresh_from_db()
        failed = self._report(job)
        if failed:
            raise CommandError(f"{failed} file(s) not sent.")

    def _run(self, job: SendJob) -> None:
        sender = Sender()
        for _attempt in range(10):
            try:
                sender.run(job.pk)
                return
            except ComeBack as again:
                self.stderr.write(f"KSeF: {again.code or 'busy'}; again in {again.countdown:g} s")
                sender.sleep(again.countdown)

    def _report(self, job: SendJob) -> int:
        failed = 0
        for refusal in job.refusals:
            failed += 1
            problems = "; ".join(render(problem) for problem in refusal["problems"])
            self.stdout.write(f"{refusal['name'] or '-'}: REFUSED: {problems}")
        for invoice in job.invoices.order_by("position"):
            if invoice.state == OutgoingInvoice.State.SENT:
                self.stdout.write(f"{invoice.file_name}: {invoice.ksef_number}")
                continue
            failed += 1
            if invoice.state == OutgoingInvoice.State.REJECTED:
                reason = rejection_message(invoice.status_code, invoice.status_description)
                self.stdout.write(
                    f"{invoice.file_name}: REJECTED ({invoice.status_code}): {reason}"
                )
            else:
                self.stdout.write(f"{invoice.file_name}: NOT SENT ({invoice.state})")
        if job.state == SendJob.State.FAILED:
            self.stderr.write(job_error_message(job.error_code, job.error_params))
        return failed


def _read(name: str) -> bytes:
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise CommandError(f"Cannot read {name}: {exc}") from None
