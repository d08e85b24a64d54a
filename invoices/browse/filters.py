"""The invoice lists' selection: their query string parsed, checked and turned into SQL.

`filtered_links` is the one place that says which ClientInvoice rows a list shows. The
list pages call it, and so does anything that acts on "what the list shows" later (a bulk
download stores the list's query string and calls it again), so a bookmark, a page and a
download of the same query string always agree.

Parameters (all optional; an invalid one gets a Polish message in `form.errors` and is
not applied, the rest still are):

    role          purchases | sales | third      (a client's list: default purchases)
    client        a client's pk                  (office-wide list only)
    date_field    issue | ksef                   which date the range and month filter on
    date_from, date_to   RRRR-MM-DD or DD.MM.RRRR, inclusive, days in Europe/Warsaw
    month         RRRR-MM
    counterparty  a NIP (prefix, "PL"/dashes/spaces ignored) or a part of the name
    amount_field  gross | net                    which amount the range filters on
    amount_min, amount_max   "1 626,01" or "1626.01", inclusive
    currency      PLN, EUR...
    type          vat | correction | advance | settlement | simplified | fa_rr | pef
                  (repeatable: rows of any chosen group)
    mode          online | offline
    attachment    1: only invoices with an attachment
    new           1: only rows stored since the member last looked at this list
    q             a part of the invoice number, KSeF number, counterparty name or NIP
    sort          a column of SORTS, "-" for descending; ties are broken by id

The counterparty is the other party than the client: the seller of a purchase, the
buyer of a sale; on a third-party or authorised-subject invoice either of them.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import reduce
from typing import Any

from django import forms
from django.db import connections
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import QueryDict
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext_lazy as _

from clients.models import Client
from clients.selectors import clients_visible_to
from invoices.models import ClientInvoice, InvoiceListVisit, SubjectType
from portal.models import Membership
from portal.validators import normalize_identifier

# --- Vocabularies ---------------------------------------------------------------------------

ROLE_SUBJECT_TYPES: dict[str, tuple[str, ...]] = {
    "purchases": (SubjectType.SUBJECT2,),
    "sales": (SubjectType.SUBJECT1,),
    "third": (SubjectType.SUBJECT3, SubjectType.SUBJECT_AUTHORIZED),
}
ROLE_CHOICES = [
    ("purchases", _("Zakupy")),
    ("sales", _("Sprzedaż")),
    ("third", _("Podmiot trzeci")),
]
DEFAULT_CLIENT_ROLE = "purchases"
ROLE_OF_SUBJECT_TYPE = {st: role for role, types in ROLE_SUBJECT_TYPES.items() for st in types}

# KSeF's InvoiceType values (OpenAPI `InvoiceType`): Vat, Zal, Kor, Roz, Upr, KorZal, KorRoz
# are FA forms; VatRr, KorVatRr are FA_RR; VatPef, VatPefSp, KorPef are PEF. A correction
# of an advance invoice is both a correction and an advance invoice.
CORRECTION_TYPES = ("Kor", "KorZal", "KorRoz", "KorVatRr", "KorPef")
TYPE_GROUPS: dict[str, Q] = {
    "vat": Q(invoice__invoice_type="Vat"),
    "correction": Q(invoice__invoice_type__in=CORRECTION_TYPES),
    "advance": Q(invoice__invoice_type__in=("Zal", "KorZal")),
    "settlement": Q(invoice__invoice_type__in=("Roz", "KorRoz")),
    "simplified": Q(invoice__invoice_type="Upr"),
    "fa_rr": Q(invoice__invoice_type__in=("VatRr", "KorVatRr"))
    | Q(invoice__form_code__startswith="FA_RR"),
    "pef": Q(invoice__invoice_type__in=("VatPef", "VatPefSp", "KorPef"))
    | Q(invoice__form_code__startswith="PEF"),
}
TYPE_CHOICES = [
    ("vat", _("VAT (podstawowe)")),
    ("correction", _("korygujące")),
    ("advance", _("zaliczkowe")),
    ("settlement", _("rozliczeniowe")),
    ("simplified", _("uproszczone")),
    ("fa_rr", _("VAT RR (FA_RR)")),
    ("pef", _("PEF")),
]
# How a row's invoice type is named in the list (KSeF's value when unknown).
TYPE_LABELS = {
    "Vat": _("VAT"),
    "Zal": _("zaliczkowa"),
    "Kor": _("korygująca"),
    "Roz": _("rozliczeniowa"),
    "Upr": _("uproszczona"),
    "KorZal": _("korygująca zaliczkową"),
    "KorRoz": _("korygująca rozliczeniową"),
    "VatRr": _("VAT RR"),
    "KorVatRr": _("korygująca VAT RR"),
    "VatPef": _("PEF"),
    "VatPefSp": _("PEF specjalizowana"),
    "KorPef": _("korygująca PEF"),
}
MODE_VALUES = {"online": "Online", "offline": "Offline"}

# Sort keys and their columns; every order ends with the row's id in the same direction.
SORTS: dict[str, str] = {
    "issue_date": "issue_date",  # ClientInvoice's copy: indexed with client and role
    "ksef_date": "invoice__invoicing_date",
    "number": "invoice__invoice_number",
    "ksef_number": "invoice__ksef_number",
    "counterparty": "counterparty_name",
    "client": "client__name",
    "role": "subject_type",
    "type": "invoice__invoice_type",
    "mode": "invoice__invoicing_mode",
    "net": "invoice__net_amount",
    "vat": "invoice__vat_amount",
    "gross": "invoice__gross_amount",
    "currency": "invoice__currency",
    "stored": "stored_at",
}
DEFAULT_SORT = "-issue_date"
SORT_CHOICES = [(key, key) for key in SORTS] + [(f"-{key}", f"-{key}") for key in SORTS]

# The lists count at most this many rows per tab (see Selection.counts).
COUNT_LIMIT = 10_000
SEARCH_MIN_LENGTH = 3
SEARCH_MAX_LENGTH = 100
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_NIP_LIKE = re.compile(r"^\d{3,10}$")
# No earlier look: nothing is new yet (a member's first visit would otherwise mark every
# invoice of the office new, which tells nothing).
_AFTER_EVERYTHING = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)

# --- The form -------------------------------------------------------------------------------

DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d.%m.%Y"]
DATE_ERRORS = {"invalid": _("Podaj datę jako RRRR-MM-DD lub DD.MM.RRRR, np. 2026-03-01.")}


class AmountField(forms.CharField):
    """An amount as people type it: "1 626,01", "1626,01" or "1626.01"."""

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        cleaned = re.sub(r"[\s\u00a0\u202f]", "", text).replace(",", ".")[:30]
        try:
            amount = Decimal(cleaned)
        except InvalidOperation as exc:
            raise forms.ValidationError(
                _("Podaj kwotę liczbą, np. 1 626,01."), code="invalid"
            ) from exc
        if not amount.is_finite() or abs(amount) >= Decimal("1e16"):
            raise forms.ValidationError(_("Podaj kwotę liczbą, np. 1 626,01."), code="invalid")
        return amount


class InvoiceFilterForm(forms.Form):
    role = forms.ChoiceField(
        label=_("Rola klienta"),
        choices=[("", _("wszystkie")), *ROLE_CHOICES],
        required=False,
        error_messages={
            "invalid_choice": _("Nieznana rola: wybierz zakupy, sprzedaż lub podmiot trzeci.")
        },
    )
    client = forms.IntegerField(
        label=_("Klient"),
        required=False,
        min_value=1,
        error_messages={
            "invalid": _("Nieznany klient — wybierz go z listy."),
            "min_value": _("Nieznany klient — wybierz go z listy."),
        },
    )
    date_field = forms.ChoiceField(
        label=_("Filtruj po dacie"),
        choices=[("issue", _("wystawienia")), ("ksef", _("przyjęcia w KSeF"))],
        required=False,
        error_messages={"invalid_choice": _("Wybierz datę wystawienia lub przyjęcia w KSeF.")},
    )
    date_from = forms.DateField(
        label=_("Od dnia"),
        required=False,
        input_formats=DATE_INPUT_FORMATS,
        error_messages=DATE_ERRORS,
    )
    date_to = forms.DateField(
        label=_("Do dnia"),
        required=False,
        input_formats=DATE_INPUT_FORMATS,
        error_messages=DATE_ERRORS,
    )
    month = forms.CharField(label=_("Miesiąc"), required=False, max_length=7)
    counterparty = forms.CharField(
        label=_("Kontrahent (NIP lub nazwa)"), required=False, max_length=100
    )
    amount_field = forms.ChoiceField(
        label=_("Kwota"),
        choices=[("gross", _("brutto")), ("net", _("netto"))],
        required=False,
        error_messages={"invalid_choice": _("Wybierz kwotę brutto lub netto.")},
    )
    amount_min = AmountField(label=_("Kwota od"), required=False)
    amount_max = AmountField(label=_("Kwota do"), required=False)
    currency = forms.CharField(label=_("Waluta"), required=False, max_length=20)
    type = forms.MultipleChoiceField(
        label=_("Rodzaj faktury"),
        choices=TYPE_CHOICES,
        required=False,
        error_messages={"invalid_choice": _("Nieznany rodzaj faktury: %(value)s.")},
    )
    mode = forms.ChoiceField(
        label=_("Tryb wystawienia"),
        choices=[("", _("każdy")), ("online", _("online")), ("offline", _("offline"))],
        required=False,
        error_messages={"invalid_choice": _("Wybierz tryb online lub offline.")},
    )
    attachment = forms.BooleanField(label=_("Tylko z załącznikiem"), required=False)
    new = forms.BooleanField(label=_("Tylko nowe od mojej ostatniej wizyty"), required=False)
    q = forms.CharField(label=_("Szukaj"), required=False, max_length=SEARCH_MAX_LENGTH)
    sort = forms.ChoiceField(
        choices=SORT_CHOICES,
        required=False,
        error_messages={
            "invalid_choice": _("Nie można sortować po „%(value)s” — pokazano od najnowszych.")
        },
    )

    def clean_month(self) -> tuple[dt.date, dt.date] | None:
        text = self.cleaned_data["month"].strip()
        if not text:
            return None
        match = _MONTH.match(text)
        if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 2000:
            raise forms.ValidationError(
                _("Podaj miesiąc jako RRRR-MM, np. 2026-03."), code="invalid"
            )
        first = dt.date(int(match[1]), int(match[2]), 1)
        following = (first + dt.timedelta(days=32)).replace(day=1)
        return first, following - dt.timedelta(days=1)

    def clean_currency(self) -> str:
        code = self.cleaned_data["currency"].strip().upper()
        if code and not re.fullmatch(r"[A-Z]{3}", code):
            raise forms.ValidationError(
                _("Podaj kod waluty z trzech liter, np. PLN lub EUR."), code="invalid"
            )
        return code

    def clean_q(self) -> str:
        text = " ".join(self.cleaned_data["q"].split())
        if text and len(text) < SEARCH_MIN_LENGTH:
            raise forms.ValidationError(
                _("Wpisz co najmniej %(count)d znaki, aby szukać."),
                code="too_short",
                params={"count": SEARCH_MIN_LENGTH},
            )
        return text

    def clean_counterparty(self) -> str:
        return " ".join(self.cleaned_data["counterparty"].split())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("Data „do dnia” jest wcześniejsza niż „od dnia”."))
        low, high = data.get("amount_min"), data.get("amount_max")
        if low is not None and high is not None and low > high:
            self.add_error("amount_max", _("Kwota „do” jest mniejsza niż kwota „od”."))
        return data


def _as_query_dict(params: Mapping[str, Any] | QueryDict) -> MultiValueDict[str, Any]:
    """A query string as a form reads it; a plain mapping may hold lists or "a,b" types."""
    if isinstance(params, MultiValueDict):
        return params
    data: MultiValueDict[str, Any] = MultiValueDict()
    for key, value in params.items():
        values = list(value) if isinstance(value, list | tuple) else [value]
        if key == "type":
            values = [part for item in values for part in str(item).split(",") if part]
        data.setlist(key, [str(item) for item in values])
    return data


def filter_form(
    params: Mapping[str, Any] | QueryDict, *, client: Client | None = None
) -> InvoiceFilterForm:
    """The list's query string, validated (call `.is_valid()` done: errors are in `.errors`).

    A client's list is always one role (purchases unless asked); the client filter belongs
    to the office-wide list only."""
    data = _as_query_dict(params).copy()
    if client is not None:
        data.pop("client", None)
        if not data.get("role"):
            data["role"] = DEFAULT_CLIENT_ROLE
    form = InvoiceFilterForm(data)
    form.is_valid()
    return form


# --- The selection --------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """What a list shows: the validated form (values and errors), its rows, and the same
    filters over every role for the tabs' counts."""

    form: InvoiceFilterForm
    links: QuerySet[ClientInvoice]
    every_role: QuerySet[ClientInvoice]  # unsorted, no list columns
    membership: Membership
    client: Client | None
    role: str  # "" for every role
    sort: str

    @property
    def narrowed(self) -> bool:
        """Whether any filter or search narrows the list (the role tab does not)."""
        data = self.form.cleaned_data
        return any(
            value not in (None, "", [], False)
            for key, value in data.items()
            if key not in ("role", "sort", "date_field", "amount_field")
        )

    def counts(self) -> dict[str, int]:
        """Rows per role ("all" for every role), and those new since the last look, in
        one query: {"all": .., "purchases": .., "new_purchases": .., ...}.

        Each count stops at COUNT_LIMIT + 1: counting every one of an office's 200,000
        rows would cost more than the page itself, and past ten thousand the list says
        "ponad 10 000" and asks for a narrower filter."""
        counted: dict[str, QuerySet[ClientInvoice]] = {"all": self.every_role}
        for role, subject_types in ROLE_SUBJECT_TYPES.items():
            in_role = self.every_role.filter(subject_type__in=subject_types)
            counted[role] = in_role
            counted[f"new_{role}"] = in_role.filter(
                new_condition(self.membership, client=self.client, role=role)
            )
        return _limited_counts(counted, COUNT_LIMIT + 1)


def _limited_counts(querysets: Mapping[str, QuerySet[Any]], limit: int) -> dict[str, int]:
    """SELECT (SELECT COUNT(*) FROM (... LIMIT n)), (...): bounded counts of several
    querysets in one round trip (Django counts a sliced queryset, but one query each)."""
    database = next(iter(querysets.values())).db
    parts, params = [], []
    for index, queryset in enumerate(querysets.values()):
        limited = queryset.order_by().values("pk")[:limit]
        sql, values = limited.query.get_compiler(using=database).as_sql()
        # The SQL is Django's own compilation; every value stays a bound parameter.
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS counted_{index})")  # noqa: S608
        params.extend(values)
    with connections[database].cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return dict(zip(querysets, row, strict=True))


def filtered_links(
    *,
    membership: Membership,
    params: Mapping[str, Any] | QueryDict,
    client: Client | None = None,
) -> QuerySet[ClientInvoice]:
    """The member's visible ClientInvoice rows the query string selects, sorted as asked."""
    return select(membership=membership, params=params, client=client).links


def select(
    *,
    membership: Membership,
    params: Mapping[str, Any] | QueryDict,
    client: Client | None = None,
) -> Selection:
    form = filter_form(params, client=client)
    data = form.cleaned_data
    role = data.get("role") or ""
    scope = visible_links(membership, client=client, client_pk=data.get("client"))
    # Every role: the tabs count it. The conditions of one role name only that role's
    # counterparty columns (simpler for the database) and select the same rows.
    every_role = scope.filter(_conditions(data, role=""))
    links = scope
    if role:
        links = links.filter(subject_type__in=ROLE_SUBJECT_TYPES[role])
    links = links.filter(_conditions(data, role=role))
    if data.get("new"):
        every_role = every_role.filter(new_condition(membership, client=client, role=""))
        links = links.filter(new_condition(membership, client=client, role=role))
    sort = data.get("sort") or DEFAULT_SORT
    is_new = ExpressionWrapper(
        new_condition(membership, client=client, role=role), output_field=BooleanField()
    )
    return Selection(
        form=form,
        links=with_list_columns(links).annotate(is_new=is_new).order_by(*sort_order(sort)),
        every_role=every_role,
        membership=membership,
        client=client,
        role=role,
        sort=sort,
    )


def visible_links(
    membership: Membership, *, client: Client | None = None, client_pk: int | None = None
) -> QuerySet[ClientInvoice]:
    """Every row the member may see (one client's, when given)."""
    links = ClientInvoice.objects.filter(client__in=clients_visible_to(membership))
    if client is not None:
        return links.filter(client=client)
    if client_pk:
        return links.filter(client_id=client_pk)
    return links


def with_list_columns(links: QuerySet[ClientInvoice]) -> QuerySet[ClientInvoice]:
    """The invoice and client of each row, without the XML and metadata, and the
    counterparty's name and NIP (`counterparty_name`, `counterparty_nip`)."""
    return (
        links.select_related("invoice", "client")
        .defer("invoice__xml", "invoice__metadata")
        .annotate(counterparty_name=_counterparty("seller_name", "buyer_name"))
        .annotate(counterparty_nip=_counterparty("seller_nip", "buyer_identifier"))
    )


def _counterparty(seller_column: str, buyer_column: str) -> Case:
    """The other party than the client: the buyer of a sale, otherwise the seller."""
    return Case(
        When(subject_type=SubjectType.SUBJECT1, then=F(f"invoice__{buyer_column}")),
        default=F(f"invoice__{seller_column}"),
        output_field=CharField(),
    )


def sort_order(sort: str) -> list[Any]:
    descending = sort.startswith("-")
    column = SORTS[sort.removeprefix("-")]
    if descending:
        return [F(column).desc(), F("pk").desc()]
    return [F(column).asc(), F("pk").asc()]


def _conditions(data: Mapping[str, Any], *, role: str) -> Q:
    condition = Q()
    date_column = "invoice__invoicing_date" if data.get("date_field") == "ksef" else "issue_date"
    for start, end in filter(
        None, [(data.get("date_from"), data.get("date_to")), data.get("month")]
    ):
        condition &= _date_range(date_column, start, end)
    if data.get("counterparty"):
        condition &= _party_condition(data["counterparty"], role=role, search=False)
    amount_column = (
        "invoice__net_amount" if data.get("amount_field") == "net" else "invoice__gross_amount"
    )
    if data.get("amount_min") is not None:
        condition &= Q(**{f"{amount_column}__gte": data["amount_min"]})
    if data.get("amount_max") is not None:
        condition &= Q(**{f"{amount_column}__lte": data["amount_max"]})
    if data.get("currency"):
        condition &= Q(invoice__currency=data["currency"])
    if data.get("type"):
        groups = Q()
        for group in data["type"]:
            groups |= TYPE_GROUPS[group]
        condition &= groups
    if data.get("mode"):
        condition &= Q(invoice__invoicing_mode=MODE_VALUES[data["mode"]])
    if data.get("attachment"):
        condition &= Q(invoice__has_attachment=True)
    if data.get("q"):
        condition &= _search_condition(data["q"], role=role)
    return condition


def _date_range(column: str, start: dt.date | None, end: dt.date | None) -> Q:
    """Whole days, inclusive; KSeF's acceptance time is compared in Polish days."""
    condition = Q()
    if column == "issue_date":
        if start:
            condition &= Q(issue_date__gte=start)
        if end:
            condition &= Q(issue_date__lte=end)
        return condition
    if start:
        condition &= Q(**{f"{column}__gte": _start_of_day(start)})
    if end:
        condition &= Q(**{f"{column}__lt": _start_of_day(end + dt.timedelta(days=1))})
    return condition


def _start_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_default_timezone())


def _party_columns(role: str) -> Sequence[tuple[str, str]]:
    """(NIP column, name column) of the counterparty of a role; "" role: both parties."""
    seller = ("invoice__seller_nip", "invoice__seller_name")
    buyer = ("invoice__buyer_identifier", "invoice__buyer_name")
    if role == "purchases":
        return [seller]
    if role == "sales":
        return [buyer]
    return [seller, buyer]


def _party_match(text: str, columns: Sequence[tuple[str, str]], *, search: bool) -> Q:
    """A NIP-like text matches the NIP's start (anywhere, in search); otherwise the name."""
    identifier = normalize_identifier(text)
    match = Q()
    for nip_column, name_column in columns:
        if _NIP_LIKE.match(identifier):
            lookup = "contains" if search else "startswith"
            match |= Q(**{f"{nip_column}__{lookup}": identifier})
        match |= Q(**{f"{name_column}__icontains": text})
    return match


def _party_condition(text: str, *, role: str, search: bool) -> Q:
    """The counterparty of each row matches: the seller of a purchase, the buyer of a
    sale, either on a third-party invoice."""
    if role:
        return _party_match(text, _party_columns(role), search=search)
    # Every role: the first part (either party matches) lets the database use the invoice
    # columns' indexes; the second keeps the rows where the match is the counterparty, not
    # the client itself, so each row is chosen exactly as its own role's list chooses it.
    either = _party_match(text, _party_columns(""), search=search)
    by_role = Q()
    for each_role, subject_types in ROLE_SUBJECT_TYPES.items():
        by_role |= Q(subject_type__in=subject_types) & _party_match(
            text, _party_columns(each_role), search=search
        )
    return either & by_role


def _search_condition(text: str, *, role: str) -> Q:
    """The invoice number, the KSeF number, or the counterparty's name or NIP."""
    condition = Q(invoice__invoice_number__icontains=text) | Q(invoice__ksef_number__icontains=text)
    return condition | _party_condition(text, role=role, search=True)


def new_condition(membership: Membership, *, client: Client | None, role: str) -> Q:
    """Rows stored after the member's previous look at this scope (none before a second look)."""
    if client is None:
        return Q(stored_at__gt=_baseline(membership, client=None, role=""))
    roles = [role] if role else list(ROLE_SUBJECT_TYPES)
    conditions = [
        Q(subject_type__in=ROLE_SUBJECT_TYPES[each])
        & Q(stored_at__gt=_baseline(membership, client=client, role=each))
        for each in roles
    ]
    return reduce(operator.or_, conditions)


def _baseline(membership: Membership, *, client: Client | None, role: str) -> Coalesce:
    visits = InvoiceListVisit.objects.filter(membership=membership, role=role)
    visits = visits.filter(client=client) if client else visits.filter(client__isnull=True)
    return Coalesce(Subquery(visits.values("baseline")[:1]), Value(_AFTER_EVERYTHING))
