"""The words the official visualisation prints for the schema's codes.

Texts follow the Ministry's visualisation (CIRFMF/ksef-pdf-generator) where it prints a
code in words, and the enumeration documentation of the FA (3) schema otherwise. Country
names come from the schema's own country list (KodyKrajow), so every code has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from django.utils.translation import gettext_lazy as _
from lxml import etree

from ksef import schemas

INVOICE_KINDS = {
    "VAT": _("Faktura podstawowa"),
    "ZAL": _("Faktura zaliczkowa"),
    "ROZ": _("Faktura rozliczeniowa"),
    "KOR": _("Faktura korygująca"),
    "KOR_ZAL": _("Faktura korygująca zaliczkową"),
    "KOR_ROZ": _("Faktura korygująca rozliczeniową"),
    "UPR": _("Faktura uproszczona"),
    "VAT_RR": _("Faktura VAT RR"),
    "KOR_VAT_RR": _("Faktura VAT RR korygująca"),
}
REBATE_KIND = _("Faktura korygująca zbiorcza (rabat)")

CORRECTION_EFFECTS = {
    "1": _("Korekta skutkująca w dacie ujęcia faktury pierwotnej"),
    "2": _("Korekta skutkująca w dacie wystawienia faktury korygującej"),
    "3": _("Korekta skutkująca w dacie innej, w tym gdy dla różnych pozycji faktury "
           "korygującej daty te są różne"),
}  # fmt: skip

PAYMENT_FORMS = {
    "1": _("Gotówka"),
    "2": _("Karta"),
    "3": _("Bon"),
    "4": _("Czek"),
    "5": _("Kredyt"),
    "6": _("Przelew"),
    "7": _("Mobilna"),
}

THIRD_PARTY_ROLES = {
    "1": _("Faktor"),
    "2": _("Odbiorca"),
    "3": _("Podmiot pierwotny"),
    "4": _("Dodatkowy nabywca"),
    "5": _("Wystawca faktury"),
    "6": _("Dokonujący płatności"),
    "7": _("Jednostka samorządu terytorialnego - wystawca"),
    "8": _("Jednostka samorządu terytorialnego - odbiorca"),
    "9": _("Członek grupy VAT - wystawca"),
    "10": _("Członek grupy VAT - odbiorca"),
    "11": _("Pracownik"),
}

AUTHORISED_ROLES = {
    "1": _("Organ egzekucyjny"),
    "2": _("Komornik sądowy"),
    "3": _("Przedstawiciel podatkowy"),
}

TAXPAYER_STATUSES = {
    "1": _("Stan likwidacji"),
    "2": _("Postępowanie restrukturyzacyjne"),
    "3": _("Stan upadłości"),
    "4": _("Przedsiębiorstwo w spadku"),
}

TRANSPORT_KINDS = {
    "1": _("Transport morski"),
    "2": _("Transport kolejowy"),
    "3": _("Transport drogowy"),
    "4": _("Transport lotniczy"),
    "5": _("Przesyłka pocztowa"),
    "7": _("Stałe instalacje przesyłowe"),
    "8": _("Żegluga śródlądowa"),
}

CARGO_KINDS = {
    "1": _("Bańka"), "2": _("Beczka"), "3": _("Butla"), "4": _("Karton"), "5": _("Kanister"),
    "6": _("Klatka"), "7": _("Kontener"), "8": _("Kosz/koszyk"), "9": _("Łubianka"),
    "10": _("Opakowanie zbiorcze"), "11": _("Paczka"), "12": _("Pakiet"), "13": _("Paleta"),
    "14": _("Pojemnik"), "15": _("Pojemnik do ładunków masowych stałych"),
    "16": _("Pojemnik do ładunków masowych w postaci płynnej"), "17": _("Pudełko"),
    "18": _("Puszka"), "19": _("Skrzynia"), "20": _("Worek"),
}  # fmt: skip

OWN_BANK_ACCOUNTS = {
    "1": _("Rachunek banku lub SKOK służący do rozliczeń z tytułu nabywanych wierzytelności"),
    "2": _("Rachunek banku lub SKOK wykorzystywany do pobrania należności od dłużników"),
    "3": _("Rachunek banku lub SKOK prowadzony w ramach gospodarki własnej"),
}

# The VAT summary, one row per rate group in schema order: (net, VAT, VAT in PLN, label).
RATE_GROUPS = (
    ("P_13_1", "P_14_1", "P_14_1W", _("23% lub 22%")),
    ("P_13_2", "P_14_2", "P_14_2W", _("8% lub 7%")),
    ("P_13_3", "P_14_3", "P_14_3W", _("5%")),
    ("P_13_4", "P_14_4", "P_14_4W", _("4% lub 3%")),
    ("P_13_5", "P_14_5", "", _("niepodlegające opodatkowaniu w kraju (procedura OSS)")),
    ("P_13_6_1", "", "", _("0% z wyłączeniem WDT i eksportu")),
    ("P_13_6_2", "", "", _("0% - wewnątrzwspólnotowa dostawa towarów")),
    ("P_13_6_3", "", "", _("0% - eksport")),
    ("P_13_7", "", "", _("zwolnione od podatku")),
    ("P_13_8", "", "", _("np. z wyłączeniem art. 100 ust. 1 pkt 4 ustawy")),
    ("P_13_9", "", "", _("np. na podstawie art. 100 ust. 1 pkt 4 ustawy")),
    ("P_13_10", "", "", _("odwrotne obciążenie")),
    ("P_13_11", "", "", _("marża")),
)

YES_NO = {"1": _("TAK"), "2": _("NIE")}


def word(codes: Mapping[str, object], code: str) -> str:
    """The code in words; an unknown code is shown as written."""
    return str(codes.get(code, code)) if code else ""


def _capitalise(word: str) -> str:
    head = len(word) - len(word.lstrip('("'))
    return word[:head] + word[head:].capitalize()


@lru_cache(maxsize=1)
def _countries() -> dict[str, str]:
    path = schemas.schema_dir("fa") / "bazowe" / "KodyKrajow_v10-0E.xsd"
    xs = "{http://www.w3.org/2001/XMLSchema}"
    names = {}
    for item in etree.parse(str(path)).getroot().iter(f"{xs}enumeration"):
        documentation = item.find(f"{xs}annotation/{xs}documentation")
        if documentation is not None and documentation.text:
            words = documentation.text.strip().lower().split()
            names[item.get("value")] = " ".join(
                w if w in ("i", "oraz") and n else _capitalise(w) for n, w in enumerate(words)
            )
    return names


def country(code: str) -> str:
    """ "Polska" for "PL"; an unknown code as written."""
    return _countries().get(code, code) if code else ""
