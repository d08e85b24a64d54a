"""The "Wyślij faktury" screens: the upload, the checks file by file before anything is
sent, the job's progress (polled while KSeF works) and each sent invoice's UPO.

Staff who may work on the client send for it: its assigned accountants, managers and
admins; another office's client or an unassigned accountant's → 404.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from clients.models import Client
from clients.selectors import client_get
from invoices.models import KsefOutage, OutgoingInvoice, SendJob
from invoices.sending import checks, offline, services
from invoices.sending.forms import SendUploadForm
from invoices.sending.messages import job_error_message, rejection_message
from portal.access import ALL_ROLES, membership_of, role_required, scoped_get
from portal.audit import audit_record
from portal.http import HtmxHttpRequest, redirect_after_post
from portal.messages import render as render_message

UPLOAD = "invoices/sending/upload.html"
JOB = "invoices/sending/job.html"


def _client(request: HtmxHttpRequest, pk: int) -> Client:
    return client_get(membership_of(request), pk, roles=ALL_ROLES)


def _job(request: HtmxHttpRequest, client: Client, job_pk: int) -> SendJob:
    jobs = SendJob.objects.filter(client=client)
    return scoped_get(membership_of(request), jobs, office_field="client__office", pk=job_pk)


@require_http_methods(["GET", "POST"])
@role_required(*ALL_ROLES)
def send_upload(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    client = _client(request, pk)
    blocked = services.send_blocked_reason(client, ask_ksef=True)
    form = SendUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and not blocked and form.is_valid():
        uploads = [
            checks.InvoiceFile(upload.name or "plik", upload.read())
            for upload in form.cleaned_data["invoice_files"]
        ]
        unpacked = checks.unpack(uploads)
        job = services.send_job_create(
            actor=request.user,
            client=client,
            checked=checks.check_files(client, unpacked.files),
            unpack_problems=unpacked.problems,
        )
        return redirect_after_post(request, reverse("invoices:send_job", args=[client.pk, job.pk]))
    context = {
        "client": client,
        "form": form,
        "blocked": job_error_message(blocked, {"nip": client.nip}) if blocked else "",
        "jobs": SendJob.objects.filter(client=client).order_by("-created_at")[:10],
    }
    return render(request, UPLOAD, context, status=200)


def _job_context(client: Client, job: SendJob) -> dict[str, Any]:
    invoices = list(job.invoices.order_by("position"))
    for invoice in invoices:
        invoice.explained = rejection_message(invoice.status_code, invoice.status_description)  # type: ignore[attr-defined]
    refusals = [
        {
            "name": refusal["name"],
            "problems": [render_message(p) for p in refusal["problems"]],
            "duplicate_of": refusal.get("duplicate_of"),
        }
        for refusal in job.refusals
    ]
    return {
        "client": client,
        "job": job,
        "invoices": invoices,
        "refusals": refusals,
        "sendable": sum(1 for i in invoices if i.state == OutgoingInvoice.State.DRAFT),
        "sent": sum(1 for i in invoices if i.state == OutgoingInvoice.State.SENT),
        # A failed job with drafts to queue again or invoices to settle in KSeF.
        "retryable": any(
            i.state in (OutgoingInvoice.State.DRAFT, OutgoingInvoice.State.SENDING)
            for i in invoices
        ),
        # Cancelling is offered where send_job_cancel allows it (it checks again).
        "cancellable": job.state in (SendJob.State.CHECKED, SendJob.State.FAILED)
        and not any(
            i.state in (OutgoingInvoice.State.QUEUED, OutgoingInvoice.State.SENDING)
            or (i.issued_offline_at and i.state != OutgoingInvoice.State.SENT)
            for i in invoices
        ),
        "error": job_error_message(job.error_code, job.error_params)
        if job.state == SendJob.State.FAILED
        else "",
        **(_mode_choice(client, invoices) if job.state == SendJob.State.CHECKED else {}),
    }


def _offline24_late(invoices: list[OutgoingInvoice]) -> list[datetime.date]:
    """The offline24 deadlines that have passed already for the drafts, by their issue date
    (P_1): issued offline now, those invoices would reach KSeF late."""
    today = offline.local_day(timezone.now())
    deadlines = (
        offline.deadline_for(OutgoingInvoice.Mode.OFFLINE24, invoice.issue_date, None)
        for invoice in invoices
        if invoice.state == OutgoingInvoice.State.DRAFT
        and invoice.issued_offline_at is None
        and invoice.issue_date is not None
    )
    return sorted(deadline for deadline in deadlines if deadline is not None and deadline < today)


def _mode_choice(client: Client, invoices: list[OutgoingInvoice]) -> dict[str, Any]:
    """The confirm form's modes: online, offline24 at any time, and the outage's own mode
    while one is in force; why offline issuance is impossible, before anything is sent;
    which drafts offline24 would already make late."""
    outage = offline.current_outage()
    modes = [
        (
            OutgoingInvoice.Mode.ONLINE,
            _("Online — wyślij teraz do KSeF"),
            _("Faktura jest wystawiona, gdy KSeF nada jej numer."),
        ),
        (
            OutgoingInvoice.Mode.OFFLINE24,
            _("Offline24 — wystaw teraz, wyślij do KSeF najpóźniej następnego dnia roboczego"),
            _(
                "Portal podpisze kod QR „CERTYFIKAT” (KOD II) certyfikatem offline; fakturę "
                "można od razu przekazać nabywcy."
            ),
        ),
    ]
    if outage is not None and outage.kind == KsefOutage.Kind.UNAVAILABLE:
        modes.append(
            (
                OutgoingInvoice.Mode.OFFLINE,
                _("Offline — trwa niedostępność KSeF"),
                _("Termin: następny dzień roboczy po zakończeniu niedostępności."),
            )
        )
    elif outage is not None:
        modes.append(
            (
                OutgoingInvoice.Mode.EMERGENCY,
                _("Tryb awaryjny — trwa ogłoszona awaria KSeF"),
                _("Termin: 7 dni roboczych po zakończeniu awarii."),
            )
        )
    refusal = offline.offline_refusal(client)
    late = _offline24_late(invoices) if refusal is None else []
    return {
        "modes": modes,
        "outage": outage,
        "offline_blocked": job_error_message(refusal.code, refusal.params) if refusal else "",
        "offline24_late": len(late),
        "offline24_late_first": late[0] if late else None,
    }


@require_GET
@role_required(*ALL_ROLES)
def send_job(request: HtmxHttpRequest, pk: int, job_pk: int) -> HttpResponse:
    client = _client(request, pk)
    job = _job(request, client, job_pk)
    context = _job_context(client, job)
    if request.htmx and not request.htmx.boosted:
        response = render(request, f"{JOB}#send-progress", context)
        if not job.busy:
            return HttpResponseStopPolling(response.content)
        return response
    return render(request, JOB, context)


@require_POST
@role_required(*ALL_ROLES)
def send_confirm(request: HtmxHttpRequest, pk: int, job_pk: int) -> HttpResponse:
    client = _client(request, pk)
    job = _job(request, client, job_pk)
    mode = request.POST.get("mode") or OutgoingInvoice.Mode.ONLINE
    if mode not in OutgoingInvoice.Mode.values:
        messages.error(request, job_error_message("offline_mode_unknown", {"mode": mode[:20]}))
    elif mode != OutgoingInvoice.Mode.ONLINE:
        try:
            job = services.send_job_start(actor=request.user, job=job, mode=mode)
        except offline.OfflineRefused as refused:
            messages.error(request, job_error_message(refused.code, refused.params))
        else:
            issued = job.invoices.exclude(issued_offline_at=None).count()
            messages.success(
                request,
                ngettext(
                    "Wystawiono %(n)s fakturę w trybie offline; portal wyśle ją do KSeF.",
                    "Wystawiono %(n)s faktur w trybie offline; portal wyśle je do KSeF.",
                    issued,
                )
                % {"n": issued},
            )
    elif not services.send_blocked_reason(client):
        services.send_job_start(actor=request.user, job=job)
    return redirect_after_post(request, reverse("invoices:send_job", args=[client.pk, job.pk]))


@require_GET
@role_required(*ALL_ROLES)
def outgoing_upo(request: HtmxHttpRequest, pk: int, invoice_pk: int) -> HttpResponse:
    client = _client(request, pk)
    # Online: the invoice's own UPO; batch: the session UPO page that lists it.
    sent = OutgoingInvoice.objects.filter(
        Q(upo_xml__isnull=False) | Q(upo_page__isnull=False),
        client=client,
        state=OutgoingInvoice.State.SENT,
    ).select_related("upo_page")
    invoice = scoped_get(membership_of(request), sent, office_field="client__office", pk=invoice_pk)
    audit_record(
        office=client.office,
        actor=request.user,
        action="invoices.upo_downloaded",
        obj=invoice,
        details={"ksef_number": invoice.ksef_number},
        client_id=client.pk,
    )
    page = invoice.upo_page
    content = invoice.upo_xml if invoice.upo_xml is not None or page is None else page.xml
    response = HttpResponse(bytes(content or b""), content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="UPO-{invoice.ksef_number}.xml"'
    return response


def _cancel_refusal(code: str) -> str:
    texts = {
        "state_queued": _("Tej wysyłki nie można anulować: jest w kolejce do KSeF."),
        "state_sending": _("Tej wysyłki nie można anulować: faktury są właśnie wysyłane do KSeF."),
        "state_done": _("Ta wysyłka jest już zakończona — nie ma czego anulować."),
        "state_cancelled": _("Ta wysyłka jest już anulowana."),
        "sending": _(
            "Tej wysyłki nie można anulować: część faktur mogła już dotrzeć do KSeF. "
            "Użyj „Spróbuj ponownie” — portal najpierw sprawdzi je w KSeF."
        ),
        "offline_issued": _(
            "Tej wysyłki nie można anulować: zawiera faktury wystawione w trybie offline, "
            "które muszą trafić do KSeF przed swoim terminem."
        ),
    }
    return texts.get(code, _("Tej wysyłki nie można anulować."))


@require_POST
@role_required(*ALL_ROLES)
def send_cancel(request: HtmxHttpRequest, pk: int, job_pk: int) -> HttpResponse:
    """Cancel a checked (or failed, idle) job: its drafts are deleted, so the same files
    can be uploaded again; a job on its way to KSeF is refused with the reason."""
    client = _client(request, pk)
    job = _job(request, client, job_pk)
    try:
        deleted = services.send_job_cancel(actor=request.user, job=job)
    except services.CancelRefused as refused:
        messages.error(request, _cancel_refusal(refused.code))
    else:
        messages.success(
            request,
            ngettext(
                "Anulowano wysyłkę; usunięto %(n)s sprawdzony plik — można go przesłać ponownie.",
                "Anulowano wysyłkę; usunięto %(n)s sprawdzonych plików — można je przesłać "
                "ponownie.",
                deleted,
            )
            % {"n": deleted},
        )
    return redirect_after_post(request, reverse("invoices:send_job", args=[client.pk, job.pk]))
