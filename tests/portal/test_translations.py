"""The English catalogue is complete, compiled, and actually used; e-mails stay Polish.

When one of these fails after you added or changed a Polish string, run

    DJANGO_SETTINGS_MODULE=portal.settings_test .venv/bin/python manage.py makemessages -l en \
        --ignore=.venv --ignore=var --ignore=ksef --ignore=ksef_simulator --ignore=tests

translate the new entries in locale/en/LC_MESSAGES/django.po (drop any `#, fuzzy` after
checking it), then `manage.py compilemessages --ignore=.venv` and commit the .po and the .mo.
"""

from __future__ import annotations

import ast
import gettext
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

ROOT = Path(settings.BASE_DIR)
PO = ROOT / "locale" / "en" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")

# What `makemessages` is told to skip (not Django, or not shipped).
NOT_SCANNED = {".venv", "var", "ksef", "ksef_simulator", "tests", "locale", ".git", "node_modules"}
POLISH_LETTERS = re.compile(r"[ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]")


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)


def parse_po(path: Path) -> list[Entry]:
    """The live (not obsolete) entries of a .po file, header excluded.

    PO string literals use C escapes, which Python's literal syntax reads the same way.
    """
    entries: list[Entry] = []
    current, last, seen_msgstr = Entry(), "", False
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        if seen_msgstr and (line.startswith(("#", "msgctxt ", "msgid "))):
            if current.msgid:
                entries.append(current)
            current, last, seen_msgstr = Entry(), "", False
        if line.startswith("#,"):
            current.flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            keyword, text = last, ast.literal_eval(line)
        else:
            keyword, _, literal = line.partition(" ")
            text = ast.literal_eval(literal)
            last = keyword
            if keyword == "msgid":
                current.line = number
        if keyword == "msgctxt":
            current.msgctxt = (current.msgctxt or "") + text
        elif keyword == "msgid":
            current.msgid += text
        elif keyword == "msgid_plural":
            current.msgid_plural = (current.msgid_plural or "") + text
        elif keyword.startswith("msgstr"):
            index = int(keyword[7:-1]) if keyword.startswith("msgstr[") else 0
            current.msgstr[index] = current.msgstr.get(index, "") + text
            seen_msgstr = True
    if current.msgid:
        entries.append(current)
    return entries


@pytest.fixture(scope="module")
def entries() -> list[Entry]:
    return parse_po(PO)


def test_the_catalogue_is_parsed(entries):  # type: ignore[no-untyped-def]
    # Guards the parser itself: a broken parser would make every other check pass vacuously.
    assert len(entries) > 500
    assert any(e.msgid_plural for e in entries)
    by_id = {e.msgid: e for e in entries}
    assert by_id["Klienci"].msgstr == {0: "Clients"}


def test_every_entry_is_translated_and_none_is_fuzzy(entries):  # type: ignore[no-untyped-def]
    fuzzy = [f"line {e.line}: {e.msgid!r}" for e in entries if "fuzzy" in e.flags]
    untranslated = [
        f"line {e.line}: {e.msgid!r}"
        for e in entries
        if not e.msgstr
        or any(not text for text in e.msgstr.values())
        or (e.msgid_plural is not None and sorted(e.msgstr) != [0, 1])
    ]

    assert not fuzzy, "fuzzy entries in django.po (check them, drop the flag):\n" + "\n".join(fuzzy)
    assert not untranslated, "untranslated entries in django.po:\n" + "\n".join(untranslated)


def test_placeholders_survive_translation(entries):  # type: ignore[no-untyped-def]
    placeholder = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w*\}")
    wrong = []
    for e in entries:
        for index, text in e.msgstr.items():
            source = e.msgid_plural if index > 0 and e.msgid_plural else e.msgid
            if sorted(placeholder.findall(text)) != sorted(placeholder.findall(source)):
                wrong.append(f"line {e.line}: {e.msgid!r} -> {text!r}")
    assert not wrong, "placeholders differ between msgid and msgstr:\n" + "\n".join(wrong)


def test_the_compiled_mo_matches_the_po(entries):  # type: ignore[no-untyped-def]
    """A .po edited without `compilemessages` would leave the portal showing old text."""
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for e in entries:
        if e.msgid_plural is not None:
            got = {
                0: compiled.npgettext(e.msgctxt, e.msgid, e.msgid_plural, 1)
                if e.msgctxt
                else compiled.ngettext(e.msgid, e.msgid_plural, 1),
                1: compiled.npgettext(e.msgctxt, e.msgid, e.msgid_plural, 2)
                if e.msgctxt
                else compiled.ngettext(e.msgid, e.msgid_plural, 2),
            }
        else:
            got = {
                0: compiled.pgettext(e.msgctxt, e.msgid) if e.msgctxt else compiled.gettext(e.msgid)
            }
        if got != e.msgstr:
            stale.append(f"line {e.line}: {e.msgid!r}")
    assert not stale, "django.mo is out of date; run compilemessages:\n" + "\n".join(stale)


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed")
def test_every_marked_string_is_in_the_catalogue(entries, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Extract the strings afresh (into a copy) and compare with the committed catalogue."""
    source = tmp_path / "src"
    for path in ROOT.iterdir():
        if path.is_dir() and path.name not in NOT_SCANNED and not path.name.startswith("."):
            shutil.copytree(
                path,
                source / path.name,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo", "*.po"),
            )
    (source / "locale").mkdir()
    monkeypatch.chdir(source)
    with override_settings(LOCALE_PATHS=[str(source / "locale")]):
        call_command("makemessages", locale=["en"], verbosity=0)

    fresh = {e.key for e in parse_po(source / "locale" / "en" / "LC_MESSAGES" / "django.po")}
    committed = {e.key for e in entries}
    assert len(fresh) > 500  # the extraction really ran over the project
    missing = sorted(fresh - committed, key=lambda key: key[1])
    assert not missing, "strings marked for translation but missing from django.po:\n" + "\n".join(
        repr(msgid) for _context, msgid in missing
    )


PL_PO = ROOT / "locale" / "pl" / "LC_MESSAGES" / "django.po"


def test_every_plural_has_its_three_polish_forms(entries):  # type: ignore[no-untyped-def]
    """Without a Polish entry gettext falls back to the msgid's two forms: "2 klientów"."""
    polish = {e.key: e for e in parse_po(PL_PO)}
    plurals = [e for e in entries if e.msgid_plural is not None]
    incomplete = [
        f"{e.msgid!r} / {e.msgid_plural!r}"
        for e in plurals
        if e.key not in polish
        or sorted(polish[e.key].msgstr) != [0, 1, 2]
        or any(not text for text in polish[e.key].msgstr.values())
        or "fuzzy" in polish[e.key].flags
    ]

    assert len(plurals) > 10
    assert not incomplete, "plurals without three Polish forms in locale/pl:\n" + "\n".join(
        incomplete
    )


def test_the_compiled_polish_catalogue_counts_in_polish() -> None:
    with PL_PO.with_suffix(".mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    forms = [
        compiled.ngettext("%(counter)s klient", "%(counter)s klientów", n) % {"counter": n}
        for n in (1, 2, 5, 22, 112)
    ]

    assert forms == ["1 klient", "2 klienci", "5 klientów", "22 klienci", "112 klientów"]


# --- The pages, in both languages ---------------------------------------------------------


def _page_urls(client_company):  # type: ignore[no-untyped-def]
    return {
        "client list": reverse("clients:list"),
        "client page": reverse("clients:detail", args=[client_company.pk]),
        "credentials page": reverse("certificates:client", args=[client_company.pk]),
    }


EXPECTED = {
    "client list": ("Klienci", "Clients", "Szukaj (nazwa lub NIP)", "Search (name or NIP)"),
    "client page": ("Wdrożenie do KSeF", "KSeF onboarding", "Edytuj", "Edit"),
    "credentials page": (
        "Dostęp do KSeF i poświadczenia",
        "KSeF access and credentials",
        "Zapisz model",
        "Save model",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("page", sorted(EXPECTED))
def test_pages_are_polish_by_default(page, login, manager, client_company):  # type: ignore[no-untyped-def]
    body = login(manager).get(_page_urls(client_company)[page]).content.decode()
    polish_title, english_title, polish_text, english_text = EXPECTED[page]

    assert '<html lang="pl">' in body
    assert polish_title in body and polish_text in body
    assert english_title not in body and english_text not in body


@pytest.mark.django_db
@pytest.mark.parametrize("page", sorted(EXPECTED))
def test_pages_are_english_when_chosen(page, entries, login, manager, client_company):  # type: ignore[no-untyped-def]
    browser = login(manager)
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    body = browser.get(_page_urls(client_company)[page]).content.decode()
    _polish_title, english_title, _polish_text, english_text = EXPECTED[page]

    assert '<html lang="en">' in body
    assert english_title in body and english_text in body
    # No Polish source string of the catalogue is left on the English page.
    left_in_polish = [
        e.msgid
        for e in entries
        if POLISH_LETTERS.search(e.msgid) and len(e.msgid) > 3 and e.msgid in body
    ]
    assert not left_in_polish, left_in_polish


@pytest.mark.django_db(transaction=False)
def test_an_upload_link_email_is_polish_even_when_the_staff_member_uses_english(  # type: ignore[no-untyped-def]
    login, accountant, client_company, django_capture_on_commit_callbacks
):
    browser = login(accountant)
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(
            reverse("certificates:link_create", args=[client_company.pk]),
            {"kind": "authentication", "recipient_email": client_company.contact_emails[0]},
        )

    assert response.status_code == 302
    message = mail.outbox[-1]
    assert isinstance(message, EmailMultiAlternatives)
    html = str(message.alternatives[0][0])
    assert "prośba o przesłanie poświadczenia KSeF" in message.subject
    assert "Dzień dobry," in message.body and "Hello," not in message.body
    assert "Prosimy nie wysyłać klucza prywatnego" in html


@pytest.mark.django_db
def test_a_staff_invitation_is_polish_even_when_the_admin_uses_english(  # type: ignore[no-untyped-def]
    login, admin_member, mailoutbox, django_capture_on_commit_callbacks
):
    browser = login(admin_member)
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    person = {
        "username": "nowa.osoba",
        "first_name": "Natalia",
        "last_name": "Nowicka",
        "email": "natalia@biuro.example",
        "role": "accountant",
        "pesel": "",
        "nip": "",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(reverse("staff:create"), person)

    assert response.status_code == 302
    assert mailoutbox[-1].subject.startswith("Zaproszenie do portalu KSeF biura")
    assert "Dzień dobry Natalia," in mailoutbox[-1].body
