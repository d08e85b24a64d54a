"""What a stored sending outcome means, in the reader's language.

The sender stores codes (a job's `error_code`, an invoice's KSeF `status_code`) and their
parameters; pages and `manage.py send_invoices` render them here.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext as _

from certificates.connection import auth_failure_message


def _job_texts() -> dict[str, str]:
    return {
        "no_access_model": _(
            "Nie wybrano modelu dostępu do KSeF — wybierz go w kroku „Poświadczenia”."
        ),
        "no_credential": _(
            "Brak aktywnego poświadczenia klienta (certyfikatu uwierzytelniającego lub tokenu "
            "KSeF), którym portal może wysyłać faktury. Prześlij je w kroku „Poświadczenia”."
        ),
        "no_office_credential": _(
            "Biuro nie ma aktywnego własnego poświadczenia KSeF, a klient jest w modelu biura. "
            "Administrator przesyła je w „Poświadczenia biura”."
        ),
        "no_invoice_write": _(
            "Brak uprawnienia „Wystawianie faktur” (InvoiceWrite) w kontekście klienta "
            "(NIP %(nip)s). Klient musi je nadać biuru, zanim portal wyśle jego faktury."
        ),
        "token_without_invoice_write": _(
            "Token KSeF klienta nie ma uprawnienia „Wystawianie faktur” (InvoiceWrite) — "
            "KSeF odrzuciłby każdą wysyłkę. Klient musi wygenerować token z tym uprawnieniem "
            "(albo przekazać certyfikat uwierzytelniający) i przesłać go w kroku „Poświadczenia”."
        ),
        "person_without_invoice_write": _(
            "Osoba, której certyfikat portal przechowuje, nie ma w kontekście klienta (NIP "
            "%(nip)s) uprawnienia „Wystawianie faktur” (InvoiceWrite) — KSeF odrzuciłby każdą "
            "wysyłkę. Klient może je nadać tej osobie w KSeF albo przekazać certyfikat firmy."
        ),
        "secret_unreadable": _(
            "Nie można odszyfrować zapisanego poświadczenia (zmieniony klucz szyfrowania?). "
            "Powiadom administratora portalu."
        ),
        "ksef_unavailable": _(
            "KSeF zwrócił błąd serwera (HTTP %(status)s) — portal ponowi wysyłkę sam."
        ),
        "timeout": _("KSeF nie odpowiada — portal ponowi wysyłkę sam."),
        "session_failed": _("KSeF zakończył sesję błędem (kod %(code)s: %(description)s)."),
        "ksef_rejected": _("KSeF odrzucił żądanie (HTTP %(status)s: %(details)s)."),
        "unexpected": _("Nieoczekiwany błąd wysyłki (%(kind)s). Powiadom administratora."),
    }


def job_error_message(code: str, params: Mapping[str, object]) -> str:
    """The message of a job's `error_code` ("" for none)."""
    if not code:
        return ""
    if code.startswith("auth_"):
        status = int(code.removeprefix("auth_")) if code[5:].isdigit() else 0
        return auth_failure_message(status, str(params.get("nip", "")))
    text = _job_texts().get(code) or _job_texts()["unexpected"]
    try:
        return text % dict(params)
    except (KeyError, TypeError, ValueError):
        return text


# KSeF's invoice status codes in a session (the contract's InvoiceStatusInfo, digest §5.7).
def _rejection_texts() -> dict[int, str]:
    return {
        405: _(
            "KSeF anulował przetwarzanie tej faktury z powodu błędu sesji — wyślij ją ponownie."
        ),
        410: _(
            "Nieprawidłowy zakres uprawnień: poświadczenie nie pozwala wystawiać faktur tego "
            "sprzedawcy (NIP w Podmiot1 musi być NIP-em kontekstu klienta)."
        ),
        415: _(
            "KSeF przyjmuje fakturę z załącznikiem tylko w sesji wsadowej i tylko od "
            "podatnika, który zgłosił w e-Urzędzie Skarbowym wystawianie faktur z "
            "załącznikami."
        ),
        430: _("Plik faktury nie przeszedł weryfikacji KSeF (rozmiar lub skrót pliku)."),
        435: _("KSeF nie odszyfrował pliku faktury — wyślij ją ponownie."),
        440: _(
            "Duplikat: KSeF ma już fakturę tego sprzedawcy o tym samym rodzaju i numerze — "
            "nadaj jej inny numer albo wyślij korektę."
        ),
        450: _(
            "Faktura nie przeszła weryfikacji semantyki dokumentu (schemat FA (3), daty lub "
            "wartości) — popraw ją w programie do fakturowania."
        ),
    }


def rejection_message(code: int | None, description: str = "") -> str:
    """KSeF's rejection code of one invoice explained in Polish."""
    if code is None:
        return ""
    text = _rejection_texts().get(code)
    if text is None:
        return _("KSeF odrzucił fakturę (kod %(code)s: %(description)s).") % {
            "code": code,
            "description": description or "—",
        }
    return text
