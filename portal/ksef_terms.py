"""KSeF's codes as an office reads them, in the reader's language.

KSeF names permissions and subject types with API codes ("InvoiceWrite", "Subject2"); the
portal stores those codes and shows these words. Kept in the base layer so every app (and
the audit log) renders them the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext_lazy as _

PERMISSION_LABELS = {
    "InvoiceWrite": _("wystawianie faktur"),
    "InvoiceRead": _("przeglądanie faktur"),
    "CredentialsManage": _("zarządzanie uprawnieniami"),
    "CredentialsRead": _("przeglądanie uprawnień"),
    "Introspection": _("przeglądanie historii sesji"),
    "SubunitManage": _("zarządzanie jednostkami podrzędnymi"),
    "EnforcementOperations": _("operacje egzekucyjne"),
}

SUBJECT_TYPE_LABELS = {
    "Subject1": _("sprzedaż"),
    "Subject2": _("zakupy"),
    "Subject3": _("podmiot trzeci"),
    "SubjectAuthorized": _("podmiot upoważniony"),
}


def permission_label(code: object) -> str:
    """The words for one KSeF permission code (the code itself when unknown)."""
    return str(PERMISSION_LABELS.get(str(code), code))


def permissions_text(codes: Iterable[object]) -> str:
    """ "wystawianie faktur, przeglądanie faktur" for ["InvoiceWrite", "InvoiceRead"]."""
    return ", ".join(permission_label(code) for code in codes)


def subject_types_text(codes: Iterable[object]) -> str:
    return ", ".join(str(SUBJECT_TYPE_LABELS.get(str(code), code)) for code in codes)
