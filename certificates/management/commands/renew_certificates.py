"""`manage.py renew_certificates [--client NIP ...] [--dry-run]`.

Runs automatic renewal in the foreground — the same service the daily Celery task runs,
with the same claim, so it can run next to the workers — and prints, per certificate, what
it renewed or why not. Without --client: every certificate that is due in every office.
With --client: every stored credential of those clients (or of the office with that NIP),
each with its reason when it is not renewed. --dry-run only prints. Exit code 1 when a
renewal failed or KSeF did not answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from django.utils import timezone, translation

from certificates.models import Credential, CredentialRenewal
from certificates.renewal import selectors, services
from certificates.renewal.failures import date_text
from clients.models import Client
from portal.models import Office
from portal.validators import normalize_identifier


class Command(BaseCommand):
    help = "Odnawia certyfikaty KSeF, którym kończy się ważność (na pierwszym planie)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", action="append", default=[], metavar="NIP")
        parser.add_argument("--dry-run", action="store_true", help="tylko pokaż, co by zrobiono")

    def handle(self, *args: Any, **options: Any) -> None:
        translation.activate("pl")
        now = timezone.now()
        dry_run = options["dry_run"]
        if not dry_run:
            services.renewals_activate_due(now=now)
            services.predecessors_retire(now=now)
        nips = [normalize_identifier(nip) for nip in options["client"]]
        credentials = self._named(nips) if nips else selectors.credentials_due(now=now)
        if not credentials:
            self.stdout.write("Nie ma certyfikatów do odnowienia.")
            return
        failed = 0
        for credential in credentials:
            reason = self._why_not(credential, now, named=bool(nips))
            label = self._label(credential)
            if reason:
                self.stdout.write(f"{label}: pominięto — {reason}")
            elif dry_run:
                self.stdout.write(f"{label}: do odnowienia (próba na sucho, nic nie wysłano).")
            else:
                failed += not self._renew(credential, label)
        if failed:
            raise CommandError(f"Nie udało się odnowić: {failed}.")

    def _named(self, nips: list[str]) -> list[Credential]:
        clients = set(Client.objects.filter(nip__in=nips).values_list("nip", flat=True))
        offices = set(Office.objects.filter(nip__in=nips).values_list("nip", flat=True))
        missing = sorted(set(nips) - clients - offices)
        if missing:
            raise CommandError(f"Nie ma klienta ani biura o NIP: {', '.join(missing)}.")
        found = Credential.objects.filter(status=Credential.Status.ACTIVE).filter(
            Q(client__nip__in=nips) | Q(client__isnull=True, office__nip__in=nips)
        )
        return list(found.select_related("client", "office").order_by("client_id", "kind"))

    def _why_not(self, credential: Credential, now: datetime, *, named: bool) -> str:
        if credential.kind == Credential.Kind.TOKEN:
            return "token KSeF nie może wnioskować o certyfikaty (zastąp go certyfikatem)."
        if credential.is_personal or credential.owner_identifier_type != "Nip":
            return "certyfikat osobisty (PESEL) odnawia sam właściciel w Aplikacji Podatnika."
        if not selectors.is_renewable(credential):
            return "to nie jest certyfikat wystawiony przez KSeF."
        settings = selectors.renewal_settings_of(credential.office)
        if not selectors.renewal_enabled_for(credential, settings):
            return "automatyczne odnawianie jest wyłączone (zgoda klienta / ustawienia biura)."
        renewal = selectors.renewal_of(credential)
        if renewal is not None and renewal.state in (
            CredentialRenewal.State.STORED,
            CredentialRenewal.State.RENEWED,
        ):
            return "już odnowiony."
        due_on = (credential.valid_to or now) - timedelta(days=settings.days_before)
        if named and due_on > now:
            return f"odnowienie zaplanowane od {date_text(due_on)}."
        return ""

    def _renew(self, credential: Credential, label: str) -> bool:
        renewal = services.renewal_for(credential)
        try:
            report = services.renewal_perform(renewal_id=renewal.pk)
        except services.RenewalBusy as exc:
            self.stdout.write(f"{label}: KSeF chwilowo nie odpowiada — {exc.message}")
            return False
        if report.outcome in ("renewed", "stored"):
            self.stdout.write(f"{label}: {report.message}")
            return True
        if report.outcome == "held":
            self.stdout.write(f"{label}: odnawia go właśnie inny proces.")
            return True
        if report.outcome == "skipped":
            self.stdout.write(f"{label}: nic do zrobienia.")
            return True
        self.stdout.write(f"{label}: NIEPOWODZENIE — {report.message}")
        return False

    def _label(self, credential: Credential) -> str:
        holder = credential.client.name if credential.client else credential.office.name
        return f"{holder} · {credential.get_kind_display()} {credential.serial_number}".strip()
