"""KSeF permission grants: request, follow each operation to its end, retry, revoke.

Two ways into KSeF (the KSeF digest §4.4, accounting-office patterns):

* client credential model — the portal logs into the *client's* context with the client's
  stored credential and grants directly: `InvoiceWrite`/`InvoiceRead` to staff persons
  (POST /permissions/persons/grants) and/or to the office's NIP as an entity with
  `canDelegate` (POST /permissions/entities/grants, Pattern A's first step);
* office model — the client has granted the office an entity permission; the office logs
  into *its own* context with the office credential and grants its staff indirect
  permissions for that one client (POST /permissions/indirect/grants, target = client NIP).

Grant and revoke requests are not idempotent, so they are never resent blindly: a worker
claims the row before sending, `submission_uncertain` stays set until KSeF's answer is
stored, and any attempt that starts with the flag set (after a timeout, a 5xx or a crash)
first looks the grant up through the query endpoints. A 429 was not processed, so it
clears the flag. Every grant becomes effective only when its operation reaches 200
(Gotcha 9); the permission ids come from the grant queries afterwards.

Verification lives in `grants.verification`, staff departure in `grants.departure`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Literal, TypeVar

import httpx
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from certificates import connection
from certificates.connection import (
    KsefContext,
    client_credential_for,
    ksef_context,
    office_credential_for,
)
from certificates.custody import SecretUnreadable
from clients.models import Client, Prerequisite
from grants.models import PermissionGrant
from ksef import errors
from ksef.models import Identifier, PermissionPage, PersonSubjectDetails, StatusInfo
from portal.audit import audit_record
from portal.messages import StoredText, deferred, joined, to_data
from portal.models import Membership
from portal.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

INVOICE_PERMISSIONS = ("InvoiceWrite", "InvoiceRead")
CLAIM_STALE_AFTER = timedelta(minutes=5)
# Within one task run the operation status is polled for a few seconds; longer waits go
# back to the queue (the worker is not blocked while KSeF processes the operation).
POLL_INTERVAL_SECONDS = 1.0
POLL_BUDGET_SECONDS = 10.0
MAX_QUERY_PAGES = 50
GONE = "gone"  # a revoke reference meaning "the permission was already absent"
# Task names keep the prefix of the app they were born in: beat schedules and messages
# already in a broker name them (see grants/tasks.py).
GRANT_TASK = "clients.grant_process"

Side = Literal["client", "office"]
T = TypeVar("T")
State = PermissionGrant.State


class GrantError(Exception):
    """A final answer users must read: the grant (or revocation) cannot go on as it is."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class KsefBusy(Exception):
    """A transient problem (429, 5xx, no answer, operation still running): retry later.

    `may_have_landed` is False only when KSeF certainly did not process the request (429).
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, may_have_landed: bool = True
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.may_have_landed = may_have_landed


# --- messages in plain Polish --------------------------------------------------------------


# GET /permissions/operations/{ref} final codes (digest §4.2).
def operation_message(code: int) -> StoredText:
    messages = {
        400: gettext_noop("KSeF odrzucił operację (kod 400). Sprawdź dane i spróbuj ponownie."),
        410: gettext_noop(
            "KSeF uznał identyfikatory za niezgodne lub w niewłaściwej relacji (kod 410). "
            "Sprawdź PESEL/NIP pracownika i NIP biura w portalu."
        ),
        420: gettext_noop(
            "Poświadczenie, którym portal loguje się do KSeF, nie ma prawa nadawania ani "
            "odbierania uprawnień w tym kontekście (kod 420). Potrzebny jest właściciel "
            "kontekstu albo osoba z uprawnieniem „Zarządzanie uprawnieniami” "
            "(CredentialsManage)."
        ),
        430: gettext_noop(
            "Kontekst nie odpowiada wymaganej roli lub uprawnieniom (kod 430) — tej operacji "
            "nie można wykonać w tym kontekście."
        ),
        440: gettext_noop(
            "KSeF nie pozwala na tę operację dla tych powiązań identyfikatorów (kod 440). "
            "W modelu biura oznacza to zwykle, że klient nie nadał biuru uprawnienia "
            "z prawem dalszego przekazywania (canDelegate)."
        ),
        450: gettext_noop(
            "KSeF nie pozwala na tę operację dla wskazanego identyfikatora lub jego typu "
            "(kod 450). Sprawdź, czy PESEL/NIP pracownika jest poprawny."
        ),
        550: gettext_noop("Operacja została anulowana w KSeF (kod 550). Spróbuj ponownie."),
    }
    default = gettext_noop(
        "KSeF zakończył operację błędem (kod %(code)s). Spróbuj ponownie później."
    )
    return deferred(messages.get(code, default), {"code": code})


def _no_rights_message(context_nip: str) -> StoredText:
    return deferred(
        gettext_noop(
            "Poświadczenie nie ma w KSeF prawa zarządzania uprawnieniami w kontekście NIP "
            "%(nip)s (brak CredentialsManage, jak kod 420). Użyj certyfikatu właściciela "
            "kontekstu albo poproś klienta o nadanie tego uprawnienia."
        ),
        {"nip": context_nip},
    )


def _translate(exc: BaseException, context_nip: str) -> GrantError | KsefBusy | None:
    """Map a KSeF or custody failure to what the services do with it (None: unknown)."""
    if isinstance(exc, GrantError | KsefBusy):
        return exc
    if isinstance(exc, errors.RateLimitedError):
        return KsefBusy(
            deferred(
                gettext_noop(
                    "KSeF ograniczył liczbę zapytań (HTTP 429) — portal ponowi automatycznie."
                )
            ),
            retry_after=exc.retry_after,
            may_have_landed=False,
        )
    if isinstance(exc, errors.ServerError):
        return KsefBusy(
            deferred(
                gettext_noop(
                    "KSeF zwrócił błąd serwera (HTTP %(status)s) — portal ponowi automatycznie."
                ),
                {"status": exc.status_code},
            )
        )
    if isinstance(exc, errors.KsefTransportError | errors.OperationTimeout | httpx.HTTPError):
        return KsefBusy(deferred(gettext_noop("KSeF nie odpowiada — portal ponowi automatycznie.")))
    if isinstance(exc, errors.AuthenticationFailed):
        if exc.code in (500, 550):
            return KsefBusy(
                deferred(
                    gettext_noop("KSeF nie zakończył logowania (kod %(code)s)."), {"code": exc.code}
                )
            )
        # The connection module's wording of the authentication codes (415, 450, 460...).
        return GrantError(str(exc.code), connection.auth_failure_message(exc.code, context_nip))
    if isinstance(exc, errors.ForbiddenError):
        return GrantError("420", _no_rights_message(context_nip))
    if isinstance(exc, errors.KsefApiError):
        return GrantError(
            str(exc.status_code),
            deferred(
                gettext_noop("KSeF odrzucił żądanie (HTTP %(status)s): %(details)s"),
                {
                    "status": exc.status_code,
                    "details": "; ".join(exc.details) or exc.description or "—",
                },
            ),
        )
    if isinstance(exc, SecretUnreadable):
        return GrantError(
            "secret_unreadable",
            deferred(
                gettext_noop(
                    "Nie można odszyfrować zapisanego poświadczenia (zmieniony klucz "
                    "szyfrowania?). Powiadom administratora portalu."
                )
            ),
        )
    return None


def no_credential_message(side: Side, client: Client) -> StoredText:
    if side == "client":
        return deferred(
            gettext_noop(
                "Brak aktywnego poświadczenia klienta %(client)s (certyfikatu "
                "uwierzytelniającego lub tokenu KSeF). Prześlij je w kroku „Poświadczenia”."
            ),
            {"client": client.name},
        )
    return deferred(
        gettext_noop(
            "Biuro nie ma aktywnego własnego poświadczenia KSeF (certyfikatu z NIP biura). "
            "Administrator przesyła je w „Poświadczenia biura”."
        )
    )


# --- KSeF connection and queries -----------------------------------------------------------


def side_of(grant: PermissionGrant) -> Side:
    """Direct grants live in the client's context; indirect ones in the office's."""
    return "office" if grant.mode == PermissionGrant.Mode.INDIRECT else "client"


@contextmanager
def connected(client: Client, side: Side, *, rate_limit_retries: int = 0) -> Iterator[KsefContext]:
    """A logged-in KSeF context for the client's or the office's side; errors translated.

    Work nobody waits for (the daily checks) passes `rate_limit_retries` to wait out a 429
    as KSeF asks instead of failing; interactive work reports "busy" at once."""
    office = client.office
    credential = (
        client_credential_for(client) if side == "client" else office_credential_for(office)
    )
    if credential is None:
        raise GrantError("no_credential", no_credential_message(side, client))
    nip = client.nip if side == "client" else office.nip
    try:
        with ksef_context(
            credential=credential,
            context_nip=nip,
            purpose="grants",
            rate_limit_retries=rate_limit_retries,
        ) as ctx:
            yield ctx
    except Exception as exc:
        translated = _translate(exc, nip)
        if translated is None or translated is exc:
            raise
        raise translated from exc


def all_pages(
    fetch: Callable[[int], PermissionPage[T]], *, max_pages: int = MAX_QUERY_PAGES
) -> list[T]:
    """Every page of a KSeF permission query, or GrantError: a list cut short would make
    the grants beyond the cut look missing."""
    items: list[T] = []
    for offset in range(max_pages):
        page = fetch(offset)
        items.extend(page.items)
        if not page.has_more:
            return items
    raise GrantError(
        "list_too_long",
        deferred(
            gettext_noop(
                "KSeF ma więcej niż %(pages)d stron uprawnień do odczytania — lista nie "
                "została sprawdzona w całości."
            ),
            {"pages": max_pages},
        ),
    )


def persons_in_context(ctx: KsefContext, query_type: str, **filters: Any) -> list[Any]:
    return all_pages(
        lambda offset: ctx.session.call(
            ctx.client.query_person_grants,
            query_type=query_type,
            page_offset=offset,
            **filters,
        )
    )


def entity_grants_from(ctx: KsefContext, client: Client) -> list[Any]:
    """In the office's context: the invoice permissions `client` granted the office."""
    return all_pages(
        lambda offset: ctx.session.call(
            ctx.client.query_entity_grants,
            context=Identifier("Nip", client.nip),
            page_offset=offset,
        )
    )


def _by_scope(items: Sequence[Any]) -> dict[str, str]:
    return {item.scope: item.id for item in items if getattr(item, "state", "") != "Inactive"}


def _same(identifier: Identifier | None, type_: str, value: str) -> bool:
    return identifier is not None and (identifier.type, identifier.value) == (type_, value)


def look_up(grant: PermissionGrant, ctx: KsefContext) -> dict[str, str]:
    """The grant's permissions active in KSeF now, scope -> permissionId (maybe partial)."""
    client = grant.client
    kind, value = grant.grantee_identifier_type, grant.grantee_identifier
    if grant.mode == PermissionGrant.Mode.INDIRECT:
        items = persons_in_context(
            ctx,
            "PermissionsGrantedInCurrentContext",
            authorized=Identifier(kind, value),
            target=Identifier("Nip", client.nip),
        )
        return _by_scope([i for i in items if _same(i.target_identifier, "Nip", client.nip)])
    if grant.grantee_kind == PermissionGrant.GranteeKind.ENTITY:
        return _entity_look_up(grant, ctx)
    items = persons_in_context(
        ctx, "PermissionsInCurrentContext", authorized=Identifier(kind, value)
    )
    return _by_scope([i for i in items if _same(i.authorized_identifier, kind, value)])


def _entity_look_up(grant: PermissionGrant, ctx: KsefContext) -> dict[str, str]:
    # The office's side lists what clients granted it (query/entities/grants) with the
    # permission ids the office itself sees, so it comes first when an office credential
    # exists; otherwise the client's persons query, which lists entities too.
    client = grant.client
    if office_credential_for(client.office) is not None:
        with connected(client, "office") as office_ctx:
            return _by_scope(entity_grants_from(office_ctx, client))
    items = persons_in_context(
        ctx, "PermissionsInCurrentContext", authorized=Identifier("Nip", grant.grantee_identifier)
    )
    return _by_scope(
        [i for i in items if _same(i.authorized_identifier, "Nip", grant.grantee_identifier)]
    )


def wait_for_operation(ctx: KsefContext, reference: str) -> StatusInfo:
    """The final status of a permission operation, or KsefBusy if it is still running."""
    waited = 0.0
    while True:
        status = ctx.session.call(ctx.client.get_permission_operation_status, reference)
        if status.code != 100:
            return status
        if waited >= POLL_BUDGET_SECONDS:
            raise KsefBusy(_("KSeF wciąż przetwarza operację — portal sprawdzi ją ponownie."))
        time.sleep(POLL_INTERVAL_SECONDS)
        waited += POLL_INTERVAL_SECONDS


# --- requesting grants ---------------------------------------------------------------------


def _person_identifier(member: Membership) -> tuple[str, str]:
    if member.pesel:
        return "Pesel", member.pesel
    if member.nip:
        return "Nip", member.nip
    raise GrantError(
        "no_identifier",
        _(
            "%(name)s nie ma w portalu numeru PESEL ani NIP, a KSeF nadaje uprawnienia osobom "
            "po tych numerach. Administrator uzupełni go na stronie „Personel”."
        )
        % {"name": member.display_name},
    )


def prerequisite_met(client: Client) -> bool:
    prerequisite = Prerequisite.objects.filter(client=client).first()
    return prerequisite is not None and prerequisite.unlocks_credentials


def _require_prerequisite(client: Client) -> None:
    if not prerequisite_met(client):
        raise GrantError(
            "prerequisite",
            _(
                "Najpierw spełnij wymóg ZAW-FA (niewymagany albo potwierdzony) — bez niego "
                "nikt nie może zarządzać uprawnieniami klienta w KSeF."
            ),
        )


def _clean_permissions(permissions: Sequence[str]) -> list[str]:
    cleaned = [p for p in INVOICE_PERMISSIONS if p in permissions]
    if not cleaned:
        raise GrantError("permissions", _("Wybierz co najmniej jedno uprawnienie."))
    return cleaned


def _already_active(
    client: Client, *, mode: str, kind: str, identifier: str, perms: list[str]
) -> bool:
    existing = PermissionGrant.objects.filter(
        client=client,
        mode=mode,
        grantee_kind=kind,
        grantee_identifier=identifier,
        state__in=[State.REQUESTED, State.GRANTED],
    )
    return any(set(perms) <= set(g.permissions) for g in existing)


def _create(
    *,
    actor: User,
    client: Client,
    kind: str,
    mode: str,
    identifier: tuple[str, str],
    permissions: list[str],
    membership: Membership | None = None,
    can_delegate: bool = False,
) -> PermissionGrant | None:
    if _already_active(client, mode=mode, kind=kind, identifier=identifier[1], perms=permissions):
        return None
    grant = PermissionGrant.objects.create(
        client=client,
        grantee_kind=kind,
        grantee_membership=membership,
        grantee_identifier_type=identifier[0],
        grantee_identifier=identifier[1],
        mode=mode,
        permissions=permissions,
        can_delegate=can_delegate,
        requested_by=actor,
    )
    audit_record(
        office=client.office,
        actor=actor,
        action="grant.requested",
        obj=grant,
        details={
            "client_nip": client.nip,
            "grantee": identifier[1],
            "mode": mode,
            "permissions": permissions,
            "can_delegate": can_delegate,
        },
    )
    _queue(grant.pk)
    return grant


def _queue(grant_id: int) -> None:
    enqueue_on_commit(GRANT_TASK, grant_id)


def grant_request(
    *,
    actor: User,
    client: Client,
    staff: Sequence[Membership],
    include_office: bool,
    permissions: Sequence[str],
) -> list[PermissionGrant]:
    """Client credential model: grant from the client's context to staff and/or the office.

    Returns the grants created (a grant that already exists or is on its way is skipped).
    """
    _require_prerequisite(client)
    if client_credential_for(client) is None:
        raise GrantError("no_credential", no_credential_message("client", client))
    perms = _clean_permissions(permissions)
    if not staff and not include_office:
        raise GrantError("no_grantee", _("Wybierz pracowników albo biuro (NIP biura)."))
    identifiers = [(member, _person_identifier(member)) for member in staff]
    created: list[PermissionGrant | None] = []
    with transaction.atomic():
        for member, identifier in identifiers:
            created.append(
                _create(
                    actor=actor,
                    client=client,
                    kind=PermissionGrant.GranteeKind.PERSON,
                    mode=PermissionGrant.Mode.DIRECT,
                    identifier=identifier,
                    permissions=perms,
                    membership=member,
                )
            )
        if include_office:
            created.append(
                _create(
                    actor=actor,
                    client=client,
                    kind=PermissionGrant.GranteeKind.ENTITY,
                    mode=PermissionGrant.Mode.DIRECT,
                    identifier=("Nip", client.office.nip),
                    permissions=perms,
                    can_delegate=True,
                )
            )
    return [grant for grant in created if grant is not None]


def office_entity_grant(client: Client) -> PermissionGrant | None:
    """The client's granted, still-present entity permission to the office, if known."""
    return (
        PermissionGrant.objects.filter(
            client=client,
            grantee_kind=PermissionGrant.GranteeKind.ENTITY,
            grantee_identifier=client.office.nip,
            state=State.GRANTED,
        )
        .exclude(
            verification__in=[
                PermissionGrant.Verification.MISSING,
                PermissionGrant.Verification.REVOKED_OUTSIDE,
            ]
        )
        .order_by("-completed_at", "-id")
        .first()
    )


def grant_request_indirect(
    *,
    actor: User,
    client: Client,
    staff: Sequence[Membership],
    permissions: Sequence[str],
) -> list[PermissionGrant]:
    """Office model: the office grants its staff indirect permissions for this one client."""
    _require_prerequisite(client)
    if office_credential_for(client.office) is None:
        raise GrantError("no_credential", no_credential_message("office", client))
    perms = _clean_permissions(permissions)
    entity = office_entity_grant(client)
    if entity is None or not entity.can_delegate:
        raise GrantError(
            "no_entity_grant",
            _(
                "Klient nie nadał jeszcze biuru uprawnień z prawem dalszego przekazywania "
                "(albo portal ich nie widzi). Wykonaj kroki opisane poniżej i naciśnij "
                "„Sprawdź teraz”."
            ),
        )
    if not staff:
        raise GrantError("no_grantee", _("Wybierz co najmniej jednego pracownika."))
    identifiers = [(member, _person_identifier(member)) for member in staff]
    with transaction.atomic():
        created = [
            _create(
                actor=actor,
                client=client,
                kind=PermissionGrant.GranteeKind.PERSON,
                mode=PermissionGrant.Mode.INDIRECT,
                identifier=identifier,
                permissions=perms,
                membership=member,
            )
            for member, identifier in identifiers
        ]
    return [grant for grant in created if grant is not None]


def _transition(
    grant: PermissionGrant,
    from_state: str,
    action: str,
    *,
    actor: User | None = None,
    details: dict[str, Any] | None = None,
    **fields: Any,
) -> bool:
    """Move the grant out of `from_state` with one conditional UPDATE and audit it — only
    if this call made the move, so two workers racing through the same step record it once.
    """
    with transaction.atomic():
        moved = PermissionGrant.objects.filter(pk=grant.pk, state=from_state).update(**fields)
        if moved:
            audit_record(
                office=grant.client.office, actor=actor, action=action, obj=grant, details=details
            )
    return bool(moved)


def grant_retry(*, actor: User, grant: PermissionGrant) -> PermissionGrant:
    """Try a failed grant again. A finished failed operation is not resumed; an unconfirmed
    one is (and an uncertain submission is looked up before anything is resent)."""
    operation_final = grant.failure_code.isdigit()
    with transaction.atomic():
        if not _transition(
            grant,
            State.FAILED,
            "grant.retried",
            actor=actor,
            state=State.REQUESTED,
            failure_code="",
            failure_message="",
            progress_note="",
            completed_at=None,
            operation_reference="" if operation_final else grant.operation_reference,
        ):
            raise GrantError("state", _("Ponowić można tylko nieudane nadanie."))
        _queue(grant.pk)
    grant.refresh_from_db()
    return grant


# --- following grants ----------------------------------------------------------------------


def _claim(grant: PermissionGrant) -> bool:
    """Take the right to send the non-idempotent request; marks the submission uncertain
    until KSeF's answer is stored (a crash in between leaves it uncertain)."""
    now = timezone.now()
    free = Q(submission_claimed_at__isnull=True) | Q(
        submission_claimed_at__lt=now - CLAIM_STALE_AFTER
    )
    return bool(
        PermissionGrant.objects.filter(free, pk=grant.pk, state=grant.state).update(
            submission_claimed_at=now, submission_uncertain=True
        )
    )


@contextmanager
def _holding_claim(grant: PermissionGrant) -> Iterator[None]:
    """Free the claim if anything escapes, keeping `submission_uncertain` as it is."""
    try:
        yield
    except BaseException:
        PermissionGrant.objects.filter(pk=grant.pk).update(submission_claimed_at=None)
        raise


def _release(grant: PermissionGrant, *, uncertain: bool, **fields: Any) -> None:
    PermissionGrant.objects.filter(pk=grant.pk).update(
        submission_claimed_at=None, submission_uncertain=uncertain, **fields
    )
    grant.refresh_from_db()


def _note(grant: PermissionGrant, message: str) -> None:
    PermissionGrant.objects.filter(pk=grant.pk).update(progress_note=message[:300])


def _mark_granted(grant: PermissionGrant, found: dict[str, str]) -> None:
    now = timezone.now()
    complete = all(scope in found for scope in grant.permissions)
    _transition(
        grant,
        State.REQUESTED,
        "grant.granted",
        details={"permission_ids": found, "operation": grant.operation_reference},
        state=State.GRANTED,
        ksef_permission_ids=found,
        completed_at=now,
        verification=PermissionGrant.Verification.VERIFIED if complete else "",
        verified_at=now if complete else None,
        missing_notified_at=None,
        failure_code="",
        failure_message="",
        failure_data={},
        progress_note="",
        submission_claimed_at=None,
        submission_uncertain=False,
    )


def _mark_failed(grant: PermissionGrant, code: str, message: str) -> None:
    _transition(
        grant,
        State.REQUESTED,
        "grant.failed",
        details={"code": code, "operation": grant.operation_reference},
        state=State.FAILED,
        failure_code=code[:20],
        failure_message=message,
        failure_data=to_data(message),
        completed_at=timezone.now(),
        progress_note="",
        submission_claimed_at=None,
    )


def _description(grant: PermissionGrant) -> str:
    text = _("Portal KSeF biura %(office)s: %(permissions)s dla %(client)s") % {
        "office": grant.client.office.name,
        "permissions": ", ".join(grant.permissions),
        "client": grant.client.nip,
    }
    return text[:256]


def _person_details(grant: PermissionGrant) -> PersonSubjectDetails:
    member = grant.grantee_membership
    first = member.user.first_name if member else ""
    last = member.user.last_name if member else ""
    if not first or not last:
        name = member.display_name if member else grant.grantee_identifier
        first, _sep, last = name.partition(" ")
        last = last or first
    return PersonSubjectDetails.by_identifier(first, last)


def _submit(grant: PermissionGrant, ctx: KsefContext) -> str:
    client, session = ctx.client, ctx.session
    if grant.grantee_kind == PermissionGrant.GranteeKind.ENTITY:
        full_name = grant.client.office.name[:90].ljust(5, ".")
        return session.call(
            client.grant_entity_permissions,
            nip=grant.grantee_identifier,
            permissions={p: grant.can_delegate for p in grant.permissions},
            description=_description(grant),
            full_name=full_name,
        )
    subject = Identifier(grant.grantee_identifier_type, grant.grantee_identifier)
    if grant.mode == PermissionGrant.Mode.INDIRECT:
        return session.call(
            client.grant_indirect_permissions,
            subject=subject,
            permissions=list(grant.permissions),
            description=_description(grant),
            subject_details=_person_details(grant),
            target=Identifier("Nip", grant.client.nip),
        )
    return session.call(
        client.grant_person_permissions,
        subject=subject,
        permissions=list(grant.permissions),
        description=_description(grant),
        subject_details=_person_details(grant),
    )


def _send_grant(grant: PermissionGrant, ctx: KsefContext) -> None:
    attempts = grant.submission_attempts + 1
    try:
        reference = _submit(grant, ctx)
    except Exception as exc:
        translated = _translate(exc, ctx.context_nip)
        if translated is None:
            raise
        landed = isinstance(translated, KsefBusy) and translated.may_have_landed
        _release(grant, uncertain=landed, submission_attempts=attempts)
        raise translated from exc
    _release(
        grant,
        uncertain=False,
        operation_reference=reference,
        submission_attempts=attempts,
        progress_note="",
    )


def _advance_grant(grant: PermissionGrant) -> None:
    with connected(grant.client, side_of(grant)) as ctx:
        if not grant.operation_reference:
            look_first = grant.submission_uncertain
            if not _claim(grant):
                return  # another worker is sending it right now
            with _holding_claim(grant):
                if look_first:
                    found = look_up(grant, ctx)
                    if all(scope in found for scope in grant.permissions):
                        logger.info("grant %s found in KSeF after an uncertain send", grant.pk)
                        _mark_granted(grant, found)
                        return
                _send_grant(grant, ctx)
        try:
            status = wait_for_operation(ctx, grant.operation_reference)
        except errors.GoneError:
            status = StatusInfo(code=200 if look_up(grant, ctx) else 500, description="gone")
        if status.code == 200:
            _mark_granted(grant, look_up(grant, ctx))
        else:
            message = operation_message(status.code)
            if status.details:
                details = deferred(
                    gettext_noop("Szczegóły z KSeF: %(d)s"), {"d": "; ".join(status.details)}
                )
                message = joined([message, details])
            _mark_failed(grant, str(status.code), message)


def grant_follow(*, grant_id: int) -> PermissionGrant | None:
    """Move one grant on: send it, follow its operation, or revoke it. Safe to run twice.

    Raises KsefBusy for a transient problem (the task retries with backoff)."""
    grant = (
        PermissionGrant.objects.select_related("client__office", "grantee_membership__user")
        .filter(pk=grant_id)
        .first()
    )
    if grant is None:
        return None
    try:
        if grant.state == State.REQUESTED:
            _advance_grant(grant)
        elif grant.state == State.REVOKING:
            revoke_advance(grant)
    except GrantError as exc:
        _fail_step(grant, exc.code, exc.message)
    except KsefBusy as exc:
        _note(grant, exc.message)
        raise
    grant.refresh_from_db()
    return grant


def grant_give_up(*, grant_id: int, message: str) -> None:
    """The task ran out of retries: end in a clear state (a later retry looks up first)."""
    grant = PermissionGrant.objects.select_related("client__office").filter(pk=grant_id).first()
    if grant is None:
        return
    text = deferred(
        gettext_noop(
            "%(last)s Po kilku próbach KSeF nadal nie odpowiada. Spróbuj ponownie później — "
            "portal najpierw sprawdzi w KSeF, czy operacja nie została już wykonana, więc "
            "nie powstanie duplikat."
        ),
        {"last": message},
    )
    _fail_step(grant, "ksef_unavailable", text)


def _fail_step(grant: PermissionGrant, code: str, message: str) -> None:
    grant.refresh_from_db()
    if grant.state == State.REQUESTED:
        _mark_failed(grant, code, message)
    elif grant.state == State.REVOKING:
        revoke_failed(grant, code, message)


# --- revocation ----------------------------------------------------------------------------


def grant_revoke(*, actor: User | None, grant: PermissionGrant) -> PermissionGrant:
    """Start revoking a granted permission in KSeF (the task follows it to the end)."""
    with transaction.atomic():
        revoke_begin(actor=actor, grant=grant)
        _queue(grant.pk)
    grant.refresh_from_db()
    return grant


def revoke_begin(*, actor: User | None, grant: PermissionGrant) -> None:
    if not _transition(
        grant,
        State.GRANTED,
        "grant.revoke_requested",
        actor=actor,
        details={"grantee": grant.grantee_identifier, "client_nip": grant.client.nip},
        state=State.REVOKING,
        failure_code="",
        failure_message="",
        failure_data={},
        progress_note="",
    ):
        raise GrantError("state", _("Odebrać można tylko nadane uprawnienie."))
    grant.refresh_from_db()


def revoke_failed(grant: PermissionGrant, code: str, message: str) -> None:
    failed = deferred(gettext_noop("Nie udało się odebrać uprawnienia: %(m)s"), {"m": message})
    _transition(
        grant,
        State.REVOKING,
        "grant.revoke_failed",
        details={"code": code},
        state=State.GRANTED,
        failure_code=code[:20],
        failure_message=failed,
        failure_data=to_data(failed),
        progress_note="",
        submission_claimed_at=None,
    )


def _mark_revoked(grant: PermissionGrant) -> None:
    _transition(
        grant,
        State.REVOKING,
        "grant.revoked",
        details={"operations": grant.revoke_operation_references},
        state=State.REVOKED,
        completed_at=timezone.now(),
        progress_note="",
        submission_claimed_at=None,
        submission_uncertain=False,
    )


def _send_revocations(grant: PermissionGrant, ctx: KsefContext, ids: dict[str, str]) -> None:
    references = dict(grant.revoke_operation_references)
    pending = [pid for pid in ids.values() if pid not in references]
    if not pending:
        return
    if grant.submission_uncertain:
        still_there = set(look_up(grant, ctx).values())
        for pid in pending:
            if pid not in still_there:
                references[pid] = GONE
        pending = [pid for pid in pending if pid not in references]
    if not pending:
        PermissionGrant.objects.filter(pk=grant.pk).update(
            revoke_operation_references=references, submission_uncertain=False
        )
        grant.refresh_from_db()
        return
    if not _claim(grant):
        raise KsefBusy(_("Odbieranie uprawnienia jest właśnie w toku."))
    with _holding_claim(grant):
        for pid in pending:
            try:
                references[pid] = ctx.session.call(ctx.client.revoke_permission, pid)
            except Exception as exc:
                translated = _translate(exc, ctx.context_nip)
                if translated is None:
                    raise
                if isinstance(translated, GrantError) and pid not in look_up(grant, ctx).values():
                    references[pid] = GONE  # refused because it is already gone (revoked)
                    continue
                landed = isinstance(translated, KsefBusy) and translated.may_have_landed
                _release(grant, uncertain=landed, revoke_operation_references=references)
                raise translated from exc
            # Stored after each DELETE, so a crash never sends the same one again.
            PermissionGrant.objects.filter(pk=grant.pk).update(
                revoke_operation_references=references
            )
        _release(grant, uncertain=False, revoke_operation_references=references)


def revoke_advance(grant: PermissionGrant) -> None:
    with connected(grant.client, side_of(grant)) as ctx:
        ids = dict(grant.ksef_permission_ids) or look_up(grant, ctx)
        PermissionGrant.objects.filter(pk=grant.pk).update(ksef_permission_ids=ids)
        _send_revocations(grant, ctx, ids)
        references = dict(grant.revoke_operation_references)
        for pid, reference in list(references.items()):
            if reference == GONE:
                continue
            status = wait_for_operation(ctx, reference)
            if status.code != 200:
                # A finished failed operation is dropped so that a new attempt resends it.
                del references[pid]
                PermissionGrant.objects.filter(pk=grant.pk).update(
                    revoke_operation_references=references
                )
                raise GrantError(str(status.code), operation_message(status.code))
        _mark_revoked(grant)
