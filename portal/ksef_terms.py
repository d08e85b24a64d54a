"""KSeF's codes as an office reads them, in the reader's language.

KSeF names permissions and subject types with API codes ("InvoiceWrite", "Subject2"); the
portal stores those codes and shows these words. Kept in the base layer so every app (and
the audit log) renders them the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from portal.messages import StoredText, deferred, joined

# Source texts (msgids): rendered with gettext when shown, or stored with `deferred`.
PERMISSION_LABELS = {
    "InvoiceWrite": gettext_noop("wystawianie faktur"),
    "InvoiceRead": gettext_noop("przeglądanie faktur"),
    "CredentialsManage": gettext_noop("zarządzanie uprawnieniami"),
    "CredentialsRead": gettext_noop("przeglądanie uprawnień"),
    "Introspection": gettext_noop("przeglądanie historii sesji"),
    "SubunitManage": gettext_noop("zarządzanie jednostkami podrzędnymi"),
    "EnforcementOperations": gettext_noop("operacje egzekucyjne"),
}

SUBJECT_TYPE_LABELS = {
    "Subject1": _("sprzedaż"),
    "Subject2": _("zakupy"),
    "Subject3": _("podmiot trzeci"),
    "SubjectAuthorized": _("podmiot upoważniony"),
}


def permission_label(code: object) -> str:
    """The words for one KSeF permission code (the code itself when unknown)."""
    msgid = PERMISSION_LABELS.get(str(code))
    return gettext(msgid) if msgid else str(code)


def permissions_stored(codes: Iterable[object]) -> StoredText:
    """The same words, to keep in a stored outcome (rendered in the reader's language)."""
    return joined(
        [
            deferred(PERMISSION_LABELS[str(c)]) if str(c) in PERMISSION_LABELS else str(c)
            for c in codes
        ],
        ", ",
    )


def permissions_text(codes: Iterable[object]) -> str:
    """ "wystawianie faktur, przeglądanie faktur" for ["InvoiceWrite", "InvoiceRead"]."""
    return ", ".join(permission_label(code) for code in codes)


def subject_types_text(codes: Iterable[object]) -> str:
    return ", ".join(str(SUBJECT_TYPE_LABELS.get(str(code), code)) for code in codes)
