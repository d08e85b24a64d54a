"""Live verification of grants in KSeF: the daily check and "Sprawdź teraz".

Verification looks at KSeF from both sides it can reach: the client's context (direct
grants, with the client's credential) and the office's context (what the client granted
the office — query/entities/grants — and the indirect grants to staff, with the office
credential). Because the office's own lists keep showing indirect grants after the client
revoked the office's entity grant (Gotcha 10), an indirect grant counts as present only
while the client's delegable entity grant is present too.

A grant that disappeared keeps state "granted" with verification "missing" (never seen)
or "revoked_outside" (seen before): the client's health row turns red, and the assigned
accountants and the managers get one e-mail, exactly once per disappearance
(`missing_notified_at` claimed with a conditional update).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from certificates.connection import client_credential_for, office_credential_for
from clients.models import AccessModel, Client
from grants import office_snapshot
from grants import services as grants
from grants.models import GrantsCheck, OfficeGrantsSnapshot, PermissionGrant
from grants.services import GrantError, KsefBusy, connected
from ksef.models import Identifier
from portal.audit import audit_record
from portal.ksef_terms import permissions_stored
from portal.messages import deferred, joined, to_data
from portal.models import Membership, Office
from portal.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

State = PermissionGrant.State
Verification = PermissionGrant.Verification
CHECK_STALE_AFTER = timedelta(minutes=15)
# A scheduled check waits out this many 429s per request (Retry-After, at most two minutes
# each): at 06:15 a thousand checks start together and share the per-IP login limit.
SCHEDULED_RATE_LIMIT_RETRIES = 3
CHECK_TASK = "clients.grants_check_run"


# --- requesting checks ---------------------------------------------------------------------


def grants_verify_request(
    *, actor: User | None, client: Client, scheduled: bool = False
) -> GrantsCheck:
    """Queue a live look-up of the client's grants ("Sprawdź teraz", or the schedule)."""
    with transaction.atomic():
        check = GrantsCheck.objects.create(client=client, requested_by=actor, scheduled=scheduled)
        if actor is not None:
            audit_record(
                office=client.office,
                actor=actor,
                action="grants.check_requested",
                obj=client,
                details={"check_id": check.pk},
            )
        enqueue_on_commit(CHECK_TASK, check.pk)
    return check


def clients_to_verify() -> Any:
    """Clients whose grants matter: any granted grant, or the office model."""
    return (
        Client.objects.filter(is_archived=False)
        .filter(Q(grants__state=State.GRANTED) | Q(access_model=AccessModel.OFFICE))
        .distinct()
    )


def grants_verify_all() -> int:
    """Queue one check per client; a client with a check already waiting is skipped.

    First, for every office whose clients need its side of KSeF, the office's grants are
    read once (grants.office_snapshot): the checks then cost the office's context nothing.
    """
    busy = GrantsCheck.objects.filter(
        state__in=[GrantsCheck.State.QUEUED, GrantsCheck.State.RUNNING],
        created_at__gte=timezone.now() - CHECK_STALE_AFTER,
    ).values("client")
    due = clients_to_verify().exclude(pk__in=busy)
    office_side = (
        Q(access_model=AccessModel.OFFICE)
        | Q(grants__state=State.GRANTED, grants__mode=PermissionGrant.Mode.INDIRECT)
        | Q(grants__state=State.GRANTED, grants__grantee_kind=PermissionGrant.GranteeKind.ENTITY)
    )
    office_ids = set(due.filter(office_side).values_list("office_id", flat=True))
    for office in Office.objects.filter(pk__in=office_ids):
        office_snapshot.snapshot_take(office)
    clients = list(due.select_related("office"))
    for client in clients:
        grants_verify_request(actor=None, client=client, scheduled=True)
    return len(clients)


def _claim_check(check_id: int) -> bool:
    now = timezone.now()
    claimable = Q(state=GrantsCheck.State.QUEUED) | Q(
        state=GrantsCheck.State.RUNNING, started_at__lt=now - CHECK_STALE_AFTER
    )
    return bool(
        GrantsCheck.objects.filter(claimable, pk=check_id).update(
            state=GrantsCheck.State.RUNNING, started_at=now
        )
    )


# --- what KSeF shows -----------------------------------------------------------------------


@dataclass
class Seen:
    """Everything the portal could read about one client's grants in KSeF."""

    persons: list[Any] | None = None  # client's context, PermissionsInCurrentContext
    entity: list[Any] | None = None  # office's context, query/entities/grants for the client
    indirect: list[Any] | None = None  # office's context, PermissionsGrantedInCurrentContext
    notes: list[str] = field(default_factory=list)


def _read(
    client: Client,
    expected: list[PermissionGrant],
    snapshot: OfficeGrantsSnapshot | None,
    *,
    rate_limit_retries: int,
) -> Seen:
    seen = Seen()
    wants_office = client.access_model == AccessModel.OFFICE or any(
        g.mode == PermissionGrant.Mode.INDIRECT
        or g.grantee_kind == PermissionGrant.GranteeKind.ENTITY
        for g in expected
    )
    if wants_office and snapshot is not None:
        seen.entity = office_snapshot.entity_grants_of(snapshot, client.nip)
        seen.indirect = office_snapshot.indirect_grants_of(snapshot, client.nip)
    elif wants_office:
        if office_credential_for(client.office) is None:
            seen.notes.append(grants.no_credential_message("office", client))
        else:
            with connected(client, "office", rate_limit_retries=rate_limit_retries) as ctx:
                seen.entity = grants.entity_grants_from(ctx, client)
                seen.indirect = grants.persons_in_context(
                    ctx,
                    "PermissionsGrantedInCurrentContext",
                    target=Identifier("Nip", client.nip),
                )
    wants_client = any(
        g.mode == PermissionGrant.Mode.DIRECT
        and (g.grantee_kind == PermissionGrant.GranteeKind.PERSON or seen.entity is None)
        for g in expected
    )
    if wants_client:
        if client_credential_for(client) is None:
            seen.notes.append(grants.no_credential_message("client", client))
        else:
            with connected(client, "client", rate_limit_retries=rate_limit_retries) as ctx:
                seen.persons = grants.persons_in_context(ctx, "PermissionsInCurrentContext")
    return seen


def _matching(items: list[Any], type_: str, value: str, *, target_nip: str = "") -> dict[str, str]:
    chosen = [
        i
        for i in items
        if i.authorized_identifier is not None
        and (i.authorized_identifier.type, i.authorized_identifier.value) == (type_, value)
        and (
            not target_nip
            or (i.target_identifier is not None and i.target_identifier.value == target_nip)
        )
    ]
    return {i.scope: i.id for i in chosen if getattr(i, "state", "") != "Inactive"}


def _found_for(grant: PermissionGrant, seen: Seen) -> tuple[dict[str, str] | None, str]:
    """(scope -> id found, reason if something is missing); None = could not check."""
    kind, value = grant.grantee_identifier_type, grant.grantee_identifier
    if grant.mode == PermissionGrant.Mode.INDIRECT:
        if seen.indirect is None or seen.entity is None:
            return None, ""
        delegable = {e.scope for e in seen.entity if e.can_delegate}
        lost = [scope for scope in grant.permissions if scope not in delegable]
        found = _matching(seen.indirect, kind, value, target_nip=grant.client.nip)
        if lost:
            reason = deferred(
                gettext_noop(
                    "Klient odebrał biuru uprawnienie z prawem przekazywania (%(scopes)s), "
                    "więc uprawnienie pośrednie pracownika nie działa, choć KSeF wciąż je "
                    "wymienia."
                ),
                {"scopes": permissions_stored(lost)},
            )
            return {s: i for s, i in found.items() if s not in lost}, reason
        return found, ""
    if grant.grantee_kind == PermissionGrant.GranteeKind.ENTITY:
        if seen.entity is not None:
            return {e.scope: e.id for e in seen.entity}, ""
        if seen.persons is None:
            return None, ""
        return _matching(seen.persons, "Nip", value), ""
    if seen.persons is None:
        return None, ""
    return _matching(seen.persons, kind, value), ""


# --- applying what was seen ----------------------------------------------------------------


def _set_verified(grant: PermissionGrant, found: dict[str, str]) -> None:
    ids = {scope: found[scope] for scope in grant.permissions if scope in found}
    PermissionGrant.objects.filter(pk=grant.pk).update(
        verification=Verification.VERIFIED,
        verified_at=timezone.now(),
        ksef_permission_ids=ids,
        missing_notified_at=None,
        failure_message="",
        failure_data={},
    )


def _set_missing(grant: PermissionGrant, reason: str) -> None:
    seen_before = grant.verification == Verification.VERIFIED or grant.verified_at is not None
    verdict = Verification.REVOKED_OUTSIDE if seen_before else Verification.MISSING
    message = reason or (
        deferred(gettext_noop("Uprawnienia nie ma już w KSeF — odebrano je poza portalem."))
        if seen_before
        else deferred(
            gettext_noop("Uprawnienia nie ma w KSeF, choć operacja nadania się powiodła.")
        )
    )
    with transaction.atomic():
        PermissionGrant.objects.filter(pk=grant.pk).update(
            verification=verdict,
            verified_at=timezone.now(),
            failure_message=message,
            failure_data=to_data(message),
        )
        if grant.verification != verdict:
            audit_record(
                office=grant.client.office,
                actor=None,
                action="grant.missing",
                obj=grant,
                details={"verification": verdict, "client_nip": grant.client.nip},
            )


def _discover_entity_grant(client: Client, seen: Seen, expected: list[PermissionGrant]) -> int:
    """Record the client's entity grant to the office that the portal did not request."""
    if not seen.entity:
        return 0
    known = [g for g in expected if g.grantee_kind == PermissionGrant.GranteeKind.ENTITY]
    scopes = sorted({e.scope for e in seen.entity})
    if any(set(scopes) <= set(g.permissions) for g in known):
        return 0
    now = timezone.now()
    with transaction.atomic():
        grant = PermissionGrant.objects.create(
            client=client,
            grantee_kind=PermissionGrant.GranteeKind.ENTITY,
            grantee_identifier_type="Nip",
            grantee_identifier=client.office.nip,
            mode=PermissionGrant.Mode.DIRECT,
            permissions=scopes,
            can_delegate=all(e.can_delegate for e in seen.entity),
            state=State.GRANTED,
            ksef_permission_ids={e.scope: e.id for e in seen.entity},
            completed_at=now,
            verification=Verification.VERIFIED,
            verified_at=now,
        )
        audit_record(
            office=client.office,
            actor=None,
            action="grant.discovered",
            obj=grant,
            details={"client_nip": client.nip, "permissions": scopes},
        )
    return 1


@dataclass
class Outcome:
    verified: int = 0
    missing: list[PermissionGrant] = field(default_factory=list)
    discovered: int = 0
    unchecked: int = 0


def _verify(client: Client, check: GrantsCheck) -> tuple[Outcome, list[str]]:
    expected = list(
        client.grants.filter(state=State.GRANTED).select_related("grantee_membership__user")
    )
    if check.scheduled:
        seen = _read(
            client,
            expected,
            office_snapshot.snapshot_fresh(client.office),
            rate_limit_retries=SCHEDULED_RATE_LIMIT_RETRIES,
        )
    else:
        seen = _read(client, expected, None, rate_limit_retries=0)
    outcome = Outcome()
    for grant in expected:
        found, reason = _found_for(grant, seen)
        if found is None:
            outcome.unchecked += 1
        elif not reason and all(scope in found for scope in grant.permissions):
            _set_verified(grant, found)
            outcome.verified += 1
        else:
            _set_missing(grant, reason)
            outcome.missing.append(grant)
    outcome.discovered = _discover_entity_grant(client, seen, expected)
    return outcome, seen.notes


def grants_verify_client(*, check_id: int) -> GrantsCheck | None:
    """Run one queued check; a second delivery of the same id does nothing."""
    if not _claim_check(check_id):
        return None
    check = GrantsCheck.objects.select_related("client__office").get(pk=check_id)
    client = check.client
    try:
        outcome, notes = _verify(client, check)
    except (GrantError, KsefBusy) as exc:
        return _finish(check, GrantsCheck.State.FAILED, exc.message)
    _notify_missing(client, outcome.missing)
    parts = [
        deferred(gettext_noop("potwierdzone: %(n)d"), {"n": outcome.verified}),
        deferred(gettext_noop("brakujące: %(n)d"), {"n": len(outcome.missing)}),
    ]
    if outcome.discovered:
        parts.append(deferred(gettext_noop("znalezione nowe uprawnienie klienta dla biura")))
    if outcome.unchecked:
        parts.append(deferred(gettext_noop("niesprawdzone: %(n)d"), {"n": outcome.unchecked}))
    message = deferred(
        gettext_noop("Sprawdzono w KSeF — %(summary)s."), {"summary": joined(parts, ", ")}
    )
    if notes:
        message = joined([message, *notes])
    return _finish(check, GrantsCheck.State.DONE, message)


def _finish(check: GrantsCheck, state: str, message: str) -> GrantsCheck:
    check.state = state
    check.message = message
    check.message_data = to_data(message)
    check.finished_at = timezone.now()
    check.save(update_fields=["state", "message", "message_data", "finished_at"])
    audit_record(
        office=check.client.office,
        actor=None,
        action="grants.checked",
        obj=check.client,
        details={"check_id": check.pk, "result": state},
    )
    return check


# --- notifications -------------------------------------------------------------------------


def _recipients(client: Client) -> list[str]:
    assigned = client.assigned_accountants.filter(user__is_active=True)
    managers = Membership.objects.filter(
        office=client.office, role=Membership.Role.MANAGER, user__is_active=True
    )
    emails = [
        m.user.email for m in [*assigned.select_related("user"), *managers.select_related("user")]
    ]
    return sorted({e for e in emails if e})


def _notify_missing(client: Client, missing: list[PermissionGrant]) -> None:
    """One e-mail per client listing grants that newly disappeared; each grant once."""
    now = timezone.now()
    claimed = [
        grant
        for grant in missing
        if PermissionGrant.objects.filter(pk=grant.pk, missing_notified_at__isnull=True).update(
            missing_notified_at=now
        )
    ]
    recipients = _recipients(client)
    if not claimed or not recipients:
        return
    for grant in claimed:
        grant.refresh_from_db()
    context = {
        "client": client,
        "office": client.office,
        "grants": claimed,
        "url": settings.PORTAL_BASE_URL.rstrip("/") + reverse("grants:client", args=[client.pk]),
    }
    # In Polish, like every e-mail, even when someone browsing in English started the check.
    with translation.override("pl"):
        subject = render_to_string("emails/grants/missing_subject.txt", context).strip()
        body = render_to_string("emails/grants/missing.txt", context)
        html = render_to_string("emails/grants/missing.html", context)
    message = EmailMultiAlternatives(subject=" ".join(subject.split()), body=body, to=recipients)
    message.attach_alternative(html, "text/html")
    message.send()
