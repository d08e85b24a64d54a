"""`manage.py sync_invoices [--client NIP ...] [--all] [--backfill-from YYYY-MM-DD]`.

Runs the sync engine in the foreground — the same steps the Celery workers run, with the
same shared rate limiter, so it can run next to them — until every named client is up to
date: the incremental cycle reached KSeF's high-water mark and the history is fetched back
to the backfill start. Prints a progress line, then what it stored per client and subject
type. Exit codes: 0 every client is up to date; 1 a client failed (the reason is printed)
or nothing matched.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from clients.models import Client
from invoices.models import InvoiceSyncState, SyncCursor
from invoices.sync import services
from invoices.sync.engine import Engine, StepResult
from invoices.sync.messages import error_message
from invoices.sync.runner import CursorOutcome, RunReport, run_until_done
from portal.validators import normalize_identifier


def plural(n: int, one: str, few: str, many: str) -> str:
    """Polish plural forms: 1 faktura, 2 faktury, 5 faktur (12-14 take the third form)."""
    if n == 1:
        return one
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return few
    return many


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"Niepoprawna data {value!r}: podaj ją jako RRRR-MM-DD.") from None


class Command(BaseCommand):
    help = "Pobiera faktury klientów z KSeF na pierwszym planie, aż będą aktualne."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", action="append", default=[], metavar="NIP")
        parser.add_argument("--all", action="store_true", help="wszyscy aktywni klienci")
        parser.add_argument("--backfill-from", type=_date, metavar="RRRR-MM-DD")
        parser.add_argument("--max-failures", type=int, default=3)

    def handle(self, *args: Any, **options: Any) -> None:
        translation.activate("pl")
        clients = self._clients(options["client"], options["all"])
        cursors = self._prepare(clients, options["backfill_from"])
        total = len(cursors)
        who = plural(len(clients), "klient", "klienci", "klientów")
        kinds = plural(total, "kursor", "kursory", "kursorów")
        self.stdout.write(f"Synchronizacja: {len(clients)} {who}, {total} {kinds}.")
        report = run_until_done(
            Engine(),
            cursors,
            max_failures=options["max_failures"],
            progress=self._progress(total),
        )
        self._summary(report)

    def _clients(self, nips: list[str], everyone: bool) -> list[Client]:
        if not nips and not everyone:
            raise CommandError("Podaj --client NIP (można kilka razy) albo --all.")
        chosen = services.syncable_clients()
        if nips:
            wanted = [normalize_identifier(nip) for nip in nips]
            found = list(Client.objects.filter(nip__in=wanted).select_related("office"))
            missing = sorted(set(wanted) - {client.nip for client in found})
            if missing:
                raise CommandError(f"Nie ma klienta o NIP: {', '.join(missing)}.")
            blocked = [c for c in found if not chosen.filter(pk=c.pk).exists()]
            if blocked:
                names = ", ".join(f"{c.name} ({c.nip})" for c in blocked)
                raise CommandError(
                    f"Tych klientów nie można synchronizować (zarchiwizowani, wstrzymani, bez "
                    f"modelu dostępu albo przed ZAW-FA): {names}."
                )
            return found
        return list(chosen.select_related("office").order_by("office_id", "name"))

    def _prepare(self, clients: list[Client], start: dt.date | None) -> list[int]:
        ids: list[int] = []
        for client in clients:
            cursors = services.cursors_ensure(client)
            if start is not None:
                InvoiceSyncState.objects.filter(client=client).update(backfill_from=start)
                moment = services.day_start(start)
                for cursor in cursors:
                    services.cursor_backfill_set(cursor, moment)
            SyncCursor.objects.filter(pk__in=[c.pk for c in cursors]).update(next_cycle_at=None)
            ids += [c.pk for c in cursors]
        return ids

    def _progress(self, total: int):  # type: ignore[no-untyped-def]
        finished: set[int] = set()
        stored = [0]

        def show(outcome: CursorOutcome, result: StepResult) -> None:
            stored[0] += result.stored
            if outcome.done or result.permanent:
                finished.add(outcome.cursor_id)
            filled = int(20 * len(finished) / total) if total else 20
            bar = "#" * filled + "." * (20 - filled)
            noun = plural(stored[0], "faktura", "faktury", "faktur")
            line = f"\r[{bar}] {len(finished)}/{total} · {stored[0]} {noun}"
            if sys.stdout.isatty() or outcome.done:
                self.stdout.write(line, ending="")
                self.stdout.flush()

        return show

    def _summary(self, report: RunReport) -> None:
        self.stdout.write("")
        cursors = SyncCursor.objects.filter(pk__in=report.outcomes).select_related("client")
        for cursor in cursors.order_by("client__name", "subject_type"):
            outcome = report.outcomes[cursor.pk]
            n = outcome.stored
            line = (
                f"{cursor.client.name} ({cursor.client.nip}) {cursor.subject_type}: "
                f"zapisano {n} {plural(n, 'fakturę', 'faktury', 'faktur')}"
            )
            if outcome.done:
                self.stdout.write(line + " — aktualne.")
            else:
                reason = error_message(cursor.last_error_code, cursor.last_error_params)
                self.stderr.write(line + f" — BŁĄD: {reason or 'nie zakończono'}")
        failed = report.failed
        if failed:
            raise CommandError(
                f"Nie zakończono synchronizacji: {len(failed)} z {len(report.outcomes)} "
                "(przyczyny wyżej)."
            )
        noun = plural(report.stored, "fakturę", "faktury", "faktur")
        self.stdout.write(f"Gotowe: zapisano {report.stored} {noun}.")
