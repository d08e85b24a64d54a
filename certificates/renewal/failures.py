"""Why a renewal did not happen: codes stored with their parameters, read in Polish.

Every failure keeps the working certificate untouched; the message says what happened and
what someone must do. Messages are marked with gettext_noop and rendered in the reader's
language (portal.messages); parameters are dates as text, codes and KSeF's own words.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from django.utils import formats, timezone
from django.utils.translation import gettext_noop

from portal.messages import StoredText, deferred


class Failure(StrEnum):
    LIMITS_REACHED = "limits_reached"
    CSR_REJECTED = "csr_rejected"
    ENROLLMENT_REJECTED = "enrollment_rejected"
    ENROLLMENT_FAILED = "enrollment_failed"
    CURRENT_EXPIRED = "current_expired"
    CURRENT_REVOKED = "current_revoked"
    LOGIN_REFUSED = "login_refused"
    KSEF_UNAVAILABLE = "ksef_unavailable"
    NO_AUTHENTICATION_CERTIFICATE = "no_authentication_certificate"
    NOT_RENEWABLE = "not_renewable"
    VALIDATION_FAILED = "validation_failed"
    SECRET_UNREADABLE = "secret_unreadable"


MESSAGES: dict[Failure, str] = {
    Failure.LIMITS_REACHED: gettext_noop(
        "KSeF nie przyjmie kolejnego wniosku o certyfikat dla NIP %(nip)s: wykorzystano limit "
        "(kod %(code)s; wnioski: zostało %(enrollments_left)s z %(enrollments_limit)s, "
        "aktywne certyfikaty: zostało %(certificates_left)s z %(certificates_limit)s). "
        "Unieważnij w Aplikacji Podatnika KSeF certyfikaty, których nikt już nie używa, "
        "i uruchom odnowienie ponownie. Obecny certyfikat działa do %(valid_to)s."
    ),
    Failure.CSR_REJECTED: gettext_noop(
        "KSeF odrzucił wniosek o certyfikat (kod %(code)s: %(detail)s). Obecny certyfikat "
        "działa do %(valid_to)s. Spróbujemy ponownie przy następnym uruchomieniu; jeśli błąd "
        "się powtórzy, zgłoś go administratorowi portalu."
    ),
    Failure.ENROLLMENT_REJECTED: gettext_noop(
        "KSeF odmówił wystawienia certyfikatu (status %(code)s: %(detail)s). Obecny "
        "certyfikat działa do %(valid_to)s. Sprawdź w Aplikacji Podatnika KSeF, czy podmiot "
        "może wnioskować o certyfikaty, i uruchom odnowienie ponownie."
    ),
    Failure.ENROLLMENT_FAILED: gettext_noop(
        "KSeF nie wystawił certyfikatu z powodu błędu po swojej stronie (status %(code)s: "
        "%(detail)s). Spróbujemy ponownie przy następnym uruchomieniu; obecny certyfikat "
        "działa do %(valid_to)s."
    ),
    Failure.CURRENT_EXPIRED: gettext_noop(
        "Certyfikat wygasł %(valid_to)s — odnowienie nie jest już możliwe, bo KSeF wydaje "
        "nowy certyfikat tylko po zalogowaniu ważnym certyfikatem. Klient (NIP %(nip)s) musi "
        "wygenerować nowy certyfikat w Aplikacji Podatnika KSeF, logując się pieczęcią "
        "kwalifikowaną albo jako osoba uprawniona, i przesłać go do portalu."
    ),
    Failure.CURRENT_REVOKED: gettext_noop(
        "KSeF nie przyjął certyfikatu, którym portal się loguje (jest unieważniony, "
        "zablokowany albo nieznany) — odnowienie nie jest możliwe. Klient (NIP %(nip)s) musi "
        "wygenerować nowy certyfikat w Aplikacji Podatnika KSeF i przesłać go do portalu."
    ),
    Failure.LOGIN_REFUSED: gettext_noop(
        "Odnowienie nie powiodło się, bo KSeF odmówił logowania: %(reason)s Obecny "
        "certyfikat działa do %(valid_to)s."
    ),
    Failure.KSEF_UNAVAILABLE: gettext_noop(
        "KSeF nie odpowiadał mimo kilku prób (%(url)s). Obecny certyfikat działa do "
        "%(valid_to)s; spróbujemy ponownie przy następnym uruchomieniu albo po naciśnięciu "
        "„Odnów teraz”."
    ),
    Failure.NO_AUTHENTICATION_CERTIFICATE: gettext_noop(
        "Certyfikat offline odnawiamy po zalogowaniu certyfikatem uwierzytelniającym tego "
        "samego podmiotu (NIP %(nip)s), a portal go nie przechowuje — token KSeF nie może "
        "wnioskować o certyfikaty. Prześlij certyfikat uwierzytelniający klienta."
    ),
    Failure.NOT_RENEWABLE: gettext_noop(
        "Tego poświadczenia portal nie odnawia: odnawiamy tylko certyfikaty KSeF wystawione "
        "na NIP. Certyfikat osobisty (PESEL) właściciel odnawia sam w Aplikacji Podatnika "
        "KSeF, a token KSeF zastępuje się certyfikatem."
    ),
    Failure.VALIDATION_FAILED: gettext_noop(
        "Certyfikat wystawiony przez KSeF nie przeszedł kontroli portalu, więc go nie "
        "zapisaliśmy: %(reason)s Obecny certyfikat działa do %(valid_to)s."
    ),
    Failure.SECRET_UNREADABLE: gettext_noop(
        "Nie można odszyfrować zapisanego certyfikatu, którym portal loguje się do KSeF "
        "(zmieniony klucz szyfrowania?). Powiadom administratora portalu."
    ),
}


def date_text(moment: datetime | None) -> str:
    """A date as it is shown in Poland (stored as text: it is a parameter, not a sentence)."""
    if moment is None:
        return "—"
    return formats.date_format(timezone.localtime(moment), "d.m.Y")


def failure_message(failure: Failure, **params: Any) -> StoredText:
    return deferred(MESSAGES[failure], params)


def renewed_message(*, serial: str, valid_from: datetime, valid_to: datetime) -> StoredText:
    return deferred(
        gettext_noop(
            "Odnowiono: nowy certyfikat %(serial)s jest ważny od %(valid_from)s do %(valid_to)s."
        ),
        {"serial": serial, "valid_from": date_text(valid_from), "valid_to": date_text(valid_to)},
    )


def in_progress_message() -> StoredText:
    return deferred(
        gettext_noop(
            "KSeF jeszcze nie wystawił certyfikatu albo chwilowo nie odpowiada — wrócimy do "
            "wniosku za kilka minut (obecny certyfikat działa)."
        )
    )
