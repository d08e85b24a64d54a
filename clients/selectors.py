"""Reads of clients, always through the member's scope.

The client list and the client page show each client's health: ZAW-FA prerequisite,
credential, permission grants and last sync, plus the onboarding stage derived from them.
All of it is computed in SQL (joins and correlated subqueries in `clients_with_health`),
so the list issues the same number of queries for 10 clients as for 10,000 and can filter
and sort by the stage.

Plugging in later steps:
- credentials: `credential_annotations` is the one place that says which stored credential
  counts (kind and expiry); the stage and the health row follow it;
- each checklist step links to the URL named in `ONBOARDING_STEP_URLS` as soon as that URL
  exists (it is reversed with the client's pk), and reads "not implemented yet" until then.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from clients.models import AccessModel, Client, OnboardingStage, Prerequisite
from portal.access import ALL_ROLES, require_role, scoped_get
from portal.models import Membership
from portal.validators import normalize_identifier

UNLOCKING_STATES = (Prerequisite.State.NOT_REQUIRED, Prerequisite.State.CONFIRMED)
STAGE_ORDER = list(OnboardingStage.values)

# The screens of later issues, reversed with args=[client.pk].
ONBOARDING_STEP_URLS = {
    OnboardingStage.PREREQUISITE: "clients:prerequisite",
    OnboardingStage.CREDENTIALS: "certificates:client",
    OnboardingStage.GRANTS: "grants:client",
    OnboardingStage.FIRST_SYNC: "invoices:client_sync",
}


def clients_visible_to(membership: Membership) -> QuerySet[Client]:
    """Managers and admins see every client of the office; accountants only their own."""
    clients = Client.objects.filter(office=membership.office)
    if not membership.sees_all_clients:
        clients = clients.filter(assigned_accountants=membership)
    return clients


def client_get(membership: Membership, pk: int, *, roles: Iterable[str] = ALL_ROLES) -> Client:
    """One visible client (404 otherwise), then the role check for the action (403)."""
    client = scoped_get(membership, clients_visible_to(membership), pk=pk)
    require_role(membership, roles)
    return client


def _related_model(relation: str) -> Any:
    """The model behind one of Client's reverse relations (`credentials`, `grants`).

    The health row shows data of apps above this one (certificates, grants); it reaches
    their models through the ORM relation they declared on Client instead of importing
    them, so the dependency keeps pointing one way.
    """
    return Client._meta.get_field(relation).related_model


def credential_annotations() -> dict[str, Combinable]:
    """The credential columns of the health row: kind ("" = none) and expiry.

    The credential that lets the portal into the client's context: the client's own active
    authentication certificate (or, while tokens work, a KSeF token); for a client on the
    office model, the office's own active credential.
    """
    Credential = _related_model("credentials")
    usable = [Credential.Kind.AUTHENTICATION, Credential.Kind.TOKEN]
    certificate_first = Case(
        When(kind=Credential.Kind.AUTHENTICATION, then=Value(0)), default=Value(1)
    )
    own = Credential.objects.filter(
        client=OuterRef("pk"), status=Credential.Status.ACTIVE, kind__in=usable
    ).order_by(certificate_first, "-valid_to")
    office = Credential.objects.filter(
        office=OuterRef("office"),
        client__isnull=True,
        status=Credential.Status.ACTIVE,
        kind__in=usable,
    ).order_by(certificate_first, "-valid_to")
    on_office_model = Q(access_model=AccessModel.OFFICE)

    def pick(column: str, output: Any) -> Combinable:
        return Coalesce(
            Subquery(own.values(column)[:1], output_field=output),
            Case(
                When(on_office_model, then=Subquery(office.values(column)[:1])),
                default=Value(None),
                output_field=output,
            ),
        )

    return {
        "credential_kind": Coalesce(pick("kind", CharField()), Value("")),
        "credential_expires_at": pick("valid_to", DateTimeField()),
        # The office's credential stands in only when the client has none of its own.
        "credential_of_office": Case(
            When(Exists(own), then=Value(False)),
            When(on_office_model & Exists(office), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        ),
    }


def _granted(**extra: Any) -> QuerySet[Any, Any]:
    PermissionGrant = _related_model("grants")
    return (
        PermissionGrant.objects.filter(
            client=OuterRef("pk"), state=PermissionGrant.State.GRANTED, **extra
        )
        .order_by()
        .values("client")
    )


def clients_with_health(clients: QuerySet[Client]) -> QuerySet[Client]:
    """Annotate the health row and the onboarding stage (see the module docstring)."""
    clients = clients.annotate(
        prerequisite_state=F("prerequisite__state"),
        **credential_annotations(),
        grants_granted=Coalesce(
            Subquery(_granted().annotate(n=Count("pk")).values("n"), output_field=IntegerField()),
            0,
        ),
        grants_last_verified_at=Subquery(
            _granted().annotate(last=Max("verified_at")).values("last"),
            output_field=DateTimeField(),
        ),
        grants_missing=Coalesce(
            Subquery(
                _granted(
                    verification__in=[
                        _related_model("grants").Verification.MISSING,
                        _related_model("grants").Verification.REVOKED_OUTSIDE,
                    ]
                )
                .annotate(n=Count("pk"))
                .values("n"),
                output_field=IntegerField(),
            ),
            0,
        ),
        sync_last_success_at=F("sync_state__last_success_at"),
        sync_last_error_code=F("sync_state__last_error_code"),
        sync_last_error_params=F("sync_state__last_error_params"),
        sync_last_error_at=F("sync_state__last_error_at"),
    )
    stage_rules = [
        (
            Q(prerequisite_state__isnull=True) | ~Q(prerequisite_state__in=UNLOCKING_STATES),
            OnboardingStage.PREREQUISITE,
        ),
        (Q(credential_kind=""), OnboardingStage.CREDENTIALS),
        (Q(grants_granted=0), OnboardingStage.GRANTS),
        (Q(sync_last_success_at__isnull=True), OnboardingStage.FIRST_SYNC),
    ]
    return clients.annotate(
        onboarding_stage=Case(
            *(When(rule, then=Value(stage.value)) for rule, stage in stage_rules),
            default=Value(OnboardingStage.DONE.value),
            output_field=CharField(),
        ),
        onboarding_rank=Case(
            *(When(rule, then=Value(STAGE_ORDER.index(s))) for rule, s in stage_rules),
            default=Value(STAGE_ORDER.index(OnboardingStage.DONE)),
            output_field=IntegerField(),
        ),
    )


SORTS: dict[str, tuple[Any, ...]] = {
    "name": ("name", "id"),
    "nip": ("nip",),
    "legal_form": ("legal_form", "name", "id"),
    "stage": ("onboarding_rank", "name", "id"),
    "sync": (F("sync_last_success_at").asc(nulls_first=True), "name", "id"),
    "created": ("created_at", "id"),
}


def _descending(term: Any) -> Any:
    if isinstance(term, str):
        return f"-{term}"
    return F(term.expression.name).desc(nulls_last=True)


def client_list(
    membership: Membership,
    *,
    search: str = "",
    legal_form: str = "",
    stage: str = "",
    accountant: Membership | None = None,
    archived: str = "active",
    sort: str = "name",
) -> QuerySet[Client]:
    """The client register as the member may see it, filtered, sorted and with health."""
    clients = clients_visible_to(membership)
    if search:
        digits = normalize_identifier(search)
        by_nip = Q(nip__contains=digits) if digits.isdigit() else Q(pk__in=[])
        clients = clients.filter(Q(name__icontains=search.strip()) | by_nip)
    if legal_form:
        clients = clients.filter(legal_form=legal_form)
    if accountant is not None:
        clients = clients.filter(assigned_accountants=accountant)
    if archived != "all":
        clients = clients.filter(is_archived=archived == "archived")
    clients = clients_with_health(clients)
    if stage:
        clients = clients.filter(**{"onboarding_stage": stage})  # an annotation, not a field
    key = sort.removeprefix("-")
    ordering = SORTS.get(key, SORTS["name"])
    if sort.startswith("-") and key in SORTS:
        ordering = (_descending(ordering[0]), *ordering[1:])
    return clients.order_by(*ordering).prefetch_related(
        Prefetch(
            "assigned_accountants",
            queryset=Membership.objects.select_related("user").order_by("user__last_name"),
        )
    )


def client_detail_get(membership: Membership, pk: int) -> Client:
    """One visible client with its health annotations and prerequisite (404 otherwise)."""
    clients = clients_with_health(clients_visible_to(membership)).select_related(
        "prerequisite", "office"
    )
    return scoped_get(membership, clients, pk=pk)


# --- Health row and onboarding checklist --------------------------------------------------


@dataclass(frozen=True)
class Health:
    """One cell of the health row: a short text and a tone (ok / warn / bad / none)."""

    text: str | Promise
    tone: str


def _when(value: datetime.datetime) -> str:
    return date_format(localtime(value), "SHORT_DATETIME_FORMAT")


def prerequisite_health(client: Client) -> Health:
    state = getattr(client, "prerequisite_state", None)
    if state is None:
        return Health(_("nie oceniono"), "bad")
    label = Prerequisite.State(state).label
    return Health(label, "ok" if state in UNLOCKING_STATES else "warn")


def credential_health(client: Client) -> Health:
    """The credential cell: its kind, whose it is, and its expiry in the dashboard's buckets."""
    Credential = _related_model("credentials")
    kind_code = getattr(client, "credential_kind", "")
    if not kind_code:
        return Health(_("brak"), "none")
    kind = str(Credential.Kind(kind_code).label)
    if getattr(client, "credential_of_office", False):
        whose = _("token biura") if kind_code == Credential.Kind.TOKEN else _("certyfikat biura")
        kind = f"{kind} — {whose}"
    status = Credential.expiry_status(kind_code, getattr(client, "credential_expires_at", None))
    if status is None:
        return Health(kind, "ok")
    valid_to = _("%(kind)s, ważny do %(date)s") % {
        "kind": kind,
        "date": date_format(localtime(status.expires_at), "SHORT_DATE_FORMAT"),
    }
    return Health(f"{valid_to} · {status.text}", status.tone)


def grants_health(client: Client) -> Health:
    granted = getattr(client, "grants_granted", 0)
    if not granted:
        return Health(_("brak"), "none")
    verified = getattr(client, "grants_last_verified_at", None)
    missing = getattr(client, "grants_missing", 0)
    checked = (
        _("sprawdzone %(when)s") % {"when": _when(verified)}
        if verified
        else _("nie sprawdzono w KSeF")
    )
    text = ngettext("%(count)d nadane, %(checked)s", "%(count)d nadanych, %(checked)s", granted) % {
        "count": granted,
        "checked": checked,
    }
    if missing:
        text += str(_("; brak w KSeF: %(missing)d") % {"missing": missing})
    return Health(text, "bad" if missing else "ok" if verified else "warn")


def sync_health(client: Client) -> Health:
    success = getattr(client, "sync_last_success_at", None)
    code = getattr(client, "sync_last_error_code", "") or ""
    error = (
        _related_model("sync_state").error_text(code, getattr(client, "sync_last_error_params", {}))
        if code
        else ""
    )
    if success is None and not error:
        return Health(_("jeszcze nie"), "none")
    parts = [_when(success)] if success else [str(_("jeszcze nie"))]
    if error:
        parts.append(str(_("błąd: %(error)s") % {"error": error}))
    return Health(" · ".join(parts), "bad" if error else "ok")


@dataclass(frozen=True)
class OnboardingStep:
    stage: OnboardingStage
    health: Health
    done: bool
    url: str | None  # None: the screen belongs to an issue not implemented yet
    locked_reason: str | Promise = ""

    @property
    def title(self) -> str:
        return str(self.stage.label)

    @property
    def available(self) -> bool:
        return self.url is not None


def step_url(stage: OnboardingStage, client: Client) -> str | None:
    try:
        return reverse(ONBOARDING_STEP_URLS[stage], args=[client.pk])
    except NoReverseMatch:
        return None


def onboarding_checklist(client: Client) -> list[OnboardingStep]:
    """The four steps of the client's onboarding, from an annotated client."""
    prerequisite_met = getattr(client, "prerequisite_state", None) in UNLOCKING_STATES
    has_credential = bool(getattr(client, "credential_kind", ""))
    rank = getattr(client, "onboarding_rank", 0)
    done = {stage: STAGE_ORDER.index(stage) < rank for stage in OnboardingStage}
    return [
        OnboardingStep(
            stage=OnboardingStage.PREREQUISITE,
            health=prerequisite_health(client),
            done=prerequisite_met,
            url=step_url(OnboardingStage.PREREQUISITE, client),
        ),
        OnboardingStep(
            stage=OnboardingStage.CREDENTIALS,
            health=credential_health(client),
            done=has_credential,
            url=step_url(OnboardingStage.CREDENTIALS, client),
            locked_reason=""
            if prerequisite_met
            else _("Najpierw spełnij wymóg ZAW-FA (niewymagany albo potwierdzony)."),
        ),
        OnboardingStep(
            stage=OnboardingStage.GRANTS,
            health=grants_health(client),
            done=done[OnboardingStage.GRANTS],
            url=step_url(OnboardingStage.GRANTS, client),
        ),
        OnboardingStep(
            stage=OnboardingStage.FIRST_SYNC,
            health=sync_health(client),
            done=done[OnboardingStage.FIRST_SYNC],
            url=step_url(OnboardingStage.FIRST_SYNC, client),
        ),
    ]
