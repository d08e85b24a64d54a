"""Reading and validating a client list exported from a spreadsheet (web and command).

Format (header row required, column order free, names case-insensitive):

    nip;nazwa;forma_prawna;pieczec;emaile;opiekun
    526-587-76-35;Piekarnia Pod Lipą sp. z o.o.;sp. z o.o.;nie;biuro@piekarnia.pl;ksiegowa

- nip: with or without spaces, dashes or the PL prefix; checksum-validated.
- forma_prawna: a code (jdg, spzoo, sa, …), an abbreviation ("sp. z o.o.", "S.A.", "JDG")
  or the Polish name ("spółka jawna").
- pieczec: tak/nie (empty = nie): whether the company has a qualified seal with its NIP.
- emaile: one or more addresses separated by spaces, commas or semicolons.
- opiekun: optional username of an accountant of the office.

Encoding: UTF-8 (with or without BOM) or Windows-1250 (Polish Excel). Separator: `;` or
`,`, taken from the header line. Limits: `MAX_BYTES` and `MAX_ROWS`.

Parsing only reads the database (duplicates, accountants); `clients.services.client_import`
does the writing, so the web preview and `manage.py import_clients` share every rule.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from clients.forms import clean_nip, office_accountants, parse_contact_emails
from clients.models import Client, LegalForm
from clients.services import ClientRow
from portal.models import Membership, Office
from portal.text import format_sentence

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
MAX_CELL_CHARS = 1000  # a name is at most 300, a list of e-mails a few hundred
# C0 control characters other than tab and line ends: never part of a name or an address
# (NUL also breaks PostgreSQL text columns).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
REQUIRED_COLUMNS = ("nip", "nazwa", "forma_prawna", "emaile")
OPTIONAL_COLUMNS = ("pieczec", "opiekun")
_HEADER_ALIASES = {
    "pieczęć": "pieczec",
    "pieczec(tak/nie)": "pieczec",
    "pieczęć(tak/nie)": "pieczec",
    "e-maile": "emaile",
    "email": "emaile",
    "e-mail": "emaile",
    "forma prawna": "forma_prawna",
    "forma": "forma_prawna",
}

EXAMPLE_CSV = (
    "nip;nazwa;forma_prawna;pieczec;emaile;opiekun\r\n"
    "5265877635;Piekarnia Pod Lipą sp. z o.o.;sp. z o.o.;nie;"
    "biuro@piekarnia.example ksiegowosc@piekarnia.example;\r\n"
    "7980332920;Jan Kowalski Usługi Remontowe;JDG;nie;jan.kowalski@example.com;\r\n"
    "3755747347;Zielona Fundacja;fundacja;tak;kontakt@zielona.example;\r\n"
)

_YES = {"tak", "t", "yes", "y", "1", "true", "prawda"}
_NO = {"nie", "n", "no", "0", "false", "fałsz", ""}


def _compact(text: str) -> str:
    return re.sub(r"[\s.\-]", "", text.casefold())


def _legal_form_aliases() -> dict[str, str]:
    aliases = {_compact(code): code for code in LegalForm.values}
    for code, label in LegalForm.choices:
        # "Spółka jawna (sp.j.)" → "spółka jawna" and "sp.j."
        name, _sep, abbreviation = str(label).partition(" (")
        aliases[_compact(name)] = code
        if abbreviation:
            aliases[_compact(abbreviation.rstrip(")"))] = code
    extra = {
        "jednoosobowa działalność": LegalForm.SOLE_PROPRIETORSHIP,
        "działalność gospodarcza": LegalForm.SOLE_PROPRIETORSHIP,
        "osoba fizyczna": LegalForm.SOLE_PROPRIETORSHIP,
        "sp z oo": LegalForm.LIMITED_LIABILITY_COMPANY,
        "z oo": LegalForm.LIMITED_LIABILITY_COMPANY,
        "spj": LegalForm.GENERAL_PARTNERSHIP,
        "spk": LegalForm.LIMITED_PARTNERSHIP,
        "spp": LegalForm.PROFESSIONAL_PARTNERSHIP,
        "sa": LegalForm.JOINT_STOCK_COMPANY,
        "spółdzielnia": LegalForm.COOPERATIVE,
        "fundacja": LegalForm.FOUNDATION,
        "stowarzyszenie": LegalForm.ASSOCIATION,
        "inna": LegalForm.OTHER,
    }
    aliases.update({_compact(k): str(v) for k, v in extra.items()})
    return aliases


LEGAL_FORM_ALIASES = _legal_form_aliases()


def legal_form_from(text: str) -> str | None:
    """The LegalForm code for a code, abbreviation or Polish name; None when unknown."""
    return LEGAL_FORM_ALIASES.get(_compact(text))


class ImportFileError(Exception):
    """The file as a whole cannot be imported (size, encoding, header); nothing is read."""


@dataclass
class ParsedRow:
    line: int
    values: dict[str, str]
    errors: list[str] = field(default_factory=list)
    row: ClientRow | None = None
    already_registered: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ImportPreview:
    rows: list[ParsedRow]
    encoding: str
    delimiter: str
    # Header names that are not columns of the format: their cells are not imported.
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def valid_rows(self) -> list[ClientRow]:
        return [r.row for r in self.rows if r.row is not None and r.ok]

    @property
    def rejected(self) -> list[ParsedRow]:
        return [r for r in self.rows if not r.ok]

    @property
    def failed(self) -> list[ParsedRow]:
        """Rejected for a reason other than being registered already (a re-import)."""
        return [
            r for r in self.rows if r.errors and not (r.already_registered and len(r.errors) == 1)
        ]


def check_size(size: int) -> None:
    if size > MAX_BYTES:
        raise ImportFileError(
            _("Plik jest za duży (%(size)d kB); limit to %(limit)d MB — podziel go na części.")
            % {"size": size // 1024, "limit": MAX_BYTES // (1024 * 1024)}
        )


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding name: UTF-8 (BOM or not) first, then Windows-1250; UTF-16
    only with its byte-order mark (Excel's "Unicode text")."""
    check_size(len(data))
    if not data.strip():
        raise ImportFileError(_("Plik jest pusty."))
    if data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ImportFileError(
            _("To arkusz Excel, nie plik CSV. W Excelu wybierz „Zapisz jako” → „CSV UTF-8”.")
        )
    text, encoding = _decoded(data)
    if "\x00" in text:
        raise ImportFileError(
            _(
                "Plik zawiera znaki NUL — to nie jest plik tekstowy CSV albo jest uszkodzony. "
                "Zapisz go ponownie jako CSV UTF-8."
            )
        )
    return text, encoding


def _decoded(data: bytes) -> tuple[str, str]:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1250"), "Windows-1250"
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            _("Nie rozpoznano kodowania pliku. Zapisz go jako CSV UTF-8 lub Windows-1250.")
        ) from exc


def _header(line: str) -> tuple[str, list[str]]:
    delimiter = ";" if line.count(";") >= line.count(",") else ","
    names = [c.strip().strip('"').strip().casefold() for c in line.split(delimiter)]
    names = [_HEADER_ALIASES.get(n, _HEADER_ALIASES.get(n.replace(" ", ""), n)) for n in names]
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated:
        raise ImportFileError(
            _("Kolumna %(names)s występuje w nagłówku więcej niż raz — zostaw jedną.")
            % {"names": ", ".join(repeated)}
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise ImportFileError(
            _(
                "Brak kolumn: %(missing)s. Pierwszy wiersz pliku musi zawierać nagłówki: "
                "nip;nazwa;forma_prawna;pieczec;emaile;opiekun."
            )
            % {"missing": ", ".join(missing)}
        )
    return delimiter, names


def parse(data: bytes, *, office: Office) -> ImportPreview:
    """Validate every row; raises ImportFileError when the file itself is unusable."""
    text, encoding = decode(data)
    first_line = text.lstrip("\r\n").splitlines()[0]
    delimiter, names = _header(first_line)
    # strict: a quote left open is an error, not a cell that swallows the rest of the file.
    reader = csv.reader(io.StringIO(text.lstrip("\r\n")), delimiter=delimiter, strict=True)
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    records: list[ParsedRow] = []
    try:
        next(reader)
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue  # blank lines of spreadsheet exports
            if len(records) == MAX_ROWS:
                raise ImportFileError(
                    _("Plik ma więcej niż %(limit)d wierszy — podziel go na części.")
                    % {"limit": MAX_ROWS}
                )
            values = {
                name: (record[i].strip() if i < len(record) else "")
                for i, name in enumerate(names)
                if name in known
            }
            row = ParsedRow(line=reader.line_num, values=values)
            _check_cells(row)
            records.append(row)
    except csv.Error as exc:
        raise _csv_error(exc, reader.line_num + 1) from None
    _validate(records, office)
    ignored = [name for name in names if name and name not in known]
    return ImportPreview(
        rows=records, encoding=encoding, delimiter=delimiter, ignored_columns=ignored
    )


def _csv_error(exc: csv.Error, line: int) -> ImportFileError:
    if "field larger than field limit" in str(exc):
        return ImportFileError(
            _(
                "Wiersz %(line)d zawiera komórkę dłuższą niż %(limit)d znaków — to nie jest "
                "lista klientów. Sprawdź, czy wybrano właściwy plik."
            )
            % {"line": line, "limit": csv.field_size_limit()}
        )
    return ImportFileError(
        _(
            "Wiersz %(line)d: niepoprawny format CSV — prawdopodobnie cudzysłów otwarty, ale "
            'niezamknięty. Każdy „"” otwierający komórkę musi mieć zamykający.'
        )
        % {"line": line}
    )


def _check_cells(row: ParsedRow) -> None:
    for name, value in row.values.items():
        if len(value) > MAX_CELL_CHARS:
            row.errors.append(
                _("Kolumna %(column)s ma %(length)d znaków (limit %(limit)d).")
                % {"column": name, "length": len(value), "limit": MAX_CELL_CHARS}
            )
        elif _CONTROL.search(value):
            row.errors.append(
                _(
                    "Kolumna %(column)s zawiera niedozwolone znaki sterujące — popraw komórkę "
                    "w arkuszu i zapisz plik ponownie."
                )
                % {"column": name}
            )


def _validate(records: list[ParsedRow], office: Office) -> None:
    nips: dict[str, int] = {}
    for record in records:
        _validate_row(record, nips)
    registered = dict(
        Client.objects.filter(office=office, nip__in=list(nips)).values_list("nip", "name")
    )
    usernames = {m.user.get_username() for m in office_accountants(office)}
    inactive = set(
        Membership.objects.filter(
            office=office, role=Membership.Role.ACCOUNTANT, user__is_active=False
        ).values_list("user__username", flat=True)
    )
    for record in records:
        if record.row is None:
            continue
        name = registered.get(record.row.nip)
        if name is not None:
            record.already_registered = True
            record.errors.append(
                format_sentence(
                    _("Klient z tym NIP jest już w rejestrze biura: %(name)s."), {"name": name}
                )
            )
        username = record.row.accountant_username
        if username and username in inactive:
            record.errors.append(
                _("Opiekun „%(username)s” ma nieaktywne konto — wskaż aktywnego księgowego.")
                % {"username": username}
            )
        elif username and username not in usernames:
            record.errors.append(
                _("Nieznany opiekun „%(username)s” — podaj login księgowego tego biura.")
                % {"username": username}
            )


def _validate_row(record: ParsedRow, nips: dict[str, int]) -> None:
    values, errors = record.values, record.errors
    nip = ""
    try:
        nip = clean_nip(values.get("nip", ""))
    except ValidationError as error:
        errors.extend(error.messages)
    if nip and nip in nips:
        errors.append(
            _("NIP powtarza się w pliku (pierwszy raz w wierszu %(line)d).") % {"line": nips[nip]}
        )
    elif nip:
        nips[nip] = record.line
    name = values.get("nazwa", "")
    if not name:
        errors.append(_("Brak nazwy klienta."))
    elif len(name) > 300:
        errors.append(_("Nazwa jest dłuższa niż 300 znaków."))
    legal_form = legal_form_from(values.get("forma_prawna", ""))
    if legal_form is None:
        errors.append(
            _("Nieznana forma prawna „%(value)s” — użyj np. JDG, sp. z o.o., S.A., sp.j.")
            % {"value": values.get("forma_prawna", "")}
        )
    seal_text = values.get("pieczec", "").casefold()
    if seal_text not in _YES | _NO:
        errors.append(_("Kolumna pieczec: wpisz „tak” albo „nie”."))
    emails: list[str] = []
    try:
        emails = parse_contact_emails(values.get("emaile", ""))
    except ValidationError as error:
        errors.extend(error.messages)
    if errors:
        return
    assert legal_form is not None
    record.row = ClientRow(
        line=record.line,
        nip=nip,
        name=name,
        legal_form=legal_form,
        has_qualified_seal=seal_text in _YES,
        contact_emails=tuple(emails),
        accountant_username=values.get("opiekun", ""),
    )
