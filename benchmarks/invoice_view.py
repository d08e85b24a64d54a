"""Invoice view and PDF speed: ``python benchmarks/invoice_view.py [--runs N]``.

Stores every official sample (tests/data/ksef/samples/invoices/, template placeholders
filled) for one client on a fresh database, then as a manager:

* requests ``invoices:detail`` of each sample N times through Django's test client (the
  whole server side: middleware, scoped look-ups, parsing, KOD I, template) and prints the
  median and p95 server time over all requests, plus the SQL queries per request
  (target: p95 <= 50 ms);
* renders each sample's PDF (`invoices.documents.pdf.render_pdf`) N times and prints the
  median and the slowest per invoice (target: <= 1 s per invoice).

PostgreSQL with ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_view``, else a
temporary SQLite file (see benchmarks/sync_support.py). Exits non-zero when a target is
missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import sync_support  # noqa: F401  (Django set-up first)
from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from sync_support import database_label, fresh_database, load_average, verdict

from invoices.documents.pdf import render_pdf
from tests.factories import make_client, make_member, make_office
from tests.invoices.documents.support import sample_names, store_sample


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="requests per sample (PDF: a fifth)")
    args = parser.parse_args()
    with fresh_database("view"):
        office = make_office("Biuro Benchmark")
        manager = make_member(office, "manager")
        client = make_client(office, name="Klient Benchmark sp. z o.o.")
        invoices = [store_sample(client, name).invoice for name in sample_names()]
        browser = Client()
        browser.force_login(manager.user)
        urls = [reverse("invoices:detail", args=[invoice.pk]) for invoice in invoices]
        for url in urls:  # warm-up: templates compiled, schema country list loaded
            assert browser.get(url).status_code == 200
        view_ms: list[float] = []
        queries: set[int] = set()
        for _ in range(args.runs):
            for url in urls:
                with CaptureQueriesContext(connection) as captured:
                    start = time.perf_counter()
                    response = browser.get(url)
                    view_ms.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200
                queries.add(len(captured))
                reset_queries()
        pdf_runs = max(1, args.runs // 5)
        render_pdf(invoices[0])  # warm-up: fonts and the stylesheet
        per_invoice: list[float] = []
        for invoice in invoices:
            times = []
            for _ in range(pdf_runs):
                start = time.perf_counter()
                render_pdf(invoice)
                times.append(time.perf_counter() - start)
            per_invoice.append(statistics.median(times))
    print(f"{database_label()}, {len(invoices)} official samples, {load_average()}")
    print(
        f"invoice view: {len(view_ms)} requests, median {statistics.median(view_ms):.1f} ms, "
        f"p95 {p95(view_ms):.1f} ms, max {max(view_ms):.1f} ms; "
        f"SQL queries per request: {sorted(queries)}"
    )
    print(
        f"PDF: {len(invoices)} invoices x {pdf_runs} runs, "
        f"median {statistics.median(per_invoice):.2f} s, slowest invoice {max(per_invoice):.2f} s"
    )
    ok = verdict(p95(view_ms) <= 50, "invoice view p95 <= 50 ms")
    ok = verdict(max(per_invoice) <= 1.0, "PDF <= 1 s per invoice") and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
