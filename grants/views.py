"""The grant screen of a client, grant progress, revocation, checks and staff departure.

Who may do what (office/assignment scope in the selectors: another office's client or an
unassigned accountant's → 404; wrong role → 403):
- every member who sees the client: view, request grants, retry, "Sprawdź teraz";
- managers and admins: revoke a grant (it cuts someone's access to the client's invoices);
- admins: revoke everything of a person who leaves (part of staff management).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from certificates.connection import client_credential_for, office_credential_for
from clients.handover import clients_left_by
from clients.models import AccessModel, Client
from clients.selectors import client_get
from grants import departure as departures
from grants import services as grants
from grants import verification
from grants.forms import DirectGrantForm, IndirectGrantForm
from grants.models import PermissionGrant
from grants.selectors import (
    check_get,
    departure_job_get,
    grant_get,
    grants_of_client,
    last_check,
    staff_who_can_receive,
)
from portal.access import ADMINS, ALL_ROLES, MANAGERS, membership_of, role_required, scoped_get
from portal.http import HtmxHttpRequest, redirect_after_post
from portal.models import Membership

PAGE = "grants/client.html"


def _page_context(request: HtmxHttpRequest, client: Client, **extra: Any) -> dict[str, Any]:
    membership = membership_of(request)
    staff = staff_who_can_receive(membership)
    # The client's own accountants are who usually need the rights: offered ticked.
    initial = {"staff": list(staff.filter(assigned_clients=client).values_list("pk", flat=True))}
    return {
        "client": client,
        "grants": grants_of_client(client.pk),
        "prerequisite_met": grants.prerequisite_met(client),
        "client_credential": client_credential_for(client),
        "office_credential": office_credential_for(client.office),
        "entity_grant": grants.office_entity_grant(client),
        "office_model": client.access_model == AccessModel.OFFICE,
        "direct_form": extra.pop("direct_form", None)
        or DirectGrantForm(staff=staff, initial=initial),
        "indirect_form": extra.pop("indirect_form", None)
        or IndirectGrantForm(staff=staff, initial=initial),
        "check": last_check(client.pk),
        "can_revoke": membership.role in MANAGERS,
        **extra,
    }


def _panel(request: HtmxHttpRequest, client: Client, **extra: Any) -> HttpResponse:
    template = f"{PAGE}#grants-panel" if request.htmx else PAGE
    return render(request, template, _page_context(request, client, **extra))


@require_GET
@role_required(*ALL_ROLES)
def client_grants(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _panel(request, client_get(membership_of(request), pk))


def _after_request(
    request: HtmxHttpRequest, client: Client, created: list[PermissionGrant], **extra: Any
) -> HttpResponse:
    notice = (
        ngettext(
            "Zlecono w KSeF %(count)d uprawnienie. Postęp widać poniżej.",
            "Zlecono w KSeF %(count)d uprawnień. Postęp widać poniżej.",
            len(created),
        )
        % {"count": len(created)}
        if created
        else _("Te uprawnienia są już nadane albo w toku — nic nowego nie zlecono.")
    )
    if request.htmx:
        return _panel(request, client, notice=notice, **extra)
    messages.success(request, notice)
    return redirect("grants:client", pk=client.pk)


@require_POST
@role_required(*ALL_ROLES)
def grant_direct(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = membership_of(request)
    client = client_get(membership, pk)
    form = DirectGrantForm(request.POST, staff=staff_who_can_receive(membership))
    if not form.is_valid():
        return _panel(request, client, direct_form=form)
    try:
        created = grants.grant_request(
            actor=request.user,  # type: ignore[arg-type]
            client=client,
            staff=form.chosen_staff(),
            include_office=form.cleaned_data["include_office"],
            permissions=form.cleaned_data["permissions"],
        )
    except grants.GrantError as exc:
        return _panel(request, client, direct_form=form, error=exc.message)
    return _after_request(request, client, created)


@require_POST
@role_required(*ALL_ROLES)
def grant_indirect(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = membership_of(request)
    client = client_get(membership, pk)
    form = IndirectGrantForm(request.POST, staff=staff_who_can_receive(membership))
    if not form.is_valid():
        return _panel(request, client, indirect_form=form)
    try:
        created = grants.grant_request_indirect(
            actor=request.user,  # type: ignore[arg-type]
            client=client,
            staff=form.chosen_staff(),
            permissions=form.cleaned_data["permissions"],
        )
    except grants.GrantError as exc:
        return _panel(request, client, indirect_form=form, error=exc.message)
    return _after_request(request, client, created)


def _stop_when(request: HtmxHttpRequest, response: HttpResponse, finished: bool) -> HttpResponse:
    # 286 tells htmx to stop polling; the final state is still swapped in.
    return HttpResponseStopPolling(response.content) if finished else response


@require_GET
@role_required(*ALL_ROLES)
def grant_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    grant = grant_get(membership_of(request), pk)
    if not request.htmx:
        return redirect("grants:client", pk=grant.client_id)
    context = {"grant": grant, "can_revoke": membership_of(request).role in MANAGERS}
    response = render(request, f"{PAGE}#grant-row", context)
    in_progress = grant.state in (PermissionGrant.State.REQUESTED, PermissionGrant.State.REVOKING)
    return _stop_when(request, response, not in_progress)


def _grant_action_response(
    request: HtmxHttpRequest, grant: PermissionGrant, notice: str
) -> HttpResponse:
    grant.refresh_from_db()
    if request.htmx:
        context = {"grant": grant, "can_revoke": membership_of(request).role in MANAGERS}
        return render(request, f"{PAGE}#grant-row", context)
    messages.success(request, notice)
    return redirect("grants:client", pk=grant.client_id)


@require_POST
@role_required(*ALL_ROLES)
def grant_revoke(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    grant = grant_get(membership_of(request), pk, roles=MANAGERS)
    try:
        grants.grant_revoke(actor=request.user, grant=grant)  # type: ignore[arg-type]
    except grants.GrantError as exc:
        return _grant_action_response(request, grant, exc.message)
    return _grant_action_response(request, grant, _("Zlecono odebranie uprawnienia w KSeF."))


@require_POST
@role_required(*ALL_ROLES)
def grant_retry(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    grant = grant_get(membership_of(request), pk)
    try:
        grants.grant_retry(actor=request.user, grant=grant)  # type: ignore[arg-type]
    except grants.GrantError as exc:
        return _grant_action_response(request, grant, exc.message)
    return _grant_action_response(request, grant, _("Ponowiono nadanie uprawnienia."))


@require_POST
@role_required(*ALL_ROLES)
def check_start(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    client = client_get(membership_of(request), pk)
    check = verification.grants_verify_request(actor=request.user, client=client)  # type: ignore[arg-type]
    if request.htmx:
        return _panel(request, client)
    return redirect("grants:check", pk=check.pk)


@require_GET
@role_required(*ALL_ROLES)
def check_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    check = check_get(membership_of(request), pk)
    if not request.htmx:
        return render(request, "grants/check.html", {"check": check})
    # Finished: the fragment asks once for the whole panel, as the check changed the grants.
    context = {"check": check, "reload_panel": check.is_finished}
    response = render(request, "grants/check.html#check-status", context)
    return _stop_when(request, response, check.is_finished)


@require_http_methods(["GET", "POST"])
@role_required(*ADMINS)
def departure(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = membership_of(request)
    member = scoped_get(membership, Membership.objects.select_related("user"), pk=pk)
    if request.method == "POST":
        job = departures.staff_departure_revoke(actor=request.user, membership=member)  # type: ignore[arg-type]
        return redirect_after_post(request, reverse("grants:departure_job", args=[job.pk]))
    context = {
        "member": member,
        "grants": list(departures.grants_naming(member)),
        "clients_left": clients_left_by(member).count(),
    }
    return render(request, "grants/departure.html", context)


@require_GET
@role_required(*ADMINS)
def departure_job(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    job = departure_job_get(membership_of(request), pk)
    if not request.htmx:
        return render(request, "grants/departure_job.html", {"job": job})
    response = render(request, "grants/departure_job.html#job-status", {"job": job})
    return _stop_when(request, response, job.is_finished)
