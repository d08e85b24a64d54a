"""Invoice view and PDF speed: ``python benchmarks/invoice_view.py [--runs N] [--seeded [URL]]``.

Without ``--seeded`` it stores every official sample (tests/data/ksef/samples/invoices/,
template placeholders filled) for one client on a fresh database (PostgreSQL with
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_view``, else a temporary SQLite
file, see benchmarks/sync_support.py).

With ``--seeded`` it runs on the database of benchmarks/invoices_list.py instead
(default ``postgres://postgres@127.0.0.1:5432/bench_browse``: 200,000 invoices across
1,000 clients; run that script once to seed it): the samples are added as invoices of a
seeded client assigned to the accountant ``bench-acc-0`` and deleted again at the end, so
the seed stays as it was. The view is timed on the samples and on seeded invoices of the
same client, as the manager (every client) and as that accountant (50 clients).

Then it

* requests ``invoices:detail`` N times per invoice through Django's test client (the
  whole server side: middleware, scoped look-ups, parsing, KOD I, template, on a persistent
  connection) and prints per group and persona the median and p95 of the wall time and of
  the CPU the request cost (this process plus its PostgreSQL backend, read from /proc: the
  wall time of an idle machine), and the SQL queries per request (target: wall p95 <= 50 ms);
* renders each sample's PDF (`invoices.documents.pdf.render_pdf`) N/5 times and prints
  per sample the median wall and CPU time (target: <= 1 s per invoice). The machine may be
  shared: CPU time says what the PDF costs, wall time what a user waited.

Exits non-zero when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

BROWSE_URL = "postgres://postgres@127.0.0.1:5432/bench_browse"
# invoices_list.py's seed: its office, manager and accountants.
BROWSE_OFFICE = "Biuro benchmarku list faktur"
BENCHMARK_MARK = {"benchmark": "invoice_view"}
VIEW_TARGET_MS = 50.0
PDF_TARGET_S = 1.0


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def backend_cpu_seconds() -> float:
    """CPU used so far by this connection's PostgreSQL backend (0 on SQLite: in-process)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Timing:
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    queries: set[int] = field(default_factory=set)


def time_views(user: Any, urls: list[str], runs: int) -> Timing:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    browser = Client()
    browser.force_login(user)
    for url in urls:  # warm-up: templates compiled, schema country list loaded, plans cached
        response = browser.get(url)
        assert response.status_code == 200, (url, response.status_code)
    timing = Timing()
    for _ in range(runs):
        for url in urls:
            with CaptureQueriesContext(connection) as captured:
                backend = backend_cpu_seconds()
                began, began_cpu = time.perf_counter(), time.process_time()
                response = browser.get(url)
                timing.wall_ms.append((time.perf_counter() - began) * 1000)
                portal = time.process_time() - began_cpu
                timing.cpu_ms.append((portal + backend_cpu_seconds() - backend) * 1000)
            assert response.status_code == 200
            timing.queries.add(len(captured) - 2)  # without the two backend_cpu_seconds()
            reset_queries()
    return timing


def time_pdfs(invoices: list[Any], runs: int) -> list[tuple[str, float, float]]:
    """(sample, median wall s, median CPU s) per invoice."""
    from invoices.documents.pdf import render_pdf

    render_pdf(invoices[0][1])  # warm-up: fonts and the stylesheet
    result = []
    for name, invoice in invoices:
        wall, cpu = [], []
        for _ in range(runs):
            began, began_cpu = time.perf_counter(), time.process_time()
            render_pdf(invoice)
            wall.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
        result.append((name, statistics.median(wall), statistics.median(cpu)))
    return result


@contextmanager
def fresh_office() -> Iterator[dict[str, Any]]:
    from sync_support import fresh_database

    from tests.factories import make_client, make_member, make_office

    with fresh_database("view"):
        office = make_office("Biuro Benchmark")
        client = make_client(office, name="Klient Benchmark sp. z o.o.")
        accountant = make_member(office, "accountant")
        client.assigned_accountants.add(accountant)
        yield {
            "client": client,
            "personas": [
                ("manager", make_member(office, "manager").user),
                ("accountant", accountant.user),
            ],
            "seeded": [],
        }


@contextmanager
def seeded_office(seeded_count: int) -> Iterator[dict[str, Any]]:
    """invoices_list.py's office: a client of bench-acc-0 gets the samples for the run."""
    from django.contrib.auth import get_user_model

    from clients.models import Client
    from invoices.models import Invoice

    users = get_user_model().objects
    client = (
        Client.objects.filter(
            office__name=BROWSE_OFFICE, assigned_accountants__user__username="bench-acc-0"
        )
        .order_by("pk")
        .first()
    )
    if client is None:
        sys.exit("no seed: run benchmarks/invoices_list.py first (it seeds bench_browse)")
    seeded = list(
        Invoice.objects.filter(client_links__client=client).order_by("-issue_date")[:seeded_count]
    )
    ours = Invoice.objects.filter(client_links__client=client, metadata=BENCHMARK_MARK)
    ours.delete()  # left over by an interrupted run
    try:
        yield {
            "client": client,
            "personas": [
                ("manager", users.get(username="bench-manager")),
                ("accountant", users.get(username="bench-acc-0")),
            ],
            "seeded": seeded,
        }
    finally:
        ours.delete()


def print_views(label: str, who: str, timing: Timing) -> bool:
    worst = p95(timing.wall_ms)
    print(
        f"{label:<24} {who:<11} {len(timing.wall_ms):>5} "
        f"{statistics.median(timing.wall_ms):>11.1f} {worst:>9.1f} "
        f"{statistics.median(timing.cpu_ms):>10.1f} {p95(timing.cpu_ms):>8.1f}   "
        f"{','.join(map(str, sorted(timing.queries)))}"
        + ("" if worst <= VIEW_TARGET_MS else "  <-- over target")
    )
    return worst <= VIEW_TARGET_MS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="requests per invoice (PDF: a fifth)")
    parser.add_argument(
        "--seeded",
        nargs="?",
        const=BROWSE_URL,
        metavar="URL",
        help=f"run on invoices_list.py's seeded database (default {BROWSE_URL})",
    )
    parser.add_argument("--no-pdf", action="store_true", help="time the view only")
    args = parser.parse_args()
    if args.seeded:
        os.environ["DATABASE_URL"] = args.seeded
        os.environ.setdefault("CONN_MAX_AGE", "600")  # as a production web server keeps it
    import sync_support  # noqa: F401  (Django set-up, with the DATABASE_URL above)
    from django.urls import reverse
    from sync_support import database_label, load_average, verdict

    from invoices.models import Invoice
    from tests.invoices.documents.support import sample_names, store_sample

    office: Callable[[], Any] = (lambda: seeded_office(20)) if args.seeded else fresh_office
    with office() as setup:
        samples = [(name, store_sample(setup["client"], name)) for name in sample_names()]
        Invoice.objects.filter(pk__in=[stored.invoice.pk for _, stored in samples]).update(
            metadata=BENCHMARK_MARK  # what seeded_office() deletes, even after an interrupted run
        )
        groups = [("official samples", [stored.invoice for _, stored in samples])]
        if setup["seeded"]:
            groups.append(("seeded invoices", setup["seeded"]))
        where = f"{database_label()} ({'seeded: 200,000 invoices' if args.seeded else 'fresh'})"
        print(f"{where}, {len(samples)} official samples, {load_average()}")
        print(
            f"{'invoice view':<24} {'who':<11} {'reqs':>5} {'wall median':>11} {'wall p95':>9}"
            f" {'CPU median':>10} {'CPU p95':>8}   (ms)  SQL queries per request"
        )
        view_ok = True
        for label, invoices in groups:
            urls = [reverse("invoices:detail", args=[invoice.pk]) for invoice in invoices]
            for who, user in setup["personas"]:
                timing = time_views(user, urls, args.runs)
                view_ok = print_views(f"{label} ({len(urls)})", who, timing) and view_ok
        pdf_ok = True
        if not args.no_pdf:
            pdf_runs = max(1, args.runs // 5)
            pdfs = time_pdfs([(name, stored.invoice) for name, stored in samples], pdf_runs)
            print(f"PDF, median of {pdf_runs} runs per invoice:      wall s   CPU s")
            for name, wall, cpu in pdfs:
                print(f"  {name:<46} {wall:>6.2f}  {cpu:>6.2f}")
            walls, cpus = [p[1] for p in pdfs], [p[2] for p in pdfs]
            print(
                f"  all {len(pdfs)}: median wall {statistics.median(walls):.2f} s, CPU "
                f"{statistics.median(cpus):.2f} s; slowest wall {max(walls):.2f} s, "
                f"CPU {max(cpus):.2f} s"
            )
            pdf_ok = max(cpus) <= PDF_TARGET_S
        print(f"load average after the run: {os.getloadavg()[0]:.2f}")
    ok = verdict(view_ok, f"invoice view p95 <= {VIEW_TARGET_MS:.0f} ms (wall)")
    if not args.no_pdf:
        ok = verdict(pdf_ok, f"PDF <= {PDF_TARGET_S:.0f} s per invoice (CPU)") and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
