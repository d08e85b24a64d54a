"""Views of the client register, the ZAW-FA wizard and the CSV import.

Who may do what (the role check is in each view, the office/assignment scope in the
selectors: another office's client or an unassigned accountant's → 404, wrong role → 403):

- every member: the client list and client page (accountants: only assigned clients) and
  the ZAW-FA wizard — guiding a client through onboarding is the accountant's daily work;
- an assigned accountant may edit the client's contact e-mails only;
- managers and admins register, fully edit (NIP, legal form, seal, assignees, archive
  flag), archive and import clients: those change who sees the client and what it must do.

Every view serves the full page, and the fragment named by `request.htmx` when asked by
htmx; every form also works as a plain POST without JavaScript.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event
from django_htmx.middleware import HtmxDetails

from clients import csv_import, services
from clients.forms import (
    ClientContactForm,
    ClientForm,
    ConfirmationForm,
    FilingForm,
    HandoverForm,
    ImportUploadForm,
    PersonForm,
    SealForm,
)
from clients.handover import (
    FOLLOWUP_NAME,
    active_accountants,
    clients_hand_over,
    clients_left_by,
)
from clients.models import Client, LegalForm, OnboardingStage, Prerequisite
from clients.prerequisite import (
    prerequisite_decide,
    prerequisite_state_text,
    seal_question_needed,
)
from clients.selectors import (
    SORTS,
    client_detail_get,
    client_get,
    client_list,
    credential_health,
    grants_health,
    onboarding_checklist,
    prerequisite_health,
    sync_health,
)
from portal.access import ADMINS, MANAGERS, membership_of, role_required, scoped_get
from portal.departure import departure_followup_url
from portal.models import Membership
from portal.text import format_sentence

PAGE_SIZE = 25
IMPORT_SESSION_KEY = "clients_import_preview"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _wants_fragment(request: HtmxHttpRequest) -> bool:
    """htmx asked for a part of the page (a boosted link wants the whole page)."""
    return bool(request.htmx) and not request.htmx.boosted


def _template(request: HtmxHttpRequest, template: str, partial: str) -> str:
    return f"{template}#{partial}" if _wants_fragment(request) else template


def _health_of(client: Client) -> dict[str, Any]:
    return {
        "prerequisite": prerequisite_health(client),
        "credential": credential_health(client),
        "grants": grants_health(client),
        "sync": sync_health(client),
    }


# --- List and page --------------------------------------------------------------------------


@require_GET
@role_required()
def client_list_view(request: HtmxHttpRequest) -> HttpResponse:
    membership = membership_of(request)
    filters = _filters(request, membership)
    clients = client_list(membership, **filters)
    page = Paginator(clients, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        (client, OnboardingStage(client.onboarding_stage), _health_of(client))  # type: ignore[attr-defined]
        for client in page.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    sort_urls = {}
    for column in SORTS:
        query["sort"] = f"-{column}" if filters["sort"] == column else column
        sort_urls[column] = "?" + query.urlencode()
    query["sort"] = filters["sort"]
    context = {
        "page": page,
        "rows": rows,
        "filters": filters,
        "legal_forms": LegalForm.choices,
        "stages": OnboardingStage.choices,
        "accountants": _accountants(membership),
        "query": query.urlencode(),
        "sort": filters["sort"],
        "sort_urls": sort_urls,
    }
    return render(request, _template(request, "clients/list.html", "results"), context)


def _accountants(membership: Membership) -> list[Membership]:
    if not membership.sees_all_clients:
        return []  # an accountant's list is already only their own clients
    return list(active_accountants(membership.office_id))  # a departed person never


def _filters(request: HttpRequest, membership: Membership) -> dict[str, Any]:
    """The list's query string, with unknown values ignored rather than failing."""
    get = request.GET
    accountant = None
    if membership.sees_all_clients and get.get("accountant", "").isdigit():
        accountant = Membership.objects.filter(
            office=membership.office, pk=int(get["accountant"])
        ).first()
    return {
        "search": get.get("q", "").strip()[:100],
        "legal_form": get.get("legal_form", "")
        if get.get("legal_form") in LegalForm.values
        else "",
        "stage": get.get("stage", "") if get.get("stage") in OnboardingStage.values else "",
        "accountant": accountant,
        "archived": get.get("archived", "active")
        if get.get("archived") in ("active", "archived", "all")
        else "active",
        "sort": get.get("sort", "name")[:20],
    }


@require_GET
@role_required()
def client_detail_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = membership_of(request)
    client = client_detail_get(membership, pk)
    context = {
        "client": client,
        "health": _health_of(client),
        "checklist": onboarding_checklist(client),
        "can_manage": membership.sees_all_clients,
        **_wizard_context(client),
    }
    return render(request, _template(request, "clients/detail.html", "checklist"), context)


# --- Create and edit --------------------------------------------------------------------------


def _live_validation(request: HtmxHttpRequest, form: Form, template: str) -> HttpResponse | None:
    """Answer an htmx field check (the user left a field): that field's row, re-rendered."""
    field_name = request.POST.get("_validate", "")
    if not (request.htmx and field_name in getattr(form, "live_fields", ())):
        return None
    form.is_valid()
    return render(request, f"{template}#field", {"field": form[field_name], "form": form})


@require_http_methods(["GET", "POST"])
@role_required(*MANAGERS)
def client_create_view(request: HtmxHttpRequest) -> HttpResponse:
    membership = membership_of(request)
    form = ClientForm(request.POST or None, office=membership.office)
    if request.method == "POST":
        if (live := _live_validation(request, form, "clients/form.html")) is not None:
            return live
        if form.is_valid():
            try:
                client = services.client_create(
                    office=membership.office, actor=request.user, **form.cleaned_data
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(
                    request, format_sentence(_("Dodano klienta %(name)s."), {"name": client.name})
                )
                return _redirect(request, reverse("clients:detail", args=[client.pk]))
    context = {"form": form, "client": None}
    return render(request, _template(request, "clients/form.html", "form"), context)


@require_http_methods(["GET", "POST"])
@role_required()
def client_edit_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = membership_of(request)
    client = client_get(membership, pk)
    form_class = ClientForm if membership.sees_all_clients else ClientContactForm
    form = form_class(request.POST or None, office=membership.office, instance=client)
    if request.method == "POST":
        if (live := _live_validation(request, form, "clients/form.html")) is not None:
            return live
        if form.is_valid():
            try:
                services.client_update(client=client, actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("Zapisano zmiany."))
                return _redirect(request, reverse("clients:detail", args=[client.pk]))
    context = {"form": form, "client": client}
    return render(request, _template(request, "clients/form.html", "form"), context)


def _redirect(request: HtmxHttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_POST
@role_required()
def client_archive_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    client = client_get(membership_of(request), pk, roles=MANAGERS)
    services.client_archive(client=client, actor=request.user)
    messages.success(request, _("Klient %(name)s trafił do archiwum.") % {"name": client.name})
    return _redirect(request, reverse("clients:detail", args=[client.pk]))


# --- ZAW-FA wizard ----------------------------------------------------------------------------


def _wizard_context(client: Client, step: str = "", **bound: Form) -> dict[str, Any]:
    prerequisite: Prerequisite | None = getattr(client, "prerequisite", None)
    state = prerequisite.state if prerequisite else None
    person_known = bool(prerequisite and prerequisite.person_identifier)
    if not step:
        step = {
            Prerequisite.State.TO_FILE: "filing" if person_known else "person",
            Prerequisite.State.FILED: "confirm",
        }.get(state or "", "")  # type: ignore[call-overload]
    sole_proprietor = not seal_question_needed(client.legal_form)
    if step == "seal" and sole_proprietor:
        step = ""
    requested = step
    if step == "filing" and state not in (Prerequisite.State.TO_FILE, Prerequisite.State.FILED):
        step = ""
    # The person step: ZAW-FA's named person while filing, or a sole proprietor's owner.
    if step == "person" and not (
        state in (Prerequisite.State.TO_FILE, Prerequisite.State.FILED)
        or (sole_proprietor and state == Prerequisite.State.NOT_REQUIRED)
    ):
        step = ""
    # A step that no longer fits the state (someone else moved it on meanwhile) is not shown
    # again; the service's refusal is, above the wizard.
    dropped = bound.get(f"{requested}_form") if requested and requested != step else None
    wizard_errors = list(dropped.non_field_errors()) if dropped is not None else []
    initial_person = (
        {
            "first_name": prerequisite.person_first_name,
            "last_name": prerequisite.person_last_name,
            "identifier_type": prerequisite.person_identifier_type or "pesel",
            "identifier": prerequisite.person_identifier,
        }
        if prerequisite
        else {}
    )
    filing_initial = (
        {"filed_on": prerequisite.filed_on, "tax_office": prerequisite.tax_office}
        if prerequisite
        else {}
    )
    decision = prerequisite_decide(
        legal_form=client.legal_form, has_qualified_seal=client.has_qualified_seal
    )
    return {
        "client": client,
        "prerequisite": prerequisite,
        "decision": decision,
        "state_text": prerequisite_state_text(decision, state),
        "asks_seal": not sole_proprietor,
        "sole_proprietor": sole_proprietor,
        "step": step,
        "wizard_errors": wizard_errors,
        "seal_form": bound.get("seal_form")
        or SealForm(initial={"has_qualified_seal": "tak" if client.has_qualified_seal else "nie"}),
        "person_form": bound.get("person_form") or PersonForm(initial=initial_person),
        "filing_form": bound.get("filing_form") or FilingForm(initial=filing_initial),
        "confirm_form": bound.get("confirm_form") or ConfirmationForm(),
    }


def _wizard_client(request: HttpRequest, pk: int) -> Client:
    return client_detail_get(membership_of(request), pk)


def _wizard_response(request: HtmxHttpRequest, client: Client, **extra: Any) -> HttpResponse:
    context = _wizard_context(client, **extra)
    return render(request, _template(request, "clients/prerequisite.html", "wizard"), context)


@require_GET
@role_required()
def prerequisite_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    client = _wizard_client(request, pk)
    step = request.GET.get("step", "")
    return _wizard_response(request, client, step=step if step in ("seal", "person") else "")


def _wizard_done(request: HtmxHttpRequest, client: Client, message: str) -> HttpResponse:
    """After a step: the next step in place (htmx; the checklist refreshes itself on the
    event), or back to the wizard page (no JavaScript)."""
    if request.htmx:
        fresh = client_detail_get(membership_of(request), client.pk)
        return trigger_client_event(_wizard_response(request, fresh), "prerequisite-changed")
    messages.success(request, message)
    return redirect("clients:prerequisite", pk=client.pk)


@require_POST
@role_required()
def prerequisite_seal_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    client = _wizard_client(request, pk)
    form = SealForm(request.POST)
    if not form.is_valid() or not seal_question_needed(client.legal_form):
        return _wizard_response(request, client, step="seal", seal_form=form)
    services.prerequisite_answer_seal(
        client=client,
        actor=request.user,
        has_qualified_seal=form.cleaned_data["has_qualified_seal"],
    )
    return _wizard_done(request, client, _("Zapisano odpowiedź o pieczęci."))


@require_POST
@role_required()
def prerequisite_person_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    client = _wizard_client(request, pk)
    form = PersonForm(request.POST)
    if form.is_valid():
        try:
            services.prerequisite_person_set(client=client, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            saved = (
                _("Zapisano dane właściciela firmy.")
                if client.legal_form == LegalForm.SOLE_PROPRIETORSHIP
                else _("Zapisano osobę wskazaną w ZAW-FA.")
            )
            return _wizard_done(request, client, saved)
    return _wizard_response(request, client, step="person", person_form=form)


@require_POST
@role_required()
def prerequisite_filing_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    client = _wizard_client(request, pk)
    form = FilingForm(request.POST)
    if form.is_valid():
        try:
            services.prerequisite_file(client=client, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _wizard_done(request, client, _("Zapisano złożenie ZAW-FA."))
    return _wizard_response(request, client, step="filing", filing_form=form)


@require_POST
@role_required()
def prerequisite_confirm_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    client = _wizard_client(request, pk)
    prerequisite = getattr(client, "prerequisite", None)
    form = ConfirmationForm(request.POST, filed_on=prerequisite.filed_on if prerequisite else None)
    if form.is_valid():
        try:
            services.prerequisite_confirm(client=client, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _wizard_done(
                request, client, _("ZAW-FA potwierdzony — można dodać poświadczenia.")
            )
    return _wizard_response(request, client, step="confirm", confirm_form=form)


# --- CSV import -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@role_required(*MANAGERS)
def client_import_view(request: HtmxHttpRequest) -> HttpResponse:
    """Upload → preview. The valid rows wait in the session under a one-time token."""
    membership = membership_of(request)
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    context: dict[str, Any] = {"form": form, "preview": None, "max_rows": csv_import.MAX_ROWS}
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            csv_import.check_size(upload.size or 0)  # before reading it into memory
            preview = csv_import.parse(upload.read(), office=membership.office)
        except csv_import.ImportFileError as error:
            form.add_error("file", str(error))
        else:
            token = uuid.uuid4().hex
            request.session[IMPORT_SESSION_KEY] = {
                "token": token,
                "office": membership.office.pk,
                "source": upload.name,
                "rows": [row.as_dict() for row in preview.valid_rows],
            }
            context.update(preview=preview, token=token)
    return render(request, _template(request, "clients/import.html", "upload"), context)


@require_POST
@role_required(*MANAGERS)
def client_import_confirm_view(request: HtmxHttpRequest) -> HttpResponse:
    membership = membership_of(request)
    stored = request.session.get(IMPORT_SESSION_KEY) or {}
    if (
        not stored
        or stored.get("token") != request.POST.get("token")
        or stored.get("office") != membership.office.pk
    ):
        messages.error(
            request, _("Podgląd importu wygasł lub został już użyty — wgraj plik ponownie.")
        )
        return _redirect(request, reverse("clients:import"))
    del request.session[IMPORT_SESSION_KEY]  # one use: a second POST imports nothing
    rows = [services.ClientRow.from_dict(row) for row in stored["rows"]]
    try:
        summary = services.client_import(
            office=membership.office, actor=request.user, rows=rows, source=stored["source"]
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _redirect(request, reverse("clients:import"))
    context = {"summary": summary, "source": stored["source"]}
    return render(request, _template(request, "clients/import_done.html", "summary"), context)


@require_GET
@role_required(*MANAGERS)
def client_import_example_view(request: HttpRequest) -> HttpResponse:
    # With a BOM, so that Excel opens the Polish characters correctly.
    response = HttpResponse(
        "\ufeff" + csv_import.EXAMPLE_CSV, content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="klienci-przyklad.csv"'
    return response


# --- A departing person's clients ---------------------------------------------------------


@require_http_methods(["GET", "POST"])
@role_required(*ADMINS)
def client_handover_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Hand the clients of a (departing) person over to colleagues, then the next step."""
    membership = membership_of(request)
    member = scoped_get(membership, Membership.objects.select_related("user", "office"), pk=pk)
    clients = list(clients_left_by(member))
    colleagues = list(active_accountants(membership.office_id))
    data = request.POST if request.method == "POST" else None
    form = HandoverForm(data, member=member, clients=clients, colleagues=colleagues)
    if form.is_bound and form.is_valid():
        try:
            moved = clients_hand_over(actor=request.user, member=member, targets=form.targets())  # type: ignore[arg-type]
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                ngettext("Przekazano %(n)d klienta.", "Przekazano %(n)d klientów.", len(moved))
                % {"n": len(moved)},
            )
            following = departure_followup_url(member, after=FOLLOWUP_NAME)
            return _redirect(request, following or reverse("staff:list"))
    context = {"member": member, "form": form, "colleagues": colleagues}
    return render(request, _template(request, "clients/handover.html", "handover-form"), context)
