"""Reads for the expiry audit: which stored credentials expire when, and which clients lack one.

Everything here is office-scoped and computed in SQL with a fixed number of queries, so the
dashboard costs the same for 10 clients as for 5,000 (tests/certificates/test_expiry_queries).

Rules the dashboard, the CSV export, the reminders and the digest share:

- A credential counts while it is active; credentials of archived clients are left out (the
  office no longer looks after them). The office's own credentials (office model) are listed
  as "Biuro".
- Expiry is the certificate's `valid_to`. KSeF tokens have none, but stop working after
  31.12.2026 (Ministry of Finance: from 1 January 2027 only certificates authenticate), so
  that cut-off is their expiry.
- Days left are counted in calendar days in Europe/Warsaw: 0 is "expires today".
- Gaps: a client on the office model relies on the office's credential, so it is missing a
  type 1 / type 2 certificate only when the office itself has none; any other client
  (client-credential model, or model not chosen yet) needs its own.
"""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from certificates.models import Credential, SentReminder
from clients.models import AccessModel, Client, LegalForm
from portal.models import Membership, Office
from portal.validators import normalize_identifier

WARSAW = ZoneInfo("Europe/Warsaw")
# The last moment a KSeF token works: tokens are refused from 1 January 2027.
TOKEN_CUTOFF = datetime.datetime(2026, 12, 31, 23, 59, 59, tzinfo=WARSAW)
TIMELINE_WEEKS = 26  # six months ahead


BUCKETS: list[tuple[str, Any, int | None]] = [
    # (code, label, last day-count included; None = no upper bound)
    ("expired", _("Wygasłe"), -1),
    ("7", _("Do 7 dni"), 7),
    ("30", _("8–30 dni"), 30),
    ("60", _("31–60 dni"), 60),
    ("90", _("61–90 dni"), 90),
    ("later", _("Ponad 90 dni"), None),
]
BUCKET_LABELS = {code: label for code, label, _limit in BUCKETS}
BUCKET_TONES = {"expired": "bad", "7": "bad", "30": "warn", "60": "warn", "90": "ok", "later": "ok"}

GAPS: dict[str, Any] = {
    "auth": _("Brak certyfikatu uwierzytelniającego (typ 1)"),
    "offline": _("Brak certyfikatu offline (typ 2)"),
    "token": _("Nadal na tokenie KSeF"),
}

SORT_COLUMNS = {
    # column -> model path; the office's own credentials (no client) sort first
    "expires": "expires_at",
    "client": "client__name",
    "kind": "kind",
    "legal_form": "client__legal_form",
}


def _ordering(sort: str) -> tuple[Any, ...]:
    key = sort.removeprefix("-")
    column = F(SORT_COLUMNS.get(key, "expires_at"))
    first = (
        column.desc(nulls_last=True)
        if sort.startswith("-") and key in SORT_COLUMNS
        else column.asc(nulls_first=True)
    )
    return (first, "expires_at", "id")


@dataclass(frozen=True)
class ExpiryFilters:
    """What the manager asked for; every field optional. Built by the view from the URL."""

    search: str = ""
    bucket: str = ""
    kind: str = ""
    accountant: Membership | None = None
    legal_form: str = ""
    week: datetime.date | None = None  # a Monday: credentials expiring that week
    gap: str = ""
    sort: str = "expires"


# --- Expiry of one credential -----------------------------------------------------------------


def expires_at_expression() -> Case:
    """SQL for a credential's effective expiry: `valid_to`, or the token cut-off."""
    token_cut_off = Q(kind=Credential.Kind.TOKEN) & (
        Q(valid_to__isnull=True) | Q(valid_to__gt=TOKEN_CUTOFF)
    )
    return Case(
        When(token_cut_off, then=Value(TOKEN_CUTOFF)),
        default=F("valid_to"),
        output_field=DateTimeField(),
    )


def credential_expires_at(credential: Credential) -> datetime.datetime | None:
    """The same rule as `expires_at_expression`, for one credential in memory."""
    return effective_expiry(credential.kind, credential.valid_to)


def effective_expiry(kind: str, valid_to: datetime.datetime | None) -> datetime.datetime | None:
    """A credential's expiry from its kind and `valid_to`: a token's ends at the cut-off."""
    if kind == Credential.Kind.TOKEN and (valid_to is None or valid_to > TOKEN_CUTOFF):
        return TOKEN_CUTOFF
    return valid_to


def local_today(now: datetime.datetime | None = None) -> datetime.date:
    return (now or timezone.now()).astimezone(WARSAW).date()


def days_left(expires_at: datetime.datetime, now: datetime.datetime | None = None) -> int:
    """Calendar days from today to the expiry day, in Warsaw time (0: expires today)."""
    return (expires_at.astimezone(WARSAW).date() - local_today(now)).days


def _midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=WARSAW)


def bucket_expression(now: datetime.datetime) -> Case:
    """SQL for the bucket code; the limits are Warsaw midnights, so buckets follow days left."""
    today = local_today(now)
    whens = [When(expires_at__lt=now, then=Value("expired"))]
    for code, _label, limit in BUCKETS[1:-1]:
        assert limit is not None
        boundary = _midnight(today + datetime.timedelta(days=limit + 1))
        whens.append(When(expires_at__lt=boundary, then=Value(code)))
    return Case(
        *whens,
        When(expires_at__isnull=False, then=Value("later")),
        default=Value(""),
        output_field=CharField(),
    )


def bucket_of(expires_at: datetime.datetime, now: datetime.datetime) -> str:
    """The bucket code of one expiry in memory, by the limits `bucket_expression` uses."""
    if expires_at < now:
        return "expired"
    left = days_left(expires_at, now)
    for code, _label, limit in BUCKETS[1:-1]:
        assert limit is not None
        if left <= limit:
            return code
    return "later"


@dataclass(frozen=True)
class ExpiryStatus:
    """How close one credential is to its expiry, worded and coloured by the buckets.

    The client list, the client page and the dashboard show it next to the credential, so
    a certificate that expires in 5 days looks like the expiry dashboard says it is.
    """

    expires_at: datetime.datetime
    days_left: int
    bucket: str

    @property
    def tone(self) -> str:
        return BUCKET_TONES[self.bucket]

    @property
    def bucket_label(self) -> str:
        return str(BUCKET_LABELS[self.bucket])

    @property
    def text(self) -> str:
        """The days left in words: "za 5 dni", "wygasa dziś", "wygasł 3 dni temu"."""
        days = self.days_left
        if self.bucket == "expired":
            if days >= 0:
                return str(_("wygasł dziś"))
            return ngettext("wygasł %(count)d dzień temu", "wygasł %(count)d dni temu", -days) % {
                "count": -days
            }
        if days == 0:
            return str(_("wygasa dziś"))
        return ngettext("za %(count)d dzień", "za %(count)d dni", days) % {"count": days}


def expiry_status(
    kind: str, valid_to: datetime.datetime | None, *, now: datetime.datetime | None = None
) -> ExpiryStatus | None:
    """The expiry status of a credential of this kind and `valid_to` (None: no expiry)."""
    expires_at = effective_expiry(kind, valid_to)
    if expires_at is None:
        return None
    now = now or timezone.now()
    return ExpiryStatus(expires_at, days_left(expires_at, now), bucket_of(expires_at, now))


# --- The credential table ---------------------------------------------------------------------


def _accountants_prefetch() -> Prefetch[Any]:
    return Prefetch(
        "client__assigned_accountants",
        queryset=Membership.objects.select_related("user").order_by(
            "user__last_name", "user__first_name", "pk"
        ),
    )


def stored_credentials(office: Office, *, now: datetime.datetime) -> QuerySet[Credential]:
    """Every active credential of the office and of its current clients, with expiry."""
    return (
        Credential.objects.filter(office=office, status=Credential.Status.ACTIVE)
        .filter(Q(client__isnull=True) | Q(client__is_archived=False))
        .annotate(expires_at=expires_at_expression())
        .annotate(bucket=bucket_expression(now))
    )


def _apply_common(
    credentials: QuerySet[Credential], filters: ExpiryFilters
) -> QuerySet[Credential]:
    """Filters shared by the table, the bucket counts and the chart (not bucket, not week)."""
    if filters.search:
        text = filters.search.strip()
        digits = normalize_identifier(text)
        match = (
            Q(client__name__icontains=text)
            | Q(serial_number__icontains=text)
            | Q(owner_name__icontains=text)
            | Q(token_reference__icontains=text)
        )
        if digits.isdigit():
            match |= Q(client__nip__contains=digits) | Q(owner_identifier__contains=digits)
        credentials = credentials.filter(match)
    if filters.kind in Credential.Kind.values:
        credentials = credentials.filter(kind=filters.kind)
    if filters.accountant is not None:
        credentials = credentials.filter(client__assigned_accountants=filters.accountant)
    if filters.legal_form in LegalForm.values:
        credentials = credentials.filter(client__legal_form=filters.legal_form)
    return credentials


def expiring_credentials(
    office: Office, filters: ExpiryFilters, *, now: datetime.datetime
) -> QuerySet[Credential]:
    """The dashboard table and the CSV: filtered, sorted, with client and accountants."""
    credentials = _apply_common(stored_credentials(office, now=now), filters)
    if filters.bucket in BUCKET_LABELS:
        credentials = credentials.filter(**{"bucket": filters.bucket})  # an annotation
    if filters.week is not None:
        start = _midnight(filters.week)
        week_range = {
            "expires_at__gte": start,
            "expires_at__lt": start + datetime.timedelta(days=7),
        }
        credentials = credentials.filter(**week_range)
    return (
        credentials.select_related("client")
        .prefetch_related(_accountants_prefetch())
        .order_by(*_ordering(filters.sort))
    )


@dataclass(frozen=True)
class ExpiryRow:
    """One line of the table/CSV: the credential and what its expiry means today."""

    credential: Credential
    expires_at: datetime.datetime | None
    days_left: int | None
    bucket: str

    @property
    def bucket_label(self) -> str:
        return str(BUCKET_LABELS.get(self.bucket, ""))

    @property
    def tone(self) -> str:
        return BUCKET_TONES.get(self.bucket, "none")

    @property
    def holder(self) -> str:
        client = self.credential.client
        return client.name if client is not None else str(_("Biuro (model biura)"))

    @property
    def accountants(self) -> list[Membership]:
        client = self.credential.client
        return list(client.assigned_accountants.all()) if client is not None else []

    @property
    def label(self) -> str:
        credential = self.credential
        return credential.serial_number or credential.token_reference or f"#{credential.pk}"


def expiry_rows(credentials: Any, *, now: datetime.datetime) -> list[ExpiryRow]:
    rows = []
    for credential in credentials:
        expires_at = getattr(credential, "expires_at", None)
        rows.append(
            ExpiryRow(
                credential=credential,
                expires_at=expires_at,
                days_left=days_left(expires_at, now) if expires_at else None,
                bucket=getattr(credential, "bucket", ""),
            )
        )
    return rows


@dataclass(frozen=True)
class BucketCount:
    code: str
    label: str
    tone: str
    count: int


def bucket_counts(
    office: Office, filters: ExpiryFilters, *, now: datetime.datetime
) -> list[BucketCount]:
    """How many credentials fall in each bucket under the other filters (one query)."""
    credentials = _apply_common(stored_credentials(office, now=now), filters).order_by()
    totals = credentials.aggregate(
        **{f"b_{code}": Count("pk", filter=Q(bucket=code)) for code, _l, _n in BUCKETS}
    )
    return [
        BucketCount(code, str(label), BUCKET_TONES[code], totals[f"b_{code}"] or 0)
        for code, label, _limit in BUCKETS
    ]


# --- The timeline chart -----------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineWeek:
    start: datetime.date
    count: int

    @property
    def end(self) -> datetime.date:
        return self.start + datetime.timedelta(days=6)


def expiry_timeline(
    office: Office, filters: ExpiryFilters, *, now: datetime.datetime
) -> list[TimelineWeek]:
    """Expiries per week (Monday to Sunday, Warsaw) for the next six months (one query)."""
    today = local_today(now)
    first_monday = today - datetime.timedelta(days=today.weekday())
    start = _midnight(first_monday)
    end = start + datetime.timedelta(weeks=TIMELINE_WEEKS)
    expiries = (
        _apply_common(stored_credentials(office, now=now), filters)
        .filter(**{"expires_at__gte": start, "expires_at__lt": end})
        .order_by()
        .values_list(*["expires_at"], flat=True)  # an annotation: not known to the stubs
    )
    per_week = Counter(
        (moment.astimezone(WARSAW).date() - first_monday).days // 7 for moment in expiries
    )
    return [
        TimelineWeek(first_monday + datetime.timedelta(weeks=n), per_week.get(n, 0))
        for n in range(TIMELINE_WEEKS)
    ]


@dataclass(frozen=True)
class ChartBar:
    week: TimelineWeek
    x: float
    y: float
    height: float
    label_x: float
    month_label: str
    selected: bool


@dataclass(frozen=True)
class Chart:
    bars: list[ChartBar]
    width: int
    height: int
    plot_bottom: int
    max_count: int
    total: int = 0
    gridlines: list[tuple[float, int]] = field(default_factory=list)


# Django's translated abbreviations: "sty", "lut", … in Polish, "jan", "feb", … in English.
MONTHS_SHORT = [MONTHS_3[month] for month in range(1, 13)]


def timeline_chart(weeks: list[TimelineWeek], *, selected: datetime.date | None) -> Chart:
    """Geometry of the inline SVG bar chart (computed here so the template only draws)."""
    bar_width, gap, plot_height, top, left = 22, 6, 120, 16, 28
    plot_bottom = top + plot_height
    max_count = max((week.count for week in weeks), default=0)
    scale = plot_height / max_count if max_count else 0
    bars = []
    previous_month = None
    for index, week in enumerate(weeks):
        height = week.count * scale
        x = left + index * (bar_width + gap)
        month = week.start.month if week.start.day <= 7 or index == 0 else None
        label = MONTHS_SHORT[month - 1] if month and month != previous_month else ""
        previous_month = month or previous_month
        bars.append(
            ChartBar(
                week=week,
                x=x,
                y=plot_bottom - height,
                height=height,
                label_x=x + bar_width / 2,
                month_label=label,
                selected=week.start == selected,
            )
        )
    gridlines = []
    if max_count:
        for value in sorted({max_count, (max_count + 1) // 2}):
            gridlines.append((plot_bottom - value * scale, value))
    return Chart(
        bars=bars,
        width=left + len(weeks) * (bar_width + gap),
        height=plot_bottom + 22,
        plot_bottom=plot_bottom,
        max_count=max_count,
        total=sum(week.count for week in weeks),
        gridlines=gridlines,
    )


# --- Clients missing a credential -------------------------------------------------------------


def _active_of_client(kind: str) -> Exists:
    return Exists(
        Credential.objects.filter(client=OuterRef("pk"), kind=kind, status=Credential.Status.ACTIVE)
    )


@dataclass(frozen=True)
class OfficeCredentials:
    """Which kinds of the office's own credential are active (the office model relies on it)."""

    kinds: frozenset[str]

    @property
    def has_authentication(self) -> bool:
        return Credential.Kind.AUTHENTICATION in self.kinds

    @property
    def has_offline(self) -> bool:
        return Credential.Kind.OFFLINE in self.kinds

    @property
    def only_token(self) -> bool:
        return Credential.Kind.TOKEN in self.kinds and not self.has_authentication


def office_credential_kinds(office: Office) -> OfficeCredentials:
    kinds = Credential.objects.filter(
        office=office, client__isnull=True, status=Credential.Status.ACTIVE
    ).values_list("kind", flat=True)
    return OfficeCredentials(frozenset(kinds))


def gap_conditions(office_credentials: OfficeCredentials) -> dict[str, Q]:
    """For clients annotated by `_clients_with_flags`: the Q of each gap."""
    office_model = Q(access_model=AccessModel.OFFICE)
    missing_auth = Q(has_authentication=False)
    if office_credentials.has_authentication:
        missing_auth &= ~office_model
    missing_offline = Q(has_offline=False)
    if office_credentials.has_offline:
        missing_offline &= ~office_model
    on_token = Q(has_token=True, has_authentication=False) & ~office_model
    if office_credentials.only_token:
        on_token |= office_model & Q(has_authentication=False)
    return {"auth": missing_auth, "offline": missing_offline, "token": on_token}


def _clients_with_flags(office: Office, filters: ExpiryFilters) -> QuerySet[Client]:
    clients = Client.objects.filter(office=office, is_archived=False).annotate(
        has_authentication=_active_of_client(Credential.Kind.AUTHENTICATION),
        has_offline=_active_of_client(Credential.Kind.OFFLINE),
        has_token=_active_of_client(Credential.Kind.TOKEN),
    )
    if filters.search:
        text = filters.search.strip()
        digits = normalize_identifier(text)
        match = Q(name__icontains=text)
        if digits.isdigit():
            match |= Q(nip__contains=digits)
        clients = clients.filter(match)
    if filters.accountant is not None:
        clients = clients.filter(assigned_accountants=filters.accountant)
    if filters.legal_form in LegalForm.values:
        clients = clients.filter(legal_form=filters.legal_form)
    return clients


def gap_counts(
    office: Office, filters: ExpiryFilters, office_credentials: OfficeCredentials
) -> dict[str, int]:
    conditions = gap_conditions(office_credentials)
    totals = (
        _clients_with_flags(office, filters)
        .order_by()
        .aggregate(
            **{code: Count("pk", filter=condition) for code, condition in conditions.items()}
        )
    )
    return {code: totals[code] or 0 for code in GAPS}


def clients_with_gap(
    office: Office, filters: ExpiryFilters, office_credentials: OfficeCredentials
) -> QuerySet[Client]:
    """Clients with the gap named by `filters.gap` ("auth", "offline", "token")."""
    condition = gap_conditions(office_credentials)[filters.gap]
    ordering = ("-name", "-id") if filters.sort == "-client" else ("name", "id")
    return (
        _clients_with_flags(office, filters)
        .filter(condition)
        .prefetch_related(
            Prefetch(
                "assigned_accountants",
                queryset=Membership.objects.select_related("user").order_by(
                    "user__last_name", "user__first_name", "pk"
                ),
            )
        )
        .order_by(*ordering)
    )


def gap_note(client: Client, gap: str, office_credentials: OfficeCredentials) -> str:
    """Why the client is on the gap list, in a sentence a manager can act on."""
    on_office_model = client.access_model == AccessModel.OFFICE
    if gap == "token":
        if on_office_model:
            return str(_("Model biura: biuro loguje się tokenem, który działa do 31.12.2026."))
        return str(_("Token działa do 31.12.2026 — potrzebny certyfikat uwierzytelniający."))
    if on_office_model:
        return str(
            _("Model biura, a biuro nie ma aktywnego certyfikatu tego typu (Poświadczenia biura).")
        )
    if gap == "auth" and getattr(client, "has_token", False):
        return str(_("Ma tylko token KSeF (działa do 31.12.2026)."))
    if client.access_model == AccessModel.UNDECIDED:
        return str(_("Nie wybrano modelu dostępu."))
    if gap == "offline":
        return str(_("Potrzebny tylko do wystawiania faktur w trybie offline (KOD II)."))
    return str(_("Model poświadczeń klienta: brak aktywnego certyfikatu."))


# --- The reminder log of one client -----------------------------------------------------------


def reminders_for_client(client: Client) -> QuerySet[SentReminder]:
    """Every expiry reminder about the client's credentials, newest first (one query)."""
    return SentReminder.objects.filter(client=client).select_related("credential")
