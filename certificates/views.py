"""Credential pages: per client and for the office, live checks, and the client upload link.

Every view: scoped lookup (404 for another office or an unassigned client, 403 for the
role) -> form -> service -> response. The same URL serves the full page and, for HTMX,
the fragment. No view renders, logs or redirects with a secret.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling, reswap, retarget

from certificates import selectors, services
from certificates.forms import AccessModelForm, CredentialUploadForm, UploadLinkForm
from certificates.models import Credential, CredentialCheck, UploadLink
from certificates.ratelimit import client_ip, hit
from certificates.validation import CredentialRejected
from clients.models import Client, Prerequisite
from clients.selectors import client_get
from portal.access import ADMINS, ALL_ROLES, MANAGERS, membership_of, role_required
from portal.errorreports import label_secret_url
from portal.http import HtmxHttpRequest, redirect_after_post
from portal.models import Office

# Upload forms carry a key password or a KSeF token: never shown in error reports.
SECRET_FIELDS = ("password", "token")
CLIENT_SLOTS = (Credential.Kind.AUTHENTICATION, Credential.Kind.OFFLINE, Credential.Kind.TOKEN)
# Public link pages: requests per IP per window, before the answer becomes 429.
LINK_REQUESTS_PER_IP = 30
LINK_WINDOW_SECONDS = 15 * 60


def _client_context(client: Client) -> dict[str, object]:
    prerequisite = Prerequisite.objects.filter(client=client).first()
    active = {c.kind: c for c in selectors.active_credentials_of_client(client)}
    office_credential = selectors.office_credential(client.office)
    return {
        "client": client,
        "prerequisite_ok": bool(prerequisite and prerequisite.unlocks_credentials),
        "access_form": AccessModelForm(initial={"access_model": client.access_model}),
        "slots": [
            {
                "kind": kind,
                "label": Credential.Kind(kind).label,
                "credential": active.get(kind),
                "last_check": selectors.latest_check(active[kind], client)
                if kind in active
                else None,
            }
            for kind in CLIENT_SLOTS
        ],
        "office_credential": office_credential,
        "office_last_check": selectors.latest_check(office_credential, client)
        if office_credential
        else None,
        "history": selectors.credentials_of_client(client).exclude(status=Credential.Status.ACTIVE),
        "links": selectors.upload_links_of_client(client)[:10],
        "link_form": UploadLinkForm(client=client),
        "custody_log": selectors.client_custody_log(client)[:100],
        "health": selectors.client_credential_health(client),
    }


@require_GET
@role_required(*ALL_ROLES)
def client_credentials(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    client = client_get(membership_of(request), pk)
    template = "certificates/client.html#slots" if request.htmx else "certificates/client.html"
    return render(request, template, _client_context(client))


@require_POST
@role_required(*ALL_ROLES)
def access_model_set(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    client = client_get(membership_of(request), pk)
    form = AccessModelForm(request.POST)
    if form.is_valid():
        services.client_access_model_set(
            actor=membership_of(request).user,
            client=client,
            access_model=form.cleaned_data["access_model"],
        )
        messages.success(request, _("Zapisano model dostępu do KSeF."))
    else:
        messages.error(request, _("Wybierz jeden z dwóch modeli dostępu."))
    return redirect_after_post(request, reverse("certificates:client", args=[client.pk]))


def _expected_owners(
    office: Office, client: Client | None, kind: str
) -> list[selectors.ExpectedOwner]:
    """Whose certificate the slot takes; nothing for a token, which names no subject."""
    if kind == Credential.Kind.TOKEN:
        return []
    return selectors.expected_owners(office, client)


def _upload_response(
    request: HtmxHttpRequest, form: CredentialUploadForm, context: Mapping[str, object]
) -> HttpResponse:
    template = (
        "certificates/upload.html#upload-form" if request.htmx else "certificates/upload.html"
    )
    return render(request, template, {"form": form, **context})


@sensitive_variables("form")
def _submit_upload(
    request: HtmxHttpRequest,
    form: CredentialUploadForm,
    *,
    client: Client | None,
) -> services.UploadResult | None:
    """Run the upload service; on refusal attach its Polish message to the form."""
    membership = membership_of(request)
    try:
        return services.credential_upload(
            office=membership.office,
            client=client,
            kind=form.kind,
            upload=form.certificate_upload() if form.kind != Credential.Kind.TOKEN else None,
            token=form.token_value(),
            consent=form.consent() if form.kind != Credential.Kind.TOKEN else None,
            actor=membership_of(request).user,
        )
    except CredentialRejected as exc:
        form.add_error(None, exc.message)
        return None


def _report_upload(request: HtmxHttpRequest, result: services.UploadResult) -> None:
    text = _("Zapisano: %(kind)s.") % {"kind": result.credential.get_kind_display()}
    if result.replaced is not None:
        text += " " + _("Poprzednie poświadczenie zastąpiono, a jego klucz zniszczono.")
    messages.success(request, text)
    for warning in result.warnings:
        messages.warning(request, warning)


@sensitive_post_parameters(*SECRET_FIELDS)
@require_http_methods(["GET", "POST"])
@role_required(*ALL_ROLES)
def credential_upload(request: HtmxHttpRequest, pk: int, kind: str) -> HttpResponse:
    client = client_get(membership_of(request), pk)
    if kind not in CLIENT_SLOTS:
        raise Http404
    is_post = request.method == "POST"
    form = CredentialUploadForm(
        request.POST if is_post else None, request.FILES if is_post else None, kind=kind
    )
    if is_post and form.is_valid():
        result = _submit_upload(request, form, client=client)
        if result is not None:
            _report_upload(request, result)
            return redirect_after_post(request, reverse("certificates:client", args=[client.pk]))
    context = {
        "client": client,
        "kind_label": Credential.Kind(kind).label,
        "action": reverse("certificates:upload", args=[client.pk, kind]),
        "back": reverse("certificates:client", args=[client.pk]),
        "current": selectors.active_credentials_of_client(client).filter(kind=kind).first(),
        "may_replace": membership_of(request).role in MANAGERS,
        "expected_owners": _expected_owners(membership_of(request).office, client, kind),
    }
    return _upload_response(request, form, context)


@require_GET
@role_required(*ALL_ROLES)
def office_credentials(request: HtmxHttpRequest) -> HttpResponse:
    membership = membership_of(request)
    credential = selectors.office_credential(membership.office)
    context = {
        "credential": credential,
        "history": selectors.office_credentials(membership.office).exclude(
            status=Credential.Status.ACTIVE
        ),
        "custody_log": selectors.credential_custody_log(credential)[:100] if credential else [],
        "can_upload": membership.role in ADMINS,
    }
    return render(request, "certificates/office.html", context)


@sensitive_post_parameters(*SECRET_FIELDS)
@require_http_methods(["GET", "POST"])
@role_required(*ADMINS)
def office_credential_upload(request: HtmxHttpRequest) -> HttpResponse:
    membership = membership_of(request)
    kind = Credential.Kind.AUTHENTICATION
    is_post = request.method == "POST"
    form = CredentialUploadForm(
        request.POST if is_post else None, request.FILES if is_post else None, kind=kind
    )
    if is_post and form.is_valid():
        result = _submit_upload(request, form, client=None)
        if result is not None:
            _report_upload(request, result)
            return redirect_after_post(request, reverse("certificates:office"))
    context = {
        "client": None,
        "kind_label": _("Certyfikat uwierzytelniający biura (model biura)"),
        "action": reverse("certificates:office_upload"),
        "back": reverse("certificates:office"),
        "current": selectors.office_credential(membership.office),
        "may_replace": True,  # only administrators reach this page
        "expected_owners": _expected_owners(membership.office, None, kind),
    }
    return _upload_response(request, form, context)


@require_GET
@role_required(*ALL_ROLES)
def credential_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    credential = selectors.credential_get(membership_of(request), pk)
    context = {
        "credential": credential,
        "custody_log": selectors.credential_custody_log(credential),
        "checks": credential.checks.select_related("client")[:20],
    }
    template = "certificates/detail.html#custody" if request.htmx else "certificates/detail.html"
    return render(request, template, context)


@require_POST
@role_required(*ALL_ROLES)
def credential_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = membership_of(request)
    credential = selectors.credential_get(membership, pk)
    # The office's own certificate is the admins'; a client's, the managers'.
    selectors.credential_get(
        membership, pk, roles=ADMINS if credential.client_id is None else MANAGERS
    )
    services.credential_delete(actor=membership_of(request).user, credential=credential)
    messages.success(request, _("Usunięto poświadczenie; jego klucz i hasło zniszczono."))
    target = (
        reverse("certificates:client", args=[credential.client_id])
        if credential.client_id
        else reverse("certificates:office")
    )
    return redirect_after_post(request, target)


def _check_response(request: HtmxHttpRequest, check: CredentialCheck) -> HttpResponse:
    context = {"check": check}
    if not request.htmx:
        return render(request, "certificates/check.html", context)
    response = render(request, "certificates/check.html#check-status", context)
    if check.is_finished:
        # 286 tells htmx to stop polling; the final status is still swapped in.
        return HttpResponseStopPolling(response.content)
    return response


@require_POST
@role_required(*ALL_ROLES)
def credential_check_start(request: HtmxHttpRequest, pk: int, client_pk: int) -> HttpResponse:
    membership = membership_of(request)
    client = client_get(membership, client_pk)
    credential = selectors.credential_get(membership, pk)
    usable = credential.is_active and credential.kind != Credential.Kind.OFFLINE
    if not usable or credential.client_id not in (None, client.pk):
        raise Http404
    check = services.credential_check_request(
        actor=membership_of(request).user, credential=credential, client=client
    )
    check.refresh_from_db()  # eager mode (tests, demo) may already have finished it
    if request.htmx:
        return _check_response(request, check)
    return redirect("certificates:check", pk=check.pk)


@require_GET
@role_required(*ALL_ROLES)
def check_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _check_response(request, selectors.check_get(membership_of(request), pk))


@require_POST
@role_required(*ALL_ROLES)
def upload_link_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    client = client_get(membership_of(request), pk)
    form = UploadLinkForm(request.POST, client=client)
    if form.is_valid():
        link = services.upload_link_create(
            actor=membership_of(request).user,
            client=client,
            kind=form.cleaned_data["kind"],
            recipient_email=form.cleaned_data["recipient_email"],
        )
        messages.success(
            request,
            _("Wysłano link do %(email)s; wygasa %(when)s i działa tylko raz.")
            % {"email": link.recipient_email, "when": link.expires_at.strftime("%d.%m.%Y")},
        )
    else:
        messages.error(request, _("Wybierz adres e-mail klienta i rodzaj poświadczenia."))
    return redirect_after_post(request, reverse("certificates:client", args=[client.pk]))


@require_POST
@role_required(*ALL_ROLES)
def upload_link_revoke(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = membership_of(request)
    link = UploadLink.objects.filter(office=membership.office, pk=pk).first()
    if link is None:
        raise Http404
    client_get(membership, link.client_id)
    services.upload_link_revoke(actor=membership_of(request).user, link=link)
    messages.success(request, _("Link unieważniono."))
    return redirect_after_post(request, reverse("certificates:client", args=[link.client_id]))


# --- public: the client's single-use upload page ------------------------------------------


def _self_upload_done(request: HtmxHttpRequest, client: Client) -> HttpResponse:
    """The link's final page. The form posts to HTMX with #upload-form as its target; the
    final page replaces the whole upload page instead (#self-upload), so neither the form's
    surroundings nor a second page header stay behind."""
    if not request.htmx:
        return render(request, "certificates/self_upload_done.html", {"client": client})
    response = render(request, "certificates/self_upload_done.html#done", {"client": client})
    return reswap(retarget(response, "#self-upload"), "outerHTML")


def _gone(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "certificates/link_gone.html", status=410)


@sensitive_post_parameters(*SECRET_FIELDS)
@sensitive_variables("token", "form")
@require_http_methods(["GET", "POST"])
def self_upload(request: HtmxHttpRequest, token: str) -> HttpResponse:
    ip = client_ip(request)
    if not hit(
        "upload-link-ip", ip, limit=LINK_REQUESTS_PER_IP, window_seconds=LINK_WINDOW_SECONDS
    ):
        return render(request, "certificates/link_gone.html", {"throttled": True}, status=429)
    link = selectors.upload_link_for_token(token)
    if link is None:
        label_secret_url(request, "upload-link:unknown")
        raise Http404
    # Django's 404/410/429 warnings name the path: they show the link's id, not its token.
    label_secret_url(request, f"upload-link:{link.pk}")
    if not link.is_usable or link.failed_attempts >= services.UPLOAD_LINK_MAX_FAILED_ATTEMPTS:
        return _gone(request)
    is_post = request.method == "POST"
    form = CredentialUploadForm(
        request.POST if is_post else None, request.FILES if is_post else None, kind=link.kind
    )
    if is_post and form.is_valid():
        is_token = link.kind == Credential.Kind.TOKEN
        try:
            services.upload_link_submit(
                link=link,
                upload=None if is_token else form.certificate_upload(),
                token=form.token_value(),
                consent=None if is_token else form.consent(),
                ip=ip,
            )
        except CredentialRejected as exc:
            services.upload_link_record_failure(link=link, reason=exc.reason, ip=ip)
            form.add_error(None, exc.message)
        else:
            return _self_upload_done(request, link.client)
    context = {
        "form": form,
        "client": link.client,
        "kind_label": Credential.Kind(link.kind).label,
        "action": request.path,
        "public": True,
        "expected_owners": _expected_owners(link.office, link.client, link.kind),
    }
    template = (
        "certificates/self_upload.html#upload-form"
        if request.htmx
        else "certificates/self_upload.html"
    )
    return render(request, template, context)
