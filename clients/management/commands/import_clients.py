"""`manage.py import_clients FILE --office NIP`: the web import's rules, from a terminal.

Exit codes, so that scripts can tell the outcomes apart:
- 0: every row of the file is in the register now (imported, or registered before — so
  running the same file twice exits 0 both times);
- 1: the file or the office could not be used at all; nothing was imported;
- 2: some rows were rejected (each printed with its line and reason on stderr); the valid
  rows were imported all the same, in one transaction.
With --dry-run nothing is written and the exit code says what an import would do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from clients import csv_import
from clients.services import client_import
from portal.models import Office
from portal.validators import normalize_identifier

EXIT_ROWS_REJECTED = 2


class Command(BaseCommand):
    help = "Importuje klientów biura z pliku CSV (nip;nazwa;forma_prawna;pieczec;emaile;opiekun)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="plik CSV (UTF-8 lub Windows-1250)")
        parser.add_argument("--office", required=True, help="NIP biura, do którego importować")
        parser.add_argument(
            "--dry-run", action="store_true", help="tylko sprawdź plik, niczego nie zapisuj"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        office = Office.objects.filter(nip=normalize_identifier(options["office"])).first()
        if office is None:
            raise CommandError(f"Nie ma biura o NIP {options['office']}.")
        path: Path = options["file"]
        try:
            csv_import.check_size(path.stat().st_size)
            preview = csv_import.parse(path.read_bytes(), office=office)
        except OSError as exc:
            raise CommandError(f"Nie można odczytać pliku {path}: {exc.strerror}") from exc
        except csv_import.ImportFileError as exc:
            raise CommandError(str(exc)) from exc

        if preview.ignored_columns:
            self.stderr.write(
                f"{path.name}: nie rozpoznano kolumn: {', '.join(preview.ignored_columns)} — "
                "ich zawartość pominięto (kolumny: nip, nazwa, forma_prawna, pieczec, emaile, "
                "opiekun)."
            )
        for row in preview.rejected:
            for error in row.errors:
                self.stderr.write(f"{path.name}:{row.line}: {error}")
        created = 0
        if not options["dry_run"] and preview.valid_rows:
            try:
                summary = client_import(
                    office=office,
                    actor=None,
                    rows=preview.valid_rows,
                    source=f"manage.py import_clients {path.name}",
                )
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
            created = len(summary.created)
        verb = "Do zaimportowania" if options["dry_run"] else "Zaimportowano"
        self.stdout.write(
            f"{verb}: {len(preview.valid_rows) if options['dry_run'] else created}; "
            f"już w rejestrze: {len(preview.rejected) - len(preview.failed)}; "
            f"odrzucono: {len(preview.failed)} (kodowanie {preview.encoding}, "
            f"separator '{preview.delimiter}')."
        )
        if preview.failed:
            raise CommandError(
                f"{len(preview.failed)} wierszy odrzucono — popraw je i uruchom import ponownie.",
                returncode=EXIT_ROWS_REJECTED,
            )
