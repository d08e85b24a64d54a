"""The dashboard: what a member sees first after logging in."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.selectors import dashboard_counts, expiring_credentials
from portal.access import ALL_ROLES, membership_of, role_required
from portal.http import HtmxHttpRequest
from portal.selectors import recent_audit_events


@require_GET
@role_required(*ALL_ROLES)
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    membership = membership_of(request)
    context = {
        "counts": dashboard_counts(membership),
        "expiring": expiring_credentials(membership),
        "recent_events": recent_audit_events(membership) if membership.sees_all_clients else [],
    }
    template = "dashboard/dashboard.html#counts" if request.htmx else "dashboard/dashboard.html"
    return render(request, template, context)
