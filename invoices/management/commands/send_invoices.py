"""`manage.py send_invoices --client NIP FILE_OR_ZIP...`: the portal's sending path in the
foreground — the same checks, the same job and sender as the "Wyślij faktury" screen.
Prints each file's KSeF number or why it was refused or rejected; exits 1 if any was.

`--offline [--mode offline24|offline|emergency]` (default offline24) first issues the
files offline (invoices/sending/offline.py: KOD II signed, deadline set) and prints each
file's KOD II link and deadline, then tries KSeF once. Exit codes with --offline:

* 0 — every file issued offline and sent (its KSeF number printed);
* 1 — a file refused by the checks or rejected by KSeF, or nothing issued (no Offline
  certificate, the mode needs an outage that is not in force, ...): nothing was issued
  when the issuance itself was refused;
* 3 — issued offline, but KSeF does not answer: the invoices are queued and the portal's
  worker sends them when KSeF answers (the offline sweep picks the job up within about
  35 minutes); their deadline is printed, and any file the checks refused is listed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from clients.models import Client
from invoices.models import OutgoingInvoice, SendJob
from invoices.sending import checks, offline, services
from invoices.sending.messages import job_error_message, rejection_message
from invoices.sending.sender import ComeBack, Sender
from portal.messages import render


class Command(BaseCommand):
    help = "Send a client's FA(3) invoice files (XML or ZIP) to KSeF in an online session."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", required=True, help="the client's NIP")
        parser.add_argument("files", nargs="+", help="FA(3) XML files or ZIP archives")
        parser.add_argument(
            "--offline",
            action="store_true",
            help="issue the invoices offline (KOD II) first, then send them when KSeF answers",
        )
        parser.add_argument(
            "--mode",
            choices=[str(mode) for mode in offline.OFFLINE_MODES],
            default=str(OutgoingInvoice.Mode.OFFLINE24),
            help="the offline mode (with --offline; default offline24)",
        )

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
        if options["offline"]:
            self._offline(job, options["mode"])
            return
        job = services.send_job_start(actor=None, job=job, enqueue=False)
        if job.state == SendJob.State.QUEUED:
            self._run(job)
        job.refresh_from_db()
        failed = self._report(job)
        if failed:
            raise CommandError(f"{failed} file(s) not sent.")

    def _offline(self, job: SendJob, mode: str) -> None:
        if not job.invoices.exists():
            self._report(job)
            raise CommandError("No file passed the checks; nothing was issued.")
        try:
            job = services.send_job_start(actor=None, job=job, enqueue=False, mode=mode)
        except offline.OfflineRefused as refused:
            self._report_refusals(job)
            raise CommandError(
                job_error_message(refused.code, refused.params) + " Nothing was issued."
            ) from None
        today = offline.local_day(timezone.now())
        for invoice in job.invoices.order_by("position"):
            due = invoice.offline_deadline or "after the KSeF outage ends"
            late = invoice.offline_deadline is not None and invoice.offline_deadline < today
            self.stdout.write(
                f"{invoice.file_name}: ISSUED {invoice.invoicing_mode}, due in KSeF by {due}"
                + (" (the deadline has passed: it reaches KSeF late)" if late else "")
            )
            self.stdout.write(f"  KOD II: {invoice.certificate_url}")
        if not self._run(job, stop_when_unavailable=True):
            job.refresh_from_db()
            self._report_refusals(job)
            waiting = job.invoices.exclude(state=OutgoingInvoice.State.SENT)
            deadlines = sorted({str(i.offline_deadline or "after the outage") for i in waiting})
            raise CommandError(
                f"KSeF does not answer: {waiting.count()} invoice(s) issued offline are queued "
                f"and will be sent when it answers (deadline: {', '.join(deadlines)}).",
                returncode=3,
            )
        job.refresh_from_db()
        failed = self._report(job)
        if failed:
            raise CommandError(f"{failed} file(s) not sent.")

    def _report_refusals(self, job: SendJob) -> None:
        for refusal in job.refusals:
            problems = "; ".join(render(problem) for problem in refusal["problems"])
            self.stdout.write(f"{refusal['name'] or '-'}: REFUSED: {problems}")

    def _run(self, job: SendJob, *, stop_when_unavailable: bool = False) -> bool:
        """Run the sender until the job ends; False when it stopped because KSeF does not
        answer (with STOP_WHEN_UNAVAILABLE) or kept coming back."""
        sender = Sender()
        for _attempt in range(10):
            try:
                sender.run(job.pk)
                return True
            except ComeBack as again:
                self.stderr.write(f"KSeF: {again.code or 'busy'}; again in {again.countdown:g} s")
                if again.unavailable and stop_when_unavailable:
                    return False
                sender.sleep(again.countdown)
        return False

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
