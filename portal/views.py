"""The base layer's own pages: staff management (admins) and the audit log."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal import services, throttling
from portal.access import ADMINS, MANAGERS, membership_of, role_required, scoped_get
from portal.departure import departure_followup_url
from portal.forms import AuditFilterForm, StaffCreateForm, StaffRoleForm
from portal.http import HtmxHttpRequest, redirect_after_post
from portal.models import Membership
from portal.selectors import (
    audit_actions_of_office,
    audit_events_of_office,
    staff_of_office,
)

AUDIT_PAGE_SIZE = 50


@require_GET
@role_required(*ADMINS)
def staff_list(request: HtmxHttpRequest) -> HttpResponse:
    membership = membership_of(request)
    staff = list(staff_of_office(membership))
    for member in staff:
        # What a departed person left behind (clients to hand over, grants to revoke).
        member.departure_url = None if member.is_active else departure_followup_url(member)  # type: ignore[attr-defined]
    context = {
        "staff": staff,
        "roles": Membership.Role.choices,
        "locked": throttling.locked_usernames(m.user.username for m in staff),
    }
    template = "portal/staff_list.html#staff-table" if request.htmx else "portal/staff_list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@role_required(*ADMINS)
def staff_create(request: HtmxHttpRequest) -> HttpResponse:
    membership = membership_of(request)
    form = StaffCreateForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        created = services.staff_create(
            office=membership.office, actor=membership, **form.cleaned_data
        )
        messages.success(
            request,
            _("Dodano: %(name)s. Zaproszenie z linkiem do ustawienia hasła wysłano na %(email)s.")
            % {"name": created.display_name, "email": created.user.email},
        )
        return redirect_after_post(request, reverse("staff:list"))
    template = "portal/staff_form.html#staff-form" if request.htmx else "portal/staff_form.html"
    return render(request, template, {"form": form})


@require_POST
@role_required(*ADMINS)
def staff_change_role(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = membership_of(request)
    member = scoped_get(membership, Membership.objects.select_related("user"), pk=pk)
    form = StaffRoleForm(request.POST)
    if not form.is_valid():
        return _staff_row_response(request, member, error=_("Wybierz jedną z dostępnych ról."))
    try:
        member = services.staff_change_role(
            membership=member, actor=membership, role=form.cleaned_data["role"]
        )
    except services.StaffRuleError as exc:
        return _staff_row_response(request, member, error=str(exc))
    notice = _("%(name)s ma teraz rolę: %(role)s.") % {
        "name": member.display_name,
        "role": member.get_role_display(),
    }
    return _staff_row_response(request, member, notice=notice)


@require_POST
@role_required(*ADMINS)
def staff_deactivate(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = membership_of(request)
    member = scoped_get(membership, Membership.objects.select_related("user"), pk=pk)
    try:
        member = services.staff_deactivate(membership=member, actor=membership)
    except services.StaffRuleError as exc:
        return _staff_row_response(request, member, error=str(exc))
    notice = _("Konto %(name)s jest nieaktywne — ta osoba nie zaloguje się do portalu.") % {
        "name": member.display_name
    }
    followup = departure_followup_url(member)  # e.g. revoking the person's KSeF grants
    if followup:
        messages.success(request, notice)
        return redirect_after_post(request, followup)
    return _staff_row_response(request, member, notice=notice)


@require_POST
@role_required(*ADMINS)
def staff_reactivate(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = membership_of(request)
    member = scoped_get(membership, Membership.objects.select_related("user"), pk=pk)
    member = services.staff_reactivate(membership=member, actor=membership)
    notice = _("Konto %(name)s jest znowu aktywne.") % {"name": member.display_name}
    return _staff_row_response(request, member, notice=notice)


@require_POST
@role_required(*ADMINS)
def staff_resend_invitation(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = membership_of(request)
    member = scoped_get(membership, Membership.objects.select_related("user"), pk=pk)
    try:
        services.staff_invitation_resend(membership=member, actor=membership)
    except services.StaffRuleError as exc:
        return _staff_row_response(request, member, error=str(exc))
    notice = _("Wysłano nowe zaproszenie na %(email)s.") % {"email": member.user.email}
    return _staff_row_response(request, member, notice=notice)


@require_POST
@role_required(*ADMINS)
def staff_login_unlock(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = membership_of(request)
    member = scoped_get(membership, Membership.objects.select_related("user"), pk=pk)
    services.staff_login_unlock(membership=member, actor=membership)
    notice = _("%(name)s może znowu się logować — blokadę po błędnych hasłach zdjęto.") % {
        "name": member.display_name
    }
    return _staff_row_response(request, member, notice=notice)


def _staff_row_response(
    request: HtmxHttpRequest, member: Membership, *, notice: str = "", error: str = ""
) -> HttpResponse:
    """HTMX: the changed row, with its message. Plain form: back to the list with a message."""
    if request.htmx:
        context = {
            "member": member,
            "roles": Membership.Role.choices,
            "row_notice": notice,
            "row_error": error,
            "locked": throttling.locked_usernames([member.user.username]),
        }
        return render(request, "portal/staff_list.html#staff-row", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return redirect_after_post(request, reverse("staff:list"))


@require_GET
@role_required(*MANAGERS)
def audit_log(request: HtmxHttpRequest) -> HttpResponse:
    membership = membership_of(request)
    form = AuditFilterForm(
        request.GET or None, membership=membership, actions=audit_actions_of_office(membership)
    )
    filters = {}
    if form.is_bound:
        form.is_valid()
        # Apply every filter that is valid even when another one is not (e.g. a bad date).
        filters = form.cleaned_data
    events = audit_events_of_office(
        membership,
        action=filters.get("action") or "",
        actor=filters.get("actor"),
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
        text=(filters.get("q") or "").strip(),
        client_id=int(filters["client"]) if filters.get("client") else None,
    )
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    template = "portal/audit_log.html#results" if request.htmx else "portal/audit_log.html"
    return render(request, template, {"form": form, "page": page})
