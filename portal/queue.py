"""Queue Celery tasks by their registered name.

Services queue the background work they create, and each app's `tasks` module calls those
services. Importing the task functions from a service would close that circle, so services
name the task instead; the names are the stable part anyway (beat schedules and messages
already in the broker refer to them).
"""

from __future__ import annotations

import random

from django.db import transaction

from portal.celery import app


def enqueue(task_name: str, *args: int) -> None:
    """Send the task now (for work queued outside a transaction, e.g. a resume sweep)."""
    if task_name not in app.tasks:
        # A web process has imported no tasks module yet: Celery discovers the apps'
        # tasks lazily, when a worker starts or when asked here.
        app.loader.import_default_modules()
    app.tasks[task_name].delay(*args)


def enqueue_on_commit(task_name: str, *args: int) -> None:
    """Send the task once the surrounding transaction commits, so the worker sees its rows."""
    transaction.on_commit(lambda: enqueue(task_name, *args))


def backoff_countdown(
    retries: int, *, base: float, cap: float, retry_after: float | None = None
) -> float:
    """Seconds before retry number RETRIES + 1: equal-jitter exponential backoff from BASE
    up to CAP, never sooner than KSeF's Retry-After."""
    ceiling = min(cap, base * 2**retries)
    delay = ceiling / 2 + random.random() * ceiling / 2  # noqa: S311 - not security relevant
    return float(max(delay, retry_after or 0.0))
