"""How a sync cursor reads on the status screen: a badge, a line of detail, a fix link.

The engine stores states and error codes; the words are made here, when the page is
rendered, in the reader's language (counts through `ngettext`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django import template
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from invoices.models import InvoiceSyncState, SyncCursor
from invoices.sync.selectors import CursorRow

register = template.Library()
State = SyncCursor.State

TONES = {
    State.IDLE: "ok",
    State.SYNCING: "warn",
    State.BACKFILLING: "warn",
    State.WAITING: "warn",
    State.FAILING: "bad",
}


@dataclass(frozen=True)
class CursorStatus:
    label: str
    tone: str
    detail: str = ""
    error: str = ""
    fix_url: str = ""
    fix_label: str = ""


def invoices_saved(n: int) -> str:
    return ngettext("zapisano %(n)d fakturę", "zapisano %(n)d faktur", n) % {"n": n}


def backfill_progress(cursor: SyncCursor) -> str:
    """ "okna: 2 z 4, zapisano 120 faktur" — the history fetched so far."""
    windows = _("okna: %(done)d z %(total)d") % {
        "done": cursor.backfill_windows_done,
        "total": cursor.backfill_windows_total,
    }
    return f"{windows}, {invoices_saved(cursor.backfill_invoices_stored)}"


def _error(cursor: SyncCursor) -> tuple[str, str, str]:
    """The reason, and for a missing InvoiceRead the grant screen where it is fixed."""
    text = InvoiceSyncState.error_text(cursor.last_error_code, cursor.last_error_params)
    if cursor.last_error_code == "no_invoice_read":
        url = reverse("grants:client", args=[cursor.client_id])
        return text, url, _("Przejdź do uprawnień klienta")
    return text, "", ""


@register.simple_tag
def cursor_status(row: CursorRow) -> CursorStatus:
    cursor = row.cursor
    if cursor is None:
        return CursorStatus(_("jeszcze nie synchronizowano"), "none")
    label = str(State(cursor.state).label)
    tone = TONES.get(State(cursor.state), "none")
    if cursor.state == State.FAILING:
        error, url, link = _error(cursor)
        return CursorStatus(label, tone, error=error, fix_url=url, fix_label=link)
    detail = ""
    if cursor.state == State.BACKFILLING:
        detail = backfill_progress(cursor)
    elif cursor.state == State.WAITING and cursor.waiting_until:
        detail = _("do %(time)s") % {"time": date_format(localtime(cursor.waiting_until), "H:i")}
    elif cursor.state == State.SYNCING and cursor.export_reference:
        detail = _("KSeF przygotowuje paczkę faktur")
    elif cursor.state == State.IDLE and row.busy:
        label, tone = _("W kolejce"), "warn"
    elif cursor.state == State.IDLE and not cursor.backfill_done:
        detail = backfill_progress(cursor)
    error = ""
    if cursor.last_error_code:
        # A transient failure the engine is retrying on its own: shown, but not red yet.
        error, _url, _link = _error(cursor)
    return CursorStatus(label, tone, detail=detail, error=error)


@register.filter
def when(value: object) -> str:
    """A moment in the portal's time zone (Europe/Warsaw), short."""
    if not value:
        return ""
    return date_format(localtime(value), "SHORT_DATETIME_FORMAT")  # type: ignore[arg-type]
