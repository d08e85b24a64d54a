"""The offline invoices: the dashboard of those not yet in KSeF with their deadlines, and
one offline invoice's document and PDF (KOD I "OFFLINE", KOD II "CERTYFIKAT").

Every member sees the offline invoices of the clients they see (managers and admins: the
office; accountants: their assigned clients); another office's or an unassigned client's
invoice is 404. Read-only, so GET (and HEAD) only. HTMX asks the dashboard for its list
alone (`#offline-list`: the client filter and the pages swap it in place).
"""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from clients.models import Client
from clients.selectors import client_get, clients_visible_to
from invoices.documents.pdf import render_outgoing_pdf
from invoices.documents.render import document_for_outgoing
from invoices.models import OutgoingInvoice
from invoices.sending import selectors
from portal.access import ALL_ROLES, membership_of, role_required
from portal.http import HtmxHttpRequest
from portal.models import Membership

DASHBOARD = "invoices/sending/offline.html"
DOCUMENT = "invoices/sending/outgoing.html"
PAGE_SIZE = 25


class OfflineFilterForm(forms.Form):
    client = forms.ModelChoiceField(
        queryset=Client.objects.none(),
        required=False,
        label=_("Klient"),
        empty_label=_("Wszyscy klienci"),
        error_messages={
            "invalid_choice": _(
                "Nie ma takiego klienta wśród Twoich klientów — pokazano faktury wszystkich."
            )
        },
    )

    def __init__(self, membership: Membership, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["client"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = clients_visible_to(membership).order_by("name", "pk")


@require_safe
@role_required(*ALL_ROLES)
def offline_dashboard(request: HtmxHttpRequest) -> HttpResponse:
    membership = membership_of(request)
    form = OfflineFilterForm(membership, request.GET or None)
    client = form.cleaned_data["client"] if form.is_valid() else None
    invoices = selectors.offline_unsent_visible_to(membership, client=client)
    page = Paginator(invoices, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "client_filter": client,
        "outage": selectors.current_outage(),
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, f"{DASHBOARD}#offline-list", context)
    return render(request, DASHBOARD, context)


def _outgoing(request: HtmxHttpRequest, pk: int, invoice_pk: int) -> OutgoingInvoice:
    return selectors.outgoing_offline_get(client_get(membership_of(request), pk), invoice_pk)


@require_safe
@role_required(*ALL_ROLES)
def outgoing_view(request: HtmxHttpRequest, pk: int, invoice_pk: int) -> HttpResponse:
    """The invoice as issued offline; once KSeF has it, its stored invoice's page (with
    the KSeF number in place of "OFFLINE", and still KOD II)."""
    outgoing = _outgoing(request, pk, invoice_pk)
    if outgoing.invoice_id:
        return redirect("invoices:detail", pk=outgoing.invoice_id)
    context = {
        "client": outgoing.client,
        "outgoing": outgoing,
        "document": document_for_outgoing(outgoing),
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, f"{DOCUMENT}#document", context)
    return render(request, DOCUMENT, context)


@require_safe
@role_required(*ALL_ROLES)
def outgoing_pdf(request: HtmxHttpRequest, pk: int, invoice_pk: int) -> HttpResponse:
    outgoing = _outgoing(request, pk, invoice_pk)
    if outgoing.invoice_id:
        return redirect("invoices:pdf", pk=outgoing.invoice_id)
    content = render_outgoing_pdf(outgoing)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{_pdf_name(outgoing)}"'
    response["Content-Length"] = str(len(content))
    return response


def _pdf_name(outgoing: OutgoingInvoice) -> str:
    """The invoice number made safe for a file name ("FV/2026/12/7" -> "FV-2026-12-7")."""
    stem = "".join(c if c.isalnum() or c in "-_." else "-" for c in outgoing.invoice_number)
    return f"{stem.strip('-.') or f'faktura-{outgoing.pk}'}-OFFLINE.pdf"
