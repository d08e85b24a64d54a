"""`manage.py ksef_outage start --kind offline|emergency [--note TEXT] | end | status`:
an operator records a KSeF outage the Ministry announced (BIP, the KSeF interface).

* `start` — from now: `offline` (unavailability: invoices issued in it are due the next
  business day after it ends) or `emergency` (a failure: 7 business days after it ends; an
  emergency also takes over every offline invoice still waiting). Over an outage the portal
  detected, it confirms that one (and an emergency turns it into the failure).
* `end` — it ends now; the deadlines of its invoices are computed and printed.
* `status` — the ongoing outage, if any.

Exit codes: 0 done; 1 (CommandError) nothing to end. Declared outages end only here: a
successful KSeF call ends only an outage the portal detected itself.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count
from django.utils import timezone

from invoices.models import KsefOutage
from invoices.sending import offline


def _describe(outage: KsefOutage) -> str:
    started = timezone.localtime(outage.started_at, offline.WARSAW)
    text = f"#{outage.pk} {outage.kind} ({outage.source}) since {started:%Y-%m-%d %H:%M}"
    if outage.ended_at is not None:
        text += f" until {timezone.localtime(outage.ended_at, offline.WARSAW):%Y-%m-%d %H:%M}"
    if outage.note:
        text += f" — {outage.note}"
    return text


class Command(BaseCommand):
    help = "Record a KSeF outage announced by the Ministry (start / end / status)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        start = actions.add_parser("start", help="a declared outage begins now")
        start.add_argument("--kind", required=True, choices=KsefOutage.Kind.values)
        start.add_argument("--note", default="", help="e.g. the announcement's reference")
        actions.add_parser("end", help="the ongoing outage ends now")
        actions.add_parser("status", help="show the ongoing outage")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "start":
            outage = offline.outage_begin(
                options["kind"], KsefOutage.Source.DECLARED, note=options["note"]
            )
            self.stdout.write(f"Outage {_describe(outage)}")
            waiting = outage.invoices.filter(state__in=offline.WAITING_STATES).count()
            self.stdout.write(f"Offline invoices waiting under it: {waiting}")
            return
        if action == "end":
            ended = offline.outage_end()
            if ended is None:
                raise CommandError("No KSeF outage is ongoing.")
            self.stdout.write(f"Ended: {_describe(ended)}")
            deadlines = (
                ended.invoices.values("offline_deadline")
                .annotate(n=Count("pk"))
                .order_by("offline_deadline")
            )
            for row in deadlines:
                self.stdout.write(f"{row['n']} invoice(s) due by {row['offline_deadline']}")
            return
        ongoing = offline.current_outage()
        self.stdout.write(f"Ongoing: {_describe(ongoing)}" if ongoing else "No outage ongoing.")
