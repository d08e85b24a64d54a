"""A sync worker process for the SIGKILL test: `python -m tests.invoices.sync.killable_sync
CURSOR_ID...` runs the engine until the cursors are up to date, like `manage.py
sync_invoices`, with a lease of two seconds (so that the next worker need not wait ten
minutes for a dead one's claim) and a pause after each stored batch once the third batch
of a package is in, announced on stdout, so the test can kill it mid-package."""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from typing import Any


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings_test")
    import django

    django.setup()
    from invoices.sync import ingest
    from invoices.sync.engine import Engine
    from invoices.sync.runner import run_until_done

    linked = ingest._link
    batches = [0]

    def slow_link(*args: Any) -> int:
        count = linked(*args)
        batches[0] += 1
        if batches[0] >= 3:
            print(f"STORING batch {batches[0]}", flush=True)
            time.sleep(0.5)
        return count

    ingest._link = slow_link  # type: ignore[assignment]
    report = run_until_done(Engine(lease=timedelta(seconds=2)), [int(a) for a in argv])
    print("DONE", report.stored, flush=True)
    return 0 if not report.failed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
