"""What a stored sync outcome code means, in the reader's language.

The engine stores a code and its parameters (`SyncCursor.last_error_code/params`,
`InvoiceSyncState.last_error_code/params`); pages and e-mails render them here, so an
English reader never meets a stored Polish sentence.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext as _

from certificates.connection import auth_failure_message


def _texts() -> dict[str, str]:
    return {
        "no_access_model": _(
            "Nie wybrano modelu dostępu do KSeF — wybierz go w kroku „Poświadczenia”."
        ),
        "no_credential": _(
            "Brak aktywnego poświadczenia, którym portal może pobierać faktury klienta "
            "(certyfikatu uwierzytelniającego lub tokenu KSeF). Prześlij je w kroku "
            "„Poświadczenia”."
        ),
        "no_office_credential": _(
            "Biuro nie ma aktywnego własnego poświadczenia KSeF, a klient jest w modelu biura. "
            "Administrator przesyła je w „Poświadczenia biura”."
        ),
        "secret_unreadable": _(
            "Nie można odszyfrować zapisanego poświadczenia (zmieniony klucz szyfrowania?). "
            "Powiadom administratora portalu."
        ),
        "no_invoice_read": _(
            "Brak uprawnienia „Przeglądanie faktur” (InvoiceRead) w kontekście klienta "
            "(NIP %(nip)s). Nadaj je na ekranie uprawnień klienta."
        ),
        "rate_limited": _("KSeF ograniczył liczbę zapytań — portal wznowi pobieranie sam."),
        "ksef_unavailable": _(
            "KSeF zwrócił błąd serwera (HTTP %(status)s) — portal ponowi pobieranie."
        ),
        "timeout": _("KSeF nie odpowiada — portal ponowi pobieranie."),
        "export_failed": _(
            "KSeF nie przygotował paczki faktur (kod %(code)s: %(description)s) — portal "
            "zacznie ją od nowa."
        ),
        "package_corrupt": _(
            "Pobrana paczka faktur była uszkodzona (%(reason)s) — portal pobierze ją ponownie."
        ),
        "ksef_rejected": _("KSeF odrzucił zapytanie o faktury (HTTP %(status)s: %(details)s)."),
        "unexpected": _("Nieoczekiwany błąd synchronizacji (%(kind)s). Powiadom administratora."),
    }


# Refused credentials and missing rights: KSeF answers the same until someone acts.
PERMANENT = frozenset(
    {
        "no_access_model",
        "no_credential",
        "no_office_credential",
        "secret_unreadable",
        "no_invoice_read",
        "auth_415",
        "auth_450",
        "auth_460",
        "auth_470",
        "auth_480",
    }
)


def error_message(code: str, params: Mapping[str, object]) -> str:
    """The message of `code` with its parameters filled in ("" for no code)."""
    if not code:
        return ""
    if code.startswith("auth_"):
        status = int(code.removeprefix("auth_")) if code[5:].isdigit() else 0
        return auth_failure_message(status, str(params.get("nip", "")))
    text = _texts().get(code) or _texts()["unexpected"]
    values = {"nip": "", "status": "", "code": "", "description": "", "reason": "", "kind": code}
    values.update({key: str(value) for key, value in params.items()})
    return text % values


def is_permanent(code: str) -> bool:
    """Errors that only a person can fix: retrying soon would only spend KSeF's budget."""
    return code in PERMANENT
