"""Hostile client lists, through the web import and `manage.py import_clients`.

Every file is answered with its specific message (a page with the form again, or the
command's error), no client is created, and nothing raises.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from clients import csv_import
from clients.models import Client
from tests.factories import valid_nip

HEADER = "nip;nazwa;forma_prawna;pieczec;emaile;opiekun\r\n"


def _row(name: str = "Piekarnia sp. z o.o.", emails: str = "biuro@piekarnia.example") -> str:
    return f"{valid_nip(901)};{name};sp. z o.o.;nie;{emails};\r\n"


@dataclass(frozen=True)
class Case:
    id: str
    data: bytes
    expected: str
    file_error: bool = True  # the whole file is refused (else: the row is)


CASES = [
    Case("empty", b"", "pusty"),  # the form says "Wysłany plik jest pusty"
    Case("only_whitespace", b" \r\n\r\n ", "Plik jest pusty"),
    Case("xlsx_file", b"PK\x03\x04" + b"\x00" * 200, "To arkusz Excel"),
    Case("xls_file", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 200, "To arkusz Excel"),
    Case("nul_in_file", (HEADER + _row("Pie\x00karnia")).encode(), "znaki NUL"),
    Case("utf16_without_bom", (HEADER + _row()).encode("utf-16-le"), "znaki NUL"),
    Case(
        "unterminated_quote",
        (HEADER + f'{valid_nip(902)};"Piekarnia;jdg;nie;a@b.pl;\r\n').encode(),
        "cudzysłów",
    ),
    Case("cell_over_the_csv_limit", (HEADER + _row("x" * 200_000)).encode(), "komórkę dłuższą niż"),
    Case("file_over_the_size_limit", (HEADER + _row() * 40_000).encode(), "Plik jest za duży"),
    Case(
        "too_many_rows",
        (
            HEADER + "".join(f"{valid_nip(n)};F{n};jdg;nie;a{n}@b.pl;\r\n" for n in range(1, 5003))
        ).encode(),
        "więcej niż 5000 wierszy",
    ),
    Case(
        "missing_columns", b"nip;nazwa\r\n5265877635;Firma\r\n", "Brak kolumn: forma_prawna, emaile"
    ),
    Case(
        "repeated_column", (HEADER.replace("opiekun", "emaile") + _row()).encode(), "więcej niż raz"
    ),
    Case("only_garbage", bytes(range(1, 256)) * 20, "Nie rozpoznano kodowania"),
    Case(
        "cell_of_5000_chars", (HEADER + _row("y" * 5000)).encode(), "(limit 1000)", file_error=False
    ),
    Case(
        "control_character_in_name",
        (HEADER + _row("Pie\x07karnia")).encode(),
        "znaki sterujące",
        file_error=False,
    ),
    Case(
        "escape_sequence_in_email",
        (HEADER + _row(emails="a\x1b[31m@b.pl")).encode(),
        "znaki sterujące",
        file_error=False,
    ),
    Case(
        "formula_in_nip",
        (HEADER + "=1+1;Firma;jdg;nie;a@b.pl;\r\n").encode(),
        "NIP",
        file_error=False,
    ),
    Case(
        "bad_seal_value",
        (HEADER + f"{valid_nip(903)};Firma;jdg;może;a@b.pl;\r\n").encode(),
        "pieczec",
        file_error=False,
    ),
    Case(
        "unknown_legal_form",
        (HEADER + f"{valid_nip(904)};Firma;korporacja;nie;a@b.pl;\r\n").encode(),
        "Nieznana forma prawna",
        file_error=False,
    ),
    Case(
        "bad_email", (HEADER + _row(emails="to nie jest adres")).encode(), "adres", file_error=False
    ),
    Case(
        "name_of_301_chars",
        (HEADER + _row("z" * 301)).encode(),
        "dłuższa niż 300",
        file_error=False,
    ),
    Case(
        "unknown_accountant",
        (HEADER + f"{valid_nip(905)};Firma;jdg;nie;a@b.pl;nikt\r\n").encode(),
        "Nieznany opiekun",
        file_error=False,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_hostile_list_in_the_browser_gets_its_message_and_creates_nothing(case, login, manager):
    upload = SimpleUploadedFile("klienci.csv", case.data, content_type="text/csv")
    response = login(manager).post(reverse("clients:import"), {"file": upload})
    assert response.status_code == 200
    assert case.expected in response.content.decode()
    assert Client.objects.count() == 0


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_hostile_list_on_the_command_line_gets_its_message_and_creates_nothing(
    case, office, manager, tmp_path
):
    path = tmp_path / "klienci.csv"
    path.write_bytes(case.data)
    stderr = io.StringIO()
    if case.file_error:
        with pytest.raises(CommandError, match=None) as raised:
            call_command("import_clients", "--office", office.nip, str(path), stderr=stderr)
        assert case.expected in str(raised.value)
    else:
        with pytest.raises(CommandError):  # rejected rows make the command fail
            call_command("import_clients", "--office", office.nip, str(path), stderr=stderr)
        assert case.expected in stderr.getvalue()
    assert Client.objects.count() == 0


def test_unrecognised_columns_are_named_in_the_preview(login, manager, office):
    data = (
        "nip;nazwa;forma_prawna;emaile;telefon;uwagi\r\n"
        f"{valid_nip(906)};Firma;jdg;a@b.pl;123;x\r\n"
    ).encode()
    preview = csv_import.parse(data, office=office)
    assert preview.ignored_columns == ["telefon", "uwagi"]
    upload = SimpleUploadedFile("klienci.csv", data, content_type="text/csv")
    page = login(manager).post(reverse("clients:import"), {"file": upload}).content.decode()
    assert "Nie rozpoznano kolumn: telefon, uwagi" in page


def test_a_utf16_list_with_its_byte_order_mark_is_read(office):
    preview = csv_import.parse((HEADER + _row()).encode("utf-16"), office=office)
    assert preview.encoding == "UTF-16"
    assert len(preview.valid_rows) == 1
