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

from dataclasses import dataclass
from typing import Any

from django.db.models import Subquery
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
    Counts,
    Selection,
    filter_form,
    select,
)
from invoices.browse.services import list_visit_record
from invoices.models import ClientInvoice, OutgoingInvoice, SubjectType
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
    form = filter_form(request.GET, client=client)
    role = form.cleaned_data.get("role") or ""
    baseline = list_visit_record(membership=membership, client=client, role=role)
    selection = select(
        membership=membership,
        form=form,
        client=client,
        baselines={role if client else "": baseline},
    )
    counts = selection.counts()
    page = ListPage.of(selection, counts, request.GET.get("page"))
    context = {
        "client": client,
        "selection": selection,
        "form": form,
        "page": page,
        "counts": counts,
        "total": counts.rows[role],
        "new_count": counts.new[role],
        "tabs": _tabs(request.GET, selection, counts, client),
        "columns": _columns(request.GET, selection, client),
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


@dataclass
class ListPage:
    """One page of rows. While the count is exact the pages are numbered "3 z 7"; past
    COUNT_LIMIT only "next" is known (a page reads one row more than it shows).

    The page's ids are picked by a subquery without the joins the columns need, and only
    those rows are read whole, so a deep page does not join thousands of rows."""

    rows: list[ClientInvoice]
    number: int
    has_next: bool
    num_pages: int | None  # None: not counted

    @classmethod
    def of(cls, selection: Selection, counts: Counts, asked: str | None) -> ListPage:
        total = counts.rows[selection.role]
        num_pages = max(1, -(-total // PAGE_SIZE)) if counts.exact else None
        number = max(1, int(asked)) if asked and asked.isdigit() else 1
        # Past the counting limit the pages stop at the limit too (deep offsets are slow).
        last = num_pages or max(1, COUNT_LIMIT // PAGE_SIZE)
        number = min(number, last)
        if total == 0:
            return cls(rows=[], number=1, has_next=False, num_pages=num_pages)
        start = (number - 1) * PAGE_SIZE
        ids = selection.ordered.values("pk")[start : start + PAGE_SIZE + 1]
        rows = list(selection.links.filter(pk__in=Subquery(ids)))
        shown = rows[:PAGE_SIZE]
        _mark_sent_by_portal(shown)
        return cls(
            rows=shown,
            number=number,
            has_next=len(rows) > PAGE_SIZE and number < last,
            num_pages=num_pages,
        )

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1


def _mark_sent_by_portal(rows: list[ClientInvoice]) -> None:
    """Give each sales row the portal sent its `sent_upo` (the OutgoingInvoice whose UPO
    the row links to; None otherwise): one query for the page whatever its rows are."""
    sent = {
        (invoice_id, client_id): pk
        for invoice_id, client_id, pk in OutgoingInvoice.objects.filter(
            invoice_id__in=[row.invoice_id for row in rows], state=OutgoingInvoice.State.SENT
        ).values_list("invoice_id", "client_id", "pk")
    }
    for row in rows:
        row.sent_upo = (  # type: ignore[attr-defined]
            sent.get((row.invoice_id, row.client_id))
            if row.subject_type == SubjectType.SUBJECT1
            else None
        )


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


def _tabs(
    query: QueryDict, selection: Selection, counts: Counts, client: Client | None
) -> list[dict[str, Any]]:
    """One tab per role (office-wide also "all"), keeping every filter but the page."""
    roles = ROLES if client is not None else ["", *ROLES]
    labels = dict(ROLE_CHOICES)
    return [
        {
            "role": role,
            "label": labels.get(role),
            "count": counts.rows[role],
            "new": counts.new[role],
            "query": _without(query, "page", role=role),
            "current": selection.role == role,
        }
        for role in roles
    ]


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


def _columns(query: QueryDict, selection: Selection, client: Client | None) -> list[dict[str, Any]]:
    """Each column's header: its sort link (ascending first, then the other way round)."""
    columns = []
    for key, label, css in COLUMNS:
        if key == "client" and client is not None:
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
