"""Exactly-once work claimed through a ledger row (reminder e-mails, daily digests).

A ledger model has a unique constraint over the work's identity (a credential and a
threshold, a member and a day...) and the columns `status` ("claimed", "sent", "failed"...),
`claimed_at` and `claim_token`. A worker creates the row as "claimed" in its own committed
transaction before doing the work; when the row exists it may take it over only if the
work failed or the worker that claimed it is past its lease (it died). Two workers, or a
rerun, therefore never do the same work twice.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

CLAIMED = "claimed"
FAILED = "failed"

Row = TypeVar("Row", bound=models.Model)


def reclaimable(now: datetime.datetime, lease: datetime.timedelta) -> Q:
    """Rows whose work may be taken over: failed, or claimed by a worker past its lease."""
    return Q(status=FAILED) | Q(status=CLAIMED, claimed_at__lt=now - lease)


def ledger_claim(
    model: type[Row],
    *,
    lookup: dict[str, Any],
    lease: datetime.timedelta,
    defaults: dict[str, Any] | None = None,
    on_takeover: dict[str, Any] | None = None,
) -> Row | None:
    """Create the row as claimed, or take over a reclaimable one; None when the work is
    done or held by another worker. `on_takeover` adds column updates to a takeover (an
    attempts counter, say)."""
    now = timezone.now()
    token = uuid.uuid4().hex
    with transaction.atomic():
        try:
            with transaction.atomic():
                return model._default_manager.create(
                    **lookup, **(defaults or {}), status=CLAIMED, claimed_at=now, claim_token=token
                )
        except IntegrityError:
            pass  # the row exists: claimable only if its work failed or its lease ran out
        taken = (
            model._default_manager.filter(**lookup)
            .filter(reclaimable(now, lease))
            .update(status=CLAIMED, claimed_at=now, claim_token=token, **(on_takeover or {}))
        )
        return model._default_manager.get(**lookup) if taken else None
