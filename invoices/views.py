"""The sync screens: one client's sync status with "Synchronizuj teraz" and its own
choices, and the office's sync settings.

Who may do what (another office's client or an unassigned accountant's → 404; wrong
role → 403):
- every member who sees the client: the status and "Synchronizuj teraz";
- managers and admins: pause/resume a client, its history start, the office's settings.

The status page polls its panel (same URL, `request.htmx`) while the engine works on any
of the client's subject types, and stops (HTTP 286) when all are idle or failing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling, trigger_client_event

from clients.models import Client
from clients.selectors import client_get
from invoices.forms import ClientSyncSettingsForm, OfficeSyncSettingsForm
from invoices.sync import selectors
from invoices.sync import services as sync
from portal.access import ALL_ROLES, MANAGERS, membership_of, role_required
from portal.http import HtmxHttpRequest, redirect_after_post

PAGE = "invoices/client_sync.html"


def _wants_fragment(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.boosted


def _context(request: HtmxHttpRequest, client: Client, **extra: Any) -> dict[str, Any]:
    status = selectors.client_sync_status(client)
    initial = {"paused": status.paused, "backfill_from": status.own_backfill_from}
    return {
        "client": client,
        "status": status,
        "form": extra.pop("form", None) or ClientSyncSettingsForm(initial=initial),
        "can_manage": membership_of(request).role in MANAGERS,
        **extra,
    }


def _status(
    request: HtmxHttpRequest, client: Client, *, polled: bool = False, **extra: Any
) -> HttpResponse:
    """The full page, or to htmx the status panel (its poll stops once nothing is busy)."""
    context = _context(request, client, **extra)
    if not _wants_fragment(request):
        return render(request, PAGE, context)
    response = render(request, f"{PAGE}#sync-status", context)
    if polled and not context["status"].busy:
        # 286 tells htmx to stop polling; the final state is still swapped in.
        return HttpResponseStopPolling(response.content)
    return response


@require_GET
@role_required(*ALL_ROLES)
def client_sync(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _status(request, client_get(membership_of(request), pk), polled=True)


@require_POST
@role_required(*ALL_ROLES)
def client_sync_now(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    client = client_get(membership_of(request), pk)
    blocked = selectors.sync_blocked_reason(client)
    if not blocked:
        sync.sync_request(actor=request.user, client=client)  # type: ignore[arg-type]
    if request.htmx:
        if blocked:
            return _status(request, client, error=blocked)
        return _status(request, client, notice=_("Zlecono synchronizację — postęp widać poniżej."))
    if blocked:
        messages.error(request, str(blocked))
    else:
        messages.success(request, _("Zlecono synchronizację."))
    return redirect("invoices:client_sync", pk=client.pk)


@require_POST
@role_required(*ALL_ROLES)
def client_sync_settings(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = membership_of(request)
    client = client_get(membership, pk, roles=MANAGERS)
    form = ClientSyncSettingsForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            return render(request, f"{PAGE}#sync-settings", _context(request, client, form=form))
        return render(request, PAGE, _context(request, client, form=form))
    status = selectors.client_sync_status(client)
    paused, start = form.cleaned_data["paused"], form.cleaned_data["backfill_from"]
    if paused != status.paused:
        sync.sync_pause_set(actor=membership, client=client, paused=paused)
    if start != status.own_backfill_from:
        sync.client_backfill_set(actor=membership, client=client, start=start)
    notice = _("Zapisano ustawienia synchronizacji klienta.")
    if not request.htmx:
        messages.success(request, notice)
        return redirect("invoices:client_sync", pk=client.pk)
    response = render(
        request, f"{PAGE}#sync-settings", _context(request, client, settings_notice=notice)
    )
    return trigger_client_event(response, "sync-changed")  # the status panel refreshes


@require_http_methods(["GET", "POST"])
@role_required(*MANAGERS)
def office_settings(request: HtmxHttpRequest) -> HttpResponse:
    membership = membership_of(request)
    current = selectors.office_settings_read(membership.office)
    form = OfficeSyncSettingsForm.for_settings(
        current, request.POST if request.method == "POST" else None
    )
    if form.is_bound and form.is_valid():
        sync.office_settings_update(actor=membership, **form.cleaned_data)
        messages.success(request, _("Zapisano ustawienia synchronizacji biura."))
        return redirect_after_post(request, reverse("invoices:settings"))
    template = "invoices/settings.html"
    return render(
        request, f"{template}#form" if _wants_fragment(request) else template, {"form": form}
    )
