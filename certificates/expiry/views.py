"""Views of the expiry audit: the managers' dashboard, its CSV export, reminder settings,
and the reminder log of one client.

Who may do what: the dashboard, the export and the preview of the reminders ahead are for
managers and admins (403 for accountants) — they span every client of the office; so is
"send now" (403 for accountants, 404 for another office's client); the settings are for
admins; the reminder log of a client follows the client's visibility (an accountant sees the
log of an assigned client; another office's client or an unassigned one is 404), and shows
managers the client's reminders ahead with "send now".

The dashboard serves the full page, or its results fragment to htmx; every filter is in
the URL, so links (chart bars, bucket cards) work without JavaScript and the CSV export
receives exactly the query string of the table it exports.
"""

from __future__ import annotations

import csv
import datetime
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from certificates.expiry import preview, reminders
from certificates.expiry import selectors as expiry
from certificates.expiry.forms import ReminderSettingsForm
from certificates.models import Credential
from certificates.renewal.selectors import RenewalState, renewal_states
from clients.models import AccessModel, LegalForm
from clients.selectors import client_get
from portal.access import ADMINS, ALL_ROLES, MANAGERS, membership_of, role_required
from portal.http import HtmxHttpRequest, redirect_after_post
from portal.models import Membership
from portal.spreadsheet import spreadsheet_safe

PAGE_SIZE = 50
UPCOMING_DAYS = 30  # how far ahead the office's reminder preview looks
SORTABLE = ("expires", "client", "kind", "legal_form")


def _wants_fragment(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.boosted


def _filters(request: HttpRequest, membership: Membership) -> expiry.ExpiryFilters:
    """The dashboard's query string; unknown values are ignored rather than failing."""
    get = request.GET
    accountant = None
    if get.get("accountant", "").isdigit():
        accountant = Membership.objects.filter(
            office=membership.office, pk=int(get["accountant"])
        ).first()
    week = None
    try:
        week = datetime.date.fromisoformat(get.get("week", ""))
        week -= datetime.timedelta(days=week.weekday())
    except ValueError:
        week = None
    sort = get.get("sort", "expires")
    return expiry.ExpiryFilters(
        search=get.get("q", "").strip()[:100],
        bucket=get.get("bucket", "") if get.get("bucket") in expiry.BUCKET_LABELS else "",
        kind=get.get("kind", "") if get.get("kind") in Credential.Kind.values else "",
        accountant=accountant,
        legal_form=get.get("legal_form", "") if get.get("legal_form") in LegalForm.values else "",
        week=week,
        gap=get.get("gap", "") if get.get("gap") in expiry.GAPS else "",
        sort=sort if sort.removeprefix("-") in SORTABLE else "expires",
    )


def _link(request: HttpRequest, **changes: str | None) -> str:
    """The current query string with some parameters changed (None removes one)."""
    query = request.GET.copy()
    query.pop("page", None)
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return "?" + query.urlencode()


def _accountants(membership: Membership) -> list[Membership]:
    return list(
        Membership.objects.filter(office=membership.office, role=Membership.Role.ACCOUNTANT)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "pk")
    )


def _with_renewal(rows: list[expiry.ExpiryRow]) -> list[tuple[expiry.ExpiryRow, RenewalState]]:
    """Each row with its certificate's renewal state (one batch of queries per page)."""
    states = renewal_states([row.credential for row in rows])
    return [(row, states[row.credential.pk]) for row in rows]


@require_GET
@role_required(*MANAGERS)
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    membership = membership_of(request)
    office, now = membership.office, timezone.now()
    filters = _filters(request, membership)
    office_credentials = expiry.office_credential_kinds(office)
    if filters.gap:
        items: Any = expiry.clients_with_gap(office, filters, office_credentials)
    else:
        items = expiry.expiring_credentials(office, filters, now=now)
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    chart = expiry.timeline_chart(
        expiry.expiry_timeline(office, filters, now=now), selected=filters.week
    )
    context = {
        "filters": filters,
        "page": page,
        "rows": _with_renewal([] if filters.gap else expiry.expiry_rows(page.object_list, now=now)),
        "gap_rows": [
            (client, expiry.gap_note(client, filters.gap, office_credentials))
            for client in (page.object_list if filters.gap else [])
        ],
        "gap_label": expiry.GAPS.get(filters.gap, ""),
        "buckets": [
            (bucket, _link(request, bucket=bucket.code, week=None, gap=None))
            for bucket in expiry.bucket_counts(office, filters, now=now)
        ],
        "gaps": [
            (code, label, count, _link(request, gap=code, bucket=None, week=None))
            for (code, label), count in zip(
                expiry.GAPS.items(),
                expiry.gap_counts(office, filters, office_credentials).values(),
                strict=True,
            )
        ],
        "office_credentials": office_credentials,
        "chart": chart,
        "chart_bars": [
            (bar, _link(request, week=bar.week.start.isoformat(), bucket=None, gap=None))
            for bar in chart.bars
        ],
        "sort_links": {
            column: _link(request, sort=f"-{column}" if filters.sort == column else column)
            for column in SORTABLE
        },
        "clear_week_link": _link(request, week=None),
        "clear_gap_link": _link(request, gap=None),
        "page_link": _link(request),
        "export_url": reverse("expiry:export") + _link(request),
        "accountants": _accountants(membership),
        "kinds": Credential.Kind.choices,
        "legal_forms": LegalForm.choices,
        "bucket_choices": [(code, label) for code, label, _limit in expiry.BUCKETS],
        # After "klientów:": lower-case first letter, but "KSeF" keeps its capitals.
        "gap_choices": [(code, label[:1].lower() + label[1:]) for code, label in _gap_labels()],
        "today": expiry.local_today(now),
    }
    template = "expiry/dashboard.html"
    return render(request, f"{template}#results" if _wants_fragment(request) else template, context)


def _accountant_names(members: Any) -> str:
    return ", ".join(member.display_name for member in members)


@require_GET
@role_required(*MANAGERS)
def export_csv(request: HtmxHttpRequest) -> HttpResponse:
    """Exactly the dashboard's rows under the same query string, for Excel (BOM, `;`)."""
    membership = membership_of(request)
    office, now = membership.office, timezone.now()
    filters = _filters(request, membership)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"wygasajace-poswiadczenia-{expiry.local_today(now).isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response.write("\ufeff")  # the BOM makes Excel read UTF-8 (Polish letters)
    writer = csv.writer(response, delimiter=";")
    if filters.gap:
        office_credentials = expiry.office_credential_kinds(office)
        writer.writerow(
            [
                _("Klient"),
                _("NIP"),
                _("Forma prawna"),
                _("Model dostępu"),
                _("Brak"),
                _("Uwagi"),
                _("Opiekunowie"),
            ]
        )
        for client in expiry.clients_with_gap(office, filters, office_credentials):
            writer.writerow(
                spreadsheet_safe(value)
                for value in (
                    client.name,
                    client.nip,
                    client.get_legal_form_display(),
                    AccessModel(client.access_model).label,
                    expiry.GAPS[filters.gap],
                    expiry.gap_note(client, filters.gap, office_credentials),
                    _accountant_names(client.assigned_accountants.all()),
                )
            )
        return response
    writer.writerow(
        [
            _("Klient"),
            _("NIP"),
            _("Forma prawna"),
            _("Rodzaj"),
            _("Numer seryjny / token"),
            _("Właściciel"),
            _("Ważny do"),
            _("Dni do wygaśnięcia"),
            _("Przedział"),
            _("Opiekunowie"),
        ]
    )
    for row in expiry.expiry_rows(expiry.expiring_credentials(office, filters, now=now), now=now):
        holder = row.credential.client
        writer.writerow(
            spreadsheet_safe(value)
            for value in (
                row.holder,
                holder.nip if holder else office.nip,
                holder.get_legal_form_display() if holder else "",
                row.credential.get_kind_display(),
                row.label,
                row.credential.owner_name,
                timezone.localtime(row.expires_at).strftime("%d.%m.%Y") if row.expires_at else "",
                row.days_left if row.days_left is not None else "",
                row.bucket_label,
                _accountant_names(row.accountants),
            )
        )
    return response


@require_http_methods(["GET", "POST"])
@role_required(*ADMINS)
def reminder_settings(request: HtmxHttpRequest) -> HttpResponse:
    membership = membership_of(request)
    current = reminders.reminder_settings_of(membership.office)
    form = ReminderSettingsForm.for_settings(
        current, request.POST if request.method == "POST" else None
    )
    if form.is_bound and form.is_valid():
        reminders.reminder_settings_update(
            actor=request.user,  # type: ignore[arg-type]
            office=membership.office,
            **form.cleaned_data,
        )
        messages.success(request, _("Zapisano ustawienia przypomnień."))
        return redirect_after_post(request, reverse("expiry:settings"))
    template = "expiry/settings.html"
    return render(
        request, f"{template}#form" if _wants_fragment(request) else template, {"form": form}
    )


@require_GET
@role_required(*ALL_ROLES)
def client_reminders(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The reminder log of one client: what was sent, when and to whom; for managers also
    what goes out next, with "send now"."""
    membership = membership_of(request)
    client = client_get(membership, pk)
    context = {
        "client": client,
        "reminders": expiry.reminders_for_client(client),
        **preview.reminders_ahead_context(membership, client, back="log"),
    }
    template = "expiry/client_reminders.html"
    if _wants_fragment(request):
        template = "expiry/_client_reminders.html"
    return render(request, template, context)


@require_GET
@role_required(*MANAGERS)
def upcoming(request: HtmxHttpRequest) -> HttpResponse:
    """The office's reminders of the next days: client, credential, day, addresses, subject."""
    membership = membership_of(request)
    planned = preview.reminders_planned(
        membership.office, now=timezone.now(), horizon_days=UPCOMING_DAYS
    )
    context = {
        "page": Paginator(planned, PAGE_SIZE).get_page(request.GET.get("page")),
        "horizon_days": UPCOMING_DAYS,
        "due_count": sum(item.is_due for item in planned),
    }
    return render(request, "expiry/upcoming.html", context)


def _send_now_messages(report: reminders.RunReport) -> list[tuple[int, str]]:
    """What "send now" did, in words with the right plural forms."""
    said: list[tuple[int, str]] = []
    if report.sent:
        text = ngettext(
            "Wysłano %(count)d przypomnienie.", "Wysłano %(count)d przypomnienia.", report.sent
        )
        said.append((messages.SUCCESS, text % {"count": report.sent}))
    if report.failed:
        text = ngettext(
            "Nie udało się wysłać %(count)d przypomnienia: serwer poczty go nie przyjął. "
            "Zadanie o 07:00 spróbuje ponownie.",
            "Nie udało się wysłać %(count)d przypomnień: serwer poczty ich nie przyjął. "
            "Zadanie o 07:00 spróbuje ponownie.",
            report.failed,
        )
        said.append((messages.ERROR, text % {"count": report.failed}))
    if report.skipped:
        text = ngettext(
            "Pominięto %(count)d przypomnienie: ani klient, ani jego opiekunowie nie mają "
            "adresu e-mail.",
            "Pominięto %(count)d przypomnienia: ani klient, ani jego opiekunowie nie mają "
            "adresu e-mail.",
            report.skipped,
        )
        said.append((messages.WARNING, text % {"count": report.skipped}))
    if report.not_ours:
        text = ngettext(
            "%(count)d przypomnienie zostało już wysłane albo właśnie wysyła je zadanie "
            "dzienne — nie wysłano go drugi raz.",
            "%(count)d przypomnienia zostały już wysłane albo właśnie wysyła je zadanie "
            "dzienne — nie wysłano ich drugi raz.",
            report.not_ours,
        )
        said.append((messages.INFO, text % {"count": report.not_ours}))
    if not report.due:
        said.append(
            (
                messages.INFO,
                _(
                    "Nic nie czeka na wysłanie: przypomnienie wychodzi dopiero wtedy, gdy "
                    "poświadczenie przekroczy kolejny próg. Kiedy to nastąpi, widać w "
                    "„Najbliższych przypomnieniach”."
                ),
            )
        )
    return said


def _back_url(back: str, client_pk: int) -> str:
    """Where "send now" returns: only pages of the portal's own choosing, never a URL."""
    if back == "upcoming":
        return reverse("expiry:upcoming")
    if back == "client":
        return reverse("clients:detail", args=[client_pk])
    return reverse("expiry:client_reminders", args=[client_pk])


@require_POST
@role_required(*MANAGERS)
def send_now(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Send the client's reminders that are due now instead of waiting for 07:00."""
    client = client_get(membership_of(request), pk)
    report = preview.reminders_send_now(actor=request.user, client=client)  # type: ignore[arg-type]
    for level, text in _send_now_messages(report):
        messages.add_message(request, level, text)
    return redirect_after_post(request, _back_url(request.POST.get("back", ""), client.pk))


def _gap_labels() -> list[tuple[str, str]]:
    return [(code, str(label)) for code, label in expiry.GAPS.items()]
