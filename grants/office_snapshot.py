"""The office's side of the daily grant checks, read once per run (OfficeGrantsSnapshot).

KSeF lets the office's context make 30 permission queries a minute and 120 an hour per
endpoint (digest §8); a check per client in the office model needs two of them. The daily
run therefore reads, before it queues the checks, the whole of both lists in the office's
context — what clients granted the office (`query/entities/grants`) and which indirect
grants the office passed on (`query/persons/grants`, PermissionsGrantedInCurrentContext) —
100 items a page, waiting out a 429 as KSeF asks. Each scheduled check then takes its
client's rows from the snapshot; "Sprawdź teraz" keeps reading KSeF live.

A snapshot that could not be read whole is not stored: the checks then fall back to their
own live queries, and a grant is never reported missing because a list was cut short.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from certificates.connection import KsefContext, ksef_context, office_credential_for
from grants.models import OfficeGrantsSnapshot
from grants.services import all_pages
from ksef.models import EntityPermissionGrant, Identifier, PermissionGrant
from portal.models import Office

logger = logging.getLogger(__name__)

MAX_AGE = timedelta(hours=2)  # older than this, a scheduled check reads live
PAGE_SIZE = 100  # the contract's maximum
MAX_PAGES = 1_000  # 100,000 grants; beyond that the run reads live rather than guess
RATE_LIMIT_RETRIES = 6  # each waits out KSeF's Retry-After (at most two minutes)


def _identifier(value: Identifier | None) -> list[str | None] | None:
    return [value.type, value.value] if value is not None else None


def _entity_row(item: EntityPermissionGrant) -> dict[str, Any]:
    return {
        "id": item.id,
        "scope": item.scope,
        "can_delegate": item.can_delegate,
        "start": item.start_date.isoformat(),
        "context": _identifier(item.context_identifier),
    }


def _person_row(item: PermissionGrant) -> dict[str, Any]:
    return {
        "id": item.id,
        "scope": item.scope,
        "state": item.state,
        "can_delegate": item.can_delegate,
        "start": item.start_date.isoformat(),
        "authorized": _identifier(item.authorized_identifier),
        "target": _identifier(item.target_identifier),
    }


def _read(ctx: KsefContext) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    entity = all_pages(
        lambda offset: ctx.session.call(
            ctx.client.query_entity_grants, page_offset=offset, page_size=PAGE_SIZE
        ),
        max_pages=MAX_PAGES,
    )
    indirect = all_pages(
        lambda offset: ctx.session.call(
            ctx.client.query_person_grants,
            query_type="PermissionsGrantedInCurrentContext",
            page_offset=offset,
            page_size=PAGE_SIZE,
        ),
        max_pages=MAX_PAGES,
    )
    return [_entity_row(e) for e in entity], [_person_row(p) for p in indirect]


def snapshot_take(office: Office) -> OfficeGrantsSnapshot | None:
    """Read the office's side whole and store it; None (and nothing stored) if impossible.

    Any failure — no office credential, KSeF refusing or busy beyond the retries, a list
    too long — leaves the previous snapshot in place but stale for this run, so the checks
    read live; it is logged, never raised, so the daily run goes on for every client."""
    credential = office_credential_for(office)
    if credential is None:
        return None
    try:
        with ksef_context(
            credential=credential,
            context_nip=office.nip,
            purpose="grants",
            rate_limit_retries=RATE_LIMIT_RETRIES,
        ) as ctx:
            entity, indirect = _read(ctx)
    except Exception as exc:  # the checks fall back to live reads
        logger.warning(
            "Office %s: could not read its KSeF grants for the daily run (%s); each check "
            "reads live instead",
            office.pk,
            type(exc).__name__,
        )
        return None
    snapshot, _created = OfficeGrantsSnapshot.objects.update_or_create(
        office=office,
        defaults={
            "taken_at": timezone.now(),
            "entity_grants": entity,
            "indirect_grants": indirect,
        },
    )
    return snapshot


def snapshot_fresh(office: Office) -> OfficeGrantsSnapshot | None:
    """The office's snapshot if this run (or one within MAX_AGE) took it."""
    return OfficeGrantsSnapshot.objects.filter(
        office=office, taken_at__gte=timezone.now() - MAX_AGE
    ).first()


def _as_identifier(row: list[str | None] | None) -> Identifier | None:
    return Identifier(str(row[0]), row[1]) if row else None


def entity_grants_of(
    snapshot: OfficeGrantsSnapshot, client_nip: str
) -> list[EntityPermissionGrant]:
    """What the client with `client_nip` granted the office, as `query/entities/grants` says."""
    return [
        EntityPermissionGrant(
            id=row["id"],
            context_identifier=_as_identifier(row["context"]),
            scope=row["scope"],
            description="",
            start_date=datetime.fromisoformat(row["start"]),
            can_delegate=row["can_delegate"],
        )
        for row in snapshot.entity_grants
        if row["context"] == ["Nip", client_nip]
    ]


def indirect_grants_of(snapshot: OfficeGrantsSnapshot, client_nip: str) -> list[PermissionGrant]:
    """The office's indirect grants to persons in the client's context."""
    return [
        PermissionGrant(
            id=row["id"],
            scope=row["scope"],
            description="",
            state=row["state"],
            start_date=datetime.fromisoformat(row["start"]),
            can_delegate=row["can_delegate"],
            context_identifier=None,
            authorized_identifier=_as_identifier(row["authorized"]),
            target_identifier=_as_identifier(row["target"]),
            author_identifier=None,
            subject_name=None,
        )
        for row in snapshot.indirect_grants
        if row["target"] is not None and row["target"][1] == client_nip
    ]
