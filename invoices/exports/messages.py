"""What a stored export outcome code means, in the reader's language.

`ExportJob.error_code` and `error_params` keep the code and its numbers; the status page
renders them here when it is shown, so an English reader never meets a stored Polish
sentence.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def _number(value: int) -> str:
    return number_format(value, force_grouping=True)


def _invoices(count: int) -> str:
    return ngettext("%(count)s faktura", "%(count)s faktur", count) % {"count": _number(count)}


def error_message(code: str, params: Mapping[str, object]) -> str:
    if code == "too_large":
        count, limit = int(str(params.get("count", 0))), int(str(params.get("limit", 0)))
        return _(
            "Lista ma %(invoices)s, a jeden eksport tego rodzaju obejmuje najwyżej "
            "%(limit)s. Zawęź filtry, np. do jednego miesiąca lub klienta."
        ) % {"invoices": _invoices(count), "limit": _number(limit)}
    if code == "empty":
        return _("Lista nie zawiera żadnej faktury — nie ma czego eksportować.")
    if code == "no_access":
        return _("Nie masz już dostępu do tych faktur, więc eksport nie został przygotowany.")
    if code == "interrupted":
        return _(
            "Przygotowanie pliku zostało przerwane (zatrzymano proces w tle). Zleć eksport "
            "ponownie."
        )
    if code == "pdf_missing":
        numbers = ", ".join(str(n) for n in params.get("ksef_numbers", []))  # type: ignore[attr-defined]
        count = int(str(params.get("count", 0)))
        return ngettext(
            "Archiwum jest gotowe, ale bez PDF %(count)s faktury (jest jej XML): %(numbers)s.",
            "Archiwum jest gotowe, ale bez PDF %(count)s faktur (są ich XML): %(numbers)s.",
            count,
        ) % {"count": count, "numbers": numbers}
    return _(
        "Nie udało się przygotować pliku. Zleć eksport ponownie; jeśli błąd się powtórzy, "
        "powiadom administratora portalu."
    )
