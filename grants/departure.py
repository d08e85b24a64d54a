"""A staff member leaves: revoke every KSeF grant naming them, at every client, once.

The job is claimed with a conditional update and keeps a heartbeat; a running job silent for
longer than `StaffDepartureJob.STALE_AFTER` is taken over by the 10-minute sweep
(`staff_departures_resume`), keeps the results of the clients already done, and finishes a
grant left mid-revocation without sending a second DELETE.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop

from clients.models import Client
from grants import services as grants
from grants.models import PermissionGrant, StaffDepartureJob
from grants.services import GRANT_TASK, GrantError, KsefBusy
from portal.audit import audit_record
from portal.messages import deferred, joined, to_data
from portal.models import Membership
from portal.queue import enqueue, enqueue_on_commit

logger = logging.getLogger(__name__)

State = PermissionGrant.State
DEPARTURE_TASK = "clients.staff_departure_run"


# --- a staff member leaves -----------------------------------------------------------------


def grants_naming(membership: Membership) -> Any:
    """Every live grant across the office's clients that names this person."""
    identifiers = [v for v in (membership.pesel, membership.nip) if v]
    names = Q(grantee_membership=membership) | Q(grantee_identifier__in=identifiers)
    return (
        PermissionGrant.objects.filter(names, client__office=membership.office)
        .filter(grantee_kind=PermissionGrant.GranteeKind.PERSON)
        .filter(state__in=[State.REQUESTED, State.GRANTED, State.REVOKING])
        .select_related("client")
        .order_by("client__name", "client_id", "id")
    )


def departure_followup_url(membership: Membership) -> str | None:
    """Where staff management sends an admin who deactivated someone with live grants."""
    if grants_naming(membership).exists():
        return reverse("grants:departure", args=[membership.pk])
    return None


def staff_departure_revoke(*, actor: User, membership: Membership) -> StaffDepartureJob:
    """Start revoking, at every client, the grants of a person who leaves (one tracked job)."""
    with transaction.atomic():
        job = StaffDepartureJob.objects.create(
            office=membership.office, membership=membership, requested_by=actor
        )
        audit_record(
            office=membership.office,
            actor=actor,
            action="staff.grants_revoke_started",
            obj=membership,
            details={"job_id": job.pk, "grants": grants_naming(membership).count()},
        )
        enqueue_on_commit(DEPARTURE_TASK, job.pk)
    return job


def _revoke_at_client(client: Client, client_grants: list[PermissionGrant]) -> dict[str, Any]:
    entry: dict[str, Any] = {"client_id": client.pk, "client_name": client.name}
    revoked = pending = 0
    problems: list[str] = []  # StoredText where the service gave one
    for grant in client_grants:
        if grant.state == State.REQUESTED:
            pending += 1
            problems.append(
                deferred(
                    gettext_noop("nadanie jest jeszcze w toku — odbierz je po jego zakończeniu")
                )
            )
            continue
        try:
            if grant.state == State.GRANTED:
                grants.revoke_begin(actor=None, grant=grant)
            grants.revoke_advance(grant)
            revoked += 1
        except GrantError as exc:
            grants.revoke_failed(grant, exc.code, exc.message)
            problems.append(exc.message)
        except KsefBusy as exc:
            # The grant's own task carries on with retries and backoff.
            enqueue(GRANT_TASK, grant.pk)
            pending += 1
            problems.append(exc.message)
    outcome = "failed" if problems and not pending else "pending" if pending else "revoked"
    entry["outcome"] = outcome
    summary = deferred(gettext_noop("Odebrano uprawnień: %(n)d."), {"n": revoked})
    message = joined([summary, *dict.fromkeys(problems)])
    entry["message"] = message  # as written, for the admin
    entry["message_data"] = to_data(message)  # shown in the reader's language
    return entry


def _departure_claimable(now: datetime) -> Q:
    return Q(state=StaffDepartureJob.State.QUEUED) | Q(
        state=StaffDepartureJob.State.RUNNING, heartbeat_at__lt=now - StaffDepartureJob.STALE_AFTER
    )


def _claim_departure(job_id: int) -> bool:
    """Take the job: a queued one, or a running one whose worker's heartbeat went stale."""
    now = timezone.now()
    return bool(
        StaffDepartureJob.objects.filter(_departure_claimable(now), pk=job_id).update(
            state=StaffDepartureJob.State.RUNNING,
            started_at=Coalesce(F("started_at"), Value(now)),
            heartbeat_at=now,
        )
    )


def staff_departure_perform(*, job_id: int) -> StaffDepartureJob | None:
    """Revoke the person's live grants client by client; resumable after a crash.

    Taking over a job another worker left mid-way keeps that worker's per-client results;
    the grants it revoked are no longer live, a grant it left mid-revocation ("revoking")
    is followed to its end without a second request, and the rest are revoked now."""
    if not _claim_departure(job_id):
        return None
    job = StaffDepartureJob.objects.select_related("membership__user", "office").get(pk=job_id)
    by_client: dict[int, list[PermissionGrant]] = {}
    clients: dict[int, Client] = {}
    for grant in grants_naming(job.membership).select_related("client__office"):
        by_client.setdefault(grant.client_id, []).append(grant)
        clients[grant.client_id] = grant.client
    # A resumed job: entries of the clients handled before the crash stay; a client met
    # again (its grants still live) gets its entry replaced in place.
    results: list[dict[str, Any]] = list(job.results or [])
    position = {entry["client_id"]: i for i, entry in enumerate(results)}
    for client_id, client_grants in by_client.items():
        entry = _revoke_at_client(clients[client_id], client_grants)
        if client_id in position:
            results[position[client_id]] = entry
        else:
            position[client_id] = len(results)
            results.append(entry)
        # Saved after each client: the progress page shows results as they come, and a
        # worker taking over after a crash starts from here.
        StaffDepartureJob.objects.filter(pk=job.pk).update(
            results=results, heartbeat_at=timezone.now()
        )
    with transaction.atomic():
        StaffDepartureJob.objects.filter(pk=job.pk).update(
            state=StaffDepartureJob.State.DONE, finished_at=timezone.now(), results=results
        )
        audit_record(
            office=job.office,
            actor=None,
            action="staff.grants_revoke_finished",
            obj=job.membership,
            details={
                "job_id": job.pk,
                "results": [(r["client_id"], r["outcome"]) for r in results],
            },
        )
    job.refresh_from_db()
    return job


def staff_departures_resume() -> int:
    """Re-queue the departure jobs whose worker died or whose task message was lost.

    A running job with a stale heartbeat, or a job queued longer than the stale period,
    gets its task again (beat, every few minutes). The claim inside the task decides, so a
    job that a live worker still holds is never run twice."""
    now = timezone.now()
    # What a task could claim, except a job queued moments ago whose task is still coming.
    just_queued = Q(
        state=StaffDepartureJob.State.QUEUED,
        created_at__gte=now - StaffDepartureJob.STALE_AFTER,
    )
    abandoned = StaffDepartureJob.objects.filter(_departure_claimable(now)).exclude(just_queued)
    job_ids = list(abandoned.values_list("pk", flat=True))
    for job_id in job_ids:
        logger.warning("Resuming staff departure job %s (worker lost or message lost)", job_id)
        enqueue(DEPARTURE_TASK, job_id)
    return len(job_ids)
