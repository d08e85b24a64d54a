"""Screens of automatic renewal: the office's settings, a client's renewal page with its
choice, and "Odnów teraz".

Who may do what: every member who sees the client sees its renewal state; only managers
and admins change the office's settings, a client's choice, or run a renewal now (403 for
accountants); another office's client, or one not assigned to an accountant, is 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from certificates.models import Credential
from certificates.renewal import selectors, services
from certificates.renewal.forms import ClientRenewalChoiceForm, RenewalSettingsForm
from clients.models import Client
from clients.selectors import client_get
from portal.access import (
    ALL_ROLES,
    MANAGERS,
    membership_of,
    require_role,
    role_required,
    scoped_get,
)
from portal.http import HtmxHttpRequest, redirect_after_post


@require_http_methods(["GET", "POST"])
@role_required(*MANAGERS)
def office_settings(request: HtmxHttpRequest) -> HttpResponse:
    membership = membership_of(request)
    current = selectors.renewal_settings_of(membership.office)
    form = RenewalSettingsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        services.renewal_settings_update(
            actor=membership.user, office=membership.office, values=form.changed_values()
        )
        messages.success(request, _("Zapisano ustawienia odnawiania certyfikatów."))
        return redirect_after_post(request, reverse("renewal:office"))
    context = {
        "form": form,
        "summary": selectors.office_renewal_summary(membership.office),
    }
    template = "certificates/renewal/office.html"
    return render(request, f"{template}#form" if request.htmx else template, context)


def _client_context(client: Client, *, may_manage: bool) -> dict[str, object]:
    choice = selectors.client_choice_of(client)
    credentials = Credential.objects.filter(
        client=client,
        kind__in=selectors.RENEWABLE_KINDS,
        status__in=[Credential.Status.ACTIVE, Credential.Status.SCHEDULED],
    ).order_by("kind", "-valid_to")
    rows = [{"credential": c, "state": selectors.renewal_state(c)} for c in credentials]
    return {
        "client": client,
        "rows": rows,
        "choice": choice,
        "office_default": selectors.renewal_settings_of(client.office).enabled_by_default,
        "form": ClientRenewalChoiceForm(
            initial=ClientRenewalChoiceForm.initial_for(choice.enabled if choice else None)
        ),
        "may_manage": may_manage,
    }


@require_GET
@role_required(*ALL_ROLES)
def client_renewal(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = membership_of(request)
    client = client_get(membership, pk)
    context = _client_context(client, may_manage=membership.role in MANAGERS)
    template = "certificates/renewal/client.html"
    return render(request, f"{template}#state" if request.htmx else template, context)


@require_POST
@role_required(*ALL_ROLES)
def client_choice(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = membership_of(request)
    client = client_get(membership, pk, roles=MANAGERS)
    form = ClientRenewalChoiceForm(request.POST)
    if form.is_valid():
        services.client_renewal_choice_set(
            actor=membership.user, client=client, enabled=form.enabled()
        )
        messages.success(request, _("Zapisano wybór dotyczący automatycznego odnawiania."))
    else:
        messages.error(request, _("Wybierz jedną z trzech możliwości."))
    return redirect_after_post(request, reverse("renewal:client", args=[client.pk]))


@require_POST
@role_required(*ALL_ROLES)
def renewal_run_now(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = membership_of(request)
    credential = scoped_get(
        membership, Credential.objects.select_related("client", "office"), pk=pk
    )
    if credential.client is not None:
        client_get(membership, credential.client.pk, roles=MANAGERS)
        back = reverse("renewal:client", args=[credential.client.pk])
    else:
        require_role(membership, MANAGERS)
        back = reverse("renewal:office")
    if not credential.is_active or not selectors.is_renewable(credential):
        raise Http404
    services.renewal_request(actor=membership.user, credential=credential)
    messages.success(
        request,
        _("Zlecono odnowienie: %(kind)s. Stan odświeży się za chwilę.")
        % {"kind": credential.get_kind_display()},
    )
    return redirect_after_post(request, back)
