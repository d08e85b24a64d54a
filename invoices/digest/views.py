"""The member's own notification setting: the daily e-mail of new purchase invoices.

Every member decides for themselves (it is their inbox); the e-mail covers the clients
they see, so there is nothing here another member could see or change.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from invoices.digest import services
from portal.access import ALL_ROLES, membership_of, role_required
from portal.http import HtmxHttpRequest, redirect_after_post

PAGE = "invoices/notifications.html"


class DigestForm(forms.Form):
    daily_purchases = forms.BooleanField(
        label=gettext_lazy("Codzienny e-mail o nowych fakturach zakupowych moich klientów"),
        help_text=gettext_lazy(
            "Około 7:00: ile faktur zakupowych KSeF przyjął poprzedniego dnia, osobno dla "
            "każdego klienta, z odnośnikiem do listy. Dzień bez nowych faktur — bez e-maila."
        ),
        required=False,
    )


@require_http_methods(["GET", "POST"])
@role_required(*ALL_ROLES)
def notifications(request: HtmxHttpRequest) -> HttpResponse:
    membership = membership_of(request)
    initial = {"daily_purchases": services.digest_enabled(membership)}
    form = DigestForm(request.POST if request.method == "POST" else None, initial=initial)
    if form.is_bound and form.is_valid():
        enabled = form.cleaned_data["daily_purchases"]
        services.digest_subscription_set(membership=membership, enabled=enabled)
        messages.success(
            request,
            _("Codzienny e-mail o nowych fakturach jest włączony.")
            if enabled
            else _("Codzienny e-mail o nowych fakturach jest wyłączony."),
        )
        return redirect_after_post(request, reverse("invoices:notifications"))
    context = {"form": form, "email": membership.user.email}
    return render(request, f"{PAGE}#form" if request.htmx else PAGE, context)
