"""CSV import: every kind of bad row is reported, only good rows are imported, re-importing
adds nothing; in the browser and with `manage.py import_clients`."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from clients import csv_import
from clients.models import Client, LegalForm, Prerequisite
from portal.models import AuditEvent
from tests.factories import valid_nip

State = Prerequisite.State


@pytest.fixture
def nips():
    return [valid_nip() for _ in range(6)]


@pytest.fixture
def spreadsheet(nips, client_company, accountant):
    """Four good rows (one with Polish letters), and one bad row of every kind."""
    a, b, c, d, e, f = nips
    lines = [
        "NIP;Nazwa;Forma_prawna;Pieczec;Emaile;Opiekun",
        f"PL {a[:3]}-{a[3:6]}-{a[6:8]}-{a[8:]};Łódzka Spółdzielnia Mleczarska;spółdzielnia;nie;"
        "mleko@lodz.example;ksiegowa",
        f"{b};Żabka Jan Kowalski;JDG;;jan@zabka.example, biuro@zabka.example;",
        f"{c};Gęś Sp. z o.o.;sp. z o.o.;tak;ges@ges.example;",
        f"{d};Fundacja Źródło;Fundacja;NIE;zrodlo@example.org;",
        "1234567890;Zły NIP sp. z o.o.;spzoo;nie;a@b.example;",
        f"{a};Duplikat w pliku;sa;nie;dup@example.com;",
        f"{client_company.nip};Już zarejestrowany;spzoo;nie;x@y.example;",
        f"{e};Nieznana forma;LLC;nie;llc@example.com;",
        f"{f};Zły e-mail;sa;nie;to-nie-jest-email;",
        f"{valid_nip()};;sa;nie;bez@nazwy.example;",
        f"{valid_nip()};Nieznany opiekun;sa;nie;op@example.com;nikt",
        "",
    ]
    return "\r\n".join(lines).encode("cp1250")


EXPECTED_ERRORS = {
    6: "NIP ma błędną cyfrę kontrolną",
    7: "NIP powtarza się w pliku (pierwszy raz w wierszu 2)",
    8: "już w rejestrze biura: Piekarnia Pod Lipą",
    9: "Nieznana forma prawna „LLC”",
    10: "Niepoprawny adres e-mail: to-nie-jest-email",
    11: "Brak nazwy klienta",
    12: "Nieznany opiekun „nikt”",
}


def test_parsing_reports_every_bad_row_with_its_reason(office, spreadsheet, client_company):
    preview = csv_import.parse(spreadsheet, office=office)

    assert preview.encoding == "Windows-1250" and preview.delimiter == ";"
    assert [r.line for r in preview.rows if r.ok] == [2, 3, 4, 5]
    errors = {r.line: " ".join(r.errors) for r in preview.rejected}
    assert set(errors) == set(EXPECTED_ERRORS)
    for line, reason in EXPECTED_ERRORS.items():
        assert reason in errors[line], (line, errors[line])
    assert [r.line for r in preview.failed] == [6, 7, 9, 10, 11, 12]  # 8 is only a re-import


def test_the_upload_previews_then_imports_exactly_the_good_rows_once(
    login, manager, office, spreadsheet, nips, accountant, client_company
):
    http = login(manager)
    upload = SimpleUploadedFile("klienci.csv", spreadsheet, content_type="text/csv")
    preview = http.post(reverse("clients:import"), {"file": upload})
    body = preview.content.decode()
    assert body.count('class="row-ok"') == 4 and body.count('class="row-error"') == 7
    for reason in EXPECTED_ERRORS.values():
        assert reason in body
    assert not Client.objects.exclude(pk=client_company.pk).exists()  # a preview writes nothing

    token = body.split('name="token" value="')[1].split('"')[0]
    done = http.post(reverse("clients:import_confirm"), {"token": token})
    assert "dodano 4 klientów" in done.content.decode()

    imported = {c.nip: c for c in Client.objects.exclude(pk=client_company.pk)}
    assert set(imported) == set(nips[:4])
    dairy = imported[nips[0]]
    assert (
        dairy.name == "Łódzka Spółdzielnia Mleczarska" and dairy.legal_form == LegalForm.COOPERATIVE
    )
    assert list(dairy.assigned_accountants.all()) == [accountant]
    assert imported[nips[1]].contact_emails == ["jan@zabka.example", "biuro@zabka.example"]
    states = {nip: c.prerequisite.state for nip, c in imported.items()}
    assert states == {
        nips[0]: State.TO_FILE,  # a cooperative without a seal
        nips[1]: State.NOT_REQUIRED,  # JDG
        nips[2]: State.NOT_REQUIRED,  # a company with a seal
        nips[3]: State.TO_FILE,
    }
    assert AuditEvent.objects.get(action="client.imported").details["created"] == [
        c.nip for c in sorted(imported.values(), key=lambda c: c.pk)
    ]

    # The same token again, or the same file again: nothing new.
    again = http.post(reverse("clients:import_confirm"), {"token": token})
    assert again.status_code == 302
    second = http.post(
        reverse("clients:import"),
        {"file": SimpleUploadedFile("klienci.csv", spreadsheet, content_type="text/csv")},
    )
    assert "już w rejestrze biura: Łódzka" in second.content.decode()
    assert 'name="token"' not in second.content.decode()  # nothing left to import
    assert Client.objects.count() == 5


def test_rows_registered_between_preview_and_import_are_skipped_not_duplicated(
    office, manager, spreadsheet, nips
):
    from clients import services

    preview = csv_import.parse(spreadsheet, office=office)
    services.client_import(office=office, actor=manager.user, rows=preview.valid_rows[:1])
    summary = services.client_import(office=office, actor=manager.user, rows=preview.valid_rows)
    assert [r.nip for r in summary.already_registered] == [nips[0]]
    assert len(summary.created) == 3


def test_a_utf8_file_with_a_bom_and_commas_is_read_too(office, nips):
    content = "\ufeffnip,nazwa,forma_prawna,pieczec,emaile\r\n"
    content += f'{nips[0]},"Kowalski, Nowak sp.j.",sp.j.,nie,"a@sj.example, b@sj.example"\r\n'
    preview = csv_import.parse(content.encode("utf-8"), office=office)
    assert preview.encoding == "UTF-8" and preview.delimiter == ","
    [row] = preview.valid_rows
    assert row.name == "Kowalski, Nowak sp.j." and row.legal_form == LegalForm.GENERAL_PARTNERSHIP
    assert row.contact_emails == ("a@sj.example", "b@sj.example")


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("sp. z o.o.", "spzoo"),
        ("Sp. z o. o.", "spzoo"),
        ("JDG", "jdg"),
        ("S.A.", "sa"),
        ("P.S.A.", "psa"),
        ("spółka komandytowa", "sk"),
        ("S.K.A.", "ska"),
        ("s.c.", "sc"),
        ("stowarzyszenie", "association"),
        ("foundation", "foundation"),
    ],
)
def test_legal_forms_are_recognised_by_code_abbreviation_and_polish_name(typed, code):
    assert csv_import.legal_form_from(typed) == code


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "Plik jest pusty"),
        (b"nip;nazwa\r\n5265877635;X\r\n", "Brak kolumn: forma_prawna, emaile"),
        (b"x" * (csv_import.MAX_BYTES + 1), "Plik jest za duży"),
    ],
)
def test_an_unusable_file_is_refused_with_a_polish_reason(login, manager, content, message):
    response = login(manager).post(
        reverse("clients:import"), {"file": SimpleUploadedFile("k.csv", content or b" ")}
    )
    assert message in response.content.decode()
    assert 'name="token"' not in response.content.decode()


def test_a_file_with_too_many_rows_is_refused(office, monkeypatch):
    monkeypatch.setattr(csv_import, "MAX_ROWS", 3)
    rows = "".join(f"{valid_nip()};K{i};sa;nie;a@b.example\r\n" for i in range(4))
    with pytest.raises(csv_import.ImportFileError, match="więcej niż 3 wierszy"):
        csv_import.parse(f"nip;nazwa;forma_prawna;pieczec;emaile\r\n{rows}".encode(), office=office)


def test_the_example_file_is_downloadable_and_imports_cleanly(login, manager, office):
    response = login(manager).get(reverse("clients:import_example"))
    assert response["Content-Disposition"].startswith("attachment")
    preview = csv_import.parse(response.content, office=office)
    assert len(preview.valid_rows) == 3 and not preview.rejected


def test_the_command_imports_the_good_rows_reports_the_bad_and_exits_2(
    office, spreadsheet, nips, tmp_path, capsys, client_company
):
    path = tmp_path / "klienci.csv"
    path.write_bytes(spreadsheet)

    with pytest.raises(CommandError) as failure:
        call_command("import_clients", str(path), "--office", office.nip)
    assert failure.value.returncode == 2
    out, err = capsys.readouterr()
    assert "Zaimportowano: 4" in out
    for line, reason in EXPECTED_ERRORS.items():
        assert f"klienci.csv:{line}: " in err and reason in err
    assert set(Client.objects.exclude(pk=client_company.pk).values_list("nip", flat=True)) == set(
        nips[:4]
    )

    # Running it again adds nothing.
    with pytest.raises(CommandError):
        call_command("import_clients", str(path), "--office", office.nip)
    assert "Zaimportowano: 0" in capsys.readouterr().out
    assert Client.objects.count() == 5


def test_the_command_exits_0_when_every_row_is_in_the_register(office, nips, tmp_path, capsys):
    path = tmp_path / "ok.csv"
    path.write_text(f"nip;nazwa;forma_prawna;pieczec;emaile\n{nips[0]};Dobra;sa;tak;a@b.example\n")
    call_command("import_clients", str(path), "--office", office.nip)
    call_command("import_clients", str(path), "--office", office.nip)  # a re-run is fine
    assert Client.objects.filter(office=office).count() == 1
    assert "już w rejestrze: 1" in capsys.readouterr().out


def test_the_command_dry_run_writes_nothing(office, nips, tmp_path, capsys):
    path = tmp_path / "ok.csv"
    path.write_text(f"nip;nazwa;forma_prawna;pieczec;emaile\n{nips[0]};Dobra;sa;tak;a@b.example\n")
    call_command("import_clients", str(path), "--office", office.nip, "--dry-run")
    assert "Do zaimportowania: 1" in capsys.readouterr().out
    assert not Client.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--office", "1111111111"], "Nie ma biura"), (["--office", "OFFICE"], "Nie można odczytać")],
)
def test_the_command_refuses_an_unknown_office_or_a_missing_file(office, tmp_path, args, message):
    if args[1] == "OFFICE":
        args = ["--office", office.nip]
    with pytest.raises(CommandError, match=message) as failure:
        call_command("import_clients", str(tmp_path / "brak.csv"), *args)
    assert failure.value.returncode == 1
