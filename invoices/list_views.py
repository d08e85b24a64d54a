"""The invoice lists: office-wide ("Faktury", every client the member sees) and one
client's, in tabs by the client's role (purchases, sales, third party).

Who sees what: every member sees the lists; an accountant only the rows of assigned
clients (also in search results and counts), and another office's or an unassigned
client's list is 404 (`clients.selectors.client_get`).

The filters live in the query string (a bookmark or a shared link shows the same rows).
One URL serves the page and its fragments: htmx asks for `#invoice-results` when a filter
changes (the filter form stays, so typing keeps its focus) and for `#invoice-browser`
(filters and results) when a tab, a sort header or a page link is followed. Each view
also notes the member's look at the list (`list_visit_record`) before reading the rows,
so "new since I last looked" compares with the look before this one.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from clients.models import Client
from clients.selectors import client_get, clients_visible_to
from invoices.browse.filters import (
    COUNT_LIMIT,
    ROLE_CHOICES,
    TYPE_CHOICES,
    Selection,
    select,
)
from invoices.browse.services import list_visit_record
from portal.access import ALL_ROLES, membership_of, role_required
from portal.http import HtmxHttpRequest
from portal.models import Membership

PAGE_SIZE = 50
TEMPLATE = "invoices/list.html"
ROLES = [role for role, _label in ROLE_CHOICES]
FRAGMENTS = {"invoice-results": "results", "invoice-browser": "browser"}


@require_GET
@role_required(*ALL_ROLES)
def invoice_list(request: HtmxHttpRequest) -> HttpResponse:
    membership = membership_of(request)
    return _list(request, membership, client=None)


@require_GET
@role_required(*ALL_ROLES)
def client_invoices(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = membership_of(request)
    return _list(request, membership, client=client_get(membership, pk))


def _list(
    request: HtmxHttpRequest, membership: Membership, *, client: Client | None
) -> HttpResponse:
    selection = select(membership=membership, params=request.GET, client=client)
    list_visit_record(membership=membership, client=client, role=selection.role)
    counts = selection.counts()
    total = counts[selection.role or "all"]
    page = _page(selection, total, request.GET.get("page"))
    context = {
        "client": client,
        "selection": selection,
        "form": selection.form,
        "page": page,
        "total": total,
        "tabs": _tabs(request.GET, selection, counts),
        "new_count": counts[f"new_{selection.role}"]
        if selection.role
        else sum(counts[f"new_{r}"] for r in ROLES),
        "count_limit": COUNT_LIMIT,
        "columns": _columns(request.GET, selection),
        "page_query": _without(request.GET, "page"),
        "export_query": _without(request.GET, "page"),
        "type_choices": TYPE_CHOICES,
        "client_choices": _client_choices(membership) if client is None else [],
        "list_url": request.path,
    }
    return render(request, _template(request), context)


def _template(request: HtmxHttpRequest) -> str:
    if request.htmx and not request.htmx.boosted:
        fragment = FRAGMENTS.get(request.htmx.target or "")
        if fragment:
            return f"{TEMPLATE}#{fragment}"
    return TEMPLATE


def _page(selection: Selection, total: int, number: str | None) -> Page[Any]:
    """The page of rows; the count comes from the tabs' query, not a second COUNT. Past
    COUNT_LIMIT rows the pages end there (the list asks for a narrower filter)."""
    paginator = Paginator(selection.links, PAGE_SIZE)
    paginator.__dict__["count"] = min(total, COUNT_LIMIT)  # a cached_property
    return paginator.get_page(number)


def _without(query: QueryDict, *keys: str, **values: str) -> str:
    changed = query.copy()
    for key in keys:
        changed.pop(key, None)
    for key, value in values.items():
        if value:
            changed[key] = value
        else:
            changed.pop(key, None)
    return changed.urlencode()


def _tabs(query: QueryDict, selection: Selection, counts: dict[str, int]) -> list[dict[str, Any]]:
    """One tab per role (office-wide also "all"), keeping every filter but the page."""
    tabs: list[dict[str, Any]] = []
    if selection.client is None:
        tabs.append(
            {
                "role": "",
                "label": None,
                "count": counts["all"],
                "new": sum(counts[f"new_{role}"] for role in ROLES),
                "query": _without(query, "page", role=""),
                "current": selection.role == "",
            }
        )
    for role, label in ROLE_CHOICES:
        tabs.append(
            {
                "role": role,
                "label": label,
                "count": counts[role],
                "new": counts[f"new_{role}"],
                "query": _without(query, "page", role=role),
                "current": selection.role == role,
            }
        )
    return tabs


# The table's columns: sort key, header, CSS class; who sees them (office-wide: client).
COLUMNS = [
    ("issue_date", _("Wystawiona"), ""),
    ("number", _("Numer"), ""),
    ("ksef_number", _("Numer KSeF"), ""),
    ("counterparty", _("Kontrahent"), ""),
    ("client", _("Klient"), ""),
    ("type", _("Rodzaj"), ""),
    ("net", _("Netto"), "num"),
    ("vat", _("VAT"), "num"),
    ("gross", _("Brutto"), "num"),
    ("currency", _("Waluta"), ""),
    ("ksef_date", _("Przyjęta w KSeF"), ""),
]


def _columns(query: QueryDict, selection: Selection) -> list[dict[str, Any]]:
    """Each column's header: its sort link (ascending first, then the other way round)."""
    columns = []
    for key, label, css in COLUMNS:
        if key == "client" and selection.client is not None:
            continue
        wanted = f"-{key}" if selection.sort == key else key
        direction = {key: "ascending", f"-{key}": "descending"}.get(selection.sort, "")
        columns.append(
            {
                "key": key,
                "label": label,
                "css": css,
                "url": "?" + _without(query, "page", sort=wanted),
                "direction": direction,
            }
        )
    return columns


def _client_choices(membership: Membership) -> list[tuple[int, str]]:
    return list(clients_visible_to(membership).order_by("name", "pk").values_list("pk", "name"))
