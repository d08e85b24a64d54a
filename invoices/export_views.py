"""Bulk downloads of an invoice list: start (from the list's toolbar), follow, download.

`export_start` is posted to with the list's query string (the filters) and, for a client's
list, the client's pk in the form. A small list comes back as the file at once (limits in
`invoices.exports.services`); a larger one becomes a job and the member is taken to its
status page, whose panel polls (same URL, `request.htmx`) and stops when the job ends,
showing the download link. Posted with htmx, the start always creates a job and answers
with that panel, since a download cannot be swapped into a page.

Who may do what: every member may export the lists they see — the selection is made in
their own scope, so an accountant's export never holds an unassigned client's invoice. A
job and its file belong to the member who asked, and to no one else (not even a manager:
a manager who wants the same file makes it, within their own scope, with the same
filters): anyone else gets 404. A job of one client's list also turns 404 once its member
no longer sees that client.
"""

from __future__ import annotations

from typing import cast

from django import forms
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from clients.models import Client
from clients.selectors import client_get, clients_visible_to
from invoices.exports import services
from invoices.exports.messages import error_message
from invoices.models import ExportJob
from portal.access import ALL_ROLES, membership_of, role_required
from portal.audit import audit_record
from portal.http import HtmxHttpRequest
from portal.models import Membership

STATUS_PAGE = "invoices/exports/status.html"


class ExportForm(forms.Form):
    kind = forms.ChoiceField(
        choices=ExportJob.Kind.choices,
        error_messages={
            "required": _("Wybierz rodzaj pliku: ZIP, CSV lub XLSX."),
            "invalid_choice": _("Wybierz rodzaj pliku: ZIP, CSV lub XLSX."),
        },
    )
    client = forms.IntegerField(required=False, min_value=1)


def export_job_get(membership: Membership, pk: int) -> ExportJob:
    """The member's own job (404 for anyone else's, or once its client is out of sight)."""
    job = (
        ExportJob.objects.filter(office=membership.office, requested_by=membership, pk=pk)
        .select_related("client")
        .first()
    )
    if job is None:
        raise Http404
    if job.client_id is not None and not clients_visible_to(membership).filter(pk=job.client_id):
        raise Http404
    return job


def _list_url(client: Client | None, query: str) -> str:
    try:
        path = (
            reverse("invoices:client", kwargs={"pk": client.pk})
            if client
            else reverse("invoices:list")
        )
    except NoReverseMatch:
        path = reverse("dashboard")
    return f"{path}?{query}" if query else path


def _as_view_result(response: HttpResponseBase) -> HttpResponse:
    """A streamed file answer, typed as `role_required` types every view's answer."""
    return cast(HttpResponse, response)


def _file(download: services.Download) -> HttpResponse:
    if download.stream is not None:
        response = StreamingHttpResponse(download.stream, content_type=download.content_type)
        response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
        return _as_view_result(response)
    assert download.path is not None
    handle = download.path.open("rb")
    download.path.unlink()  # the open handle keeps the data until the response is sent
    return _as_view_result(
        FileResponse(
            handle,
            as_attachment=True,
            filename=download.filename,
            content_type=download.content_type,
        )
    )


def _panel(request: HtmxHttpRequest, job: ExportJob) -> HttpResponse:
    return render(request, f"{STATUS_PAGE}#export-status", {"job": job})


@require_POST
@role_required(*ALL_ROLES)
def export_start(request: HtmxHttpRequest) -> HttpResponse:
    membership = membership_of(request)
    form = ExportForm(request.POST)
    if not form.is_valid():
        message = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return render(request, "invoices/exports/refused.html", {"message": message}, status=400)
    pk = form.cleaned_data["client"]
    client = client_get(membership, pk) if pk else None
    kind, params = form.cleaned_data["kind"], services.list_params(request.GET)
    links = services.export_links(membership=membership, params=params, client=client)
    count = links.count()
    if not request.htmx and 0 < count <= services.DIRECT_LIMITS[ExportJob.Kind(kind)]:
        download = services.export_direct(
            membership=membership, kind=kind, links=links, client=client
        )
        return _file(download)
    try:
        job = services.export_start(
            membership=membership, kind=kind, params=params, client=client, count=count
        )
    except services.ExportRefused as refused:
        context = {
            "message": error_message(refused.code, refused.params),
            "back_url": _list_url(client, request.GET.urlencode()),
        }
        template = "invoices/exports/refused.html"
        return render(request, f"{template}#refusal" if request.htmx else template, context)
    if request.htmx:
        return _panel(request, job)
    return redirect("invoices:export_status", pk=job.pk)


@require_GET
@role_required(*ALL_ROLES)
def export_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    job = export_job_get(membership_of(request), pk)
    if not request.htmx or request.htmx.boosted:
        return render(request, STATUS_PAGE, {"job": job})
    response = _panel(request, job)
    if job.finished:
        # 286 tells htmx to stop polling; the final panel (link or reason) is swapped in.
        return HttpResponseStopPolling(response.content)
    return response


@require_GET
@role_required(*ALL_ROLES)
def export_download(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = membership_of(request)
    job = export_job_get(membership, pk)
    path = services.export_file(job)
    if path is None:
        raise Http404
    audit_record(
        office=membership.office,
        actor=request.user,
        action="invoices.export_downloaded",
        obj=job,
        details={"kind": job.kind, "size": job.file_size},
    )
    name = services.download_name(job.kind, client=job.client, when=job.created_at)
    return _as_view_result(
        FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=name,
            content_type=services.CONTENT_TYPES[ExportJob.Kind(job.kind)],
        )
    )


@require_GET
@role_required(*ALL_ROLES)
def export_list(request: HtmxHttpRequest) -> HttpResponse:
    """The member's recent exports (their own only), newest first."""
    membership = membership_of(request)
    jobs = ExportJob.objects.filter(office=membership.office, requested_by=membership)
    jobs = jobs.select_related("client").order_by("-created_at")[:50]
    return render(request, "invoices/exports/list.html", {"jobs": jobs})
