"""10,000 invoices sent by the portal's sender in batch under KSeF's production limits:
``python benchmarks/send_batch.py [--invoices 10000] [--processing 300] [--quick]``.

One client uploads ``--invoices`` distinct FA(3) invoices (the Ministry's example 1,
renumbered); the upload goes through the portal's checks into a send job, and
``invoices.sending.sender.Sender`` (its production defaults: 2 s polls, the batch wait
limit) sends it — the job's kind chosen by ``choose_session_kind`` — against the
in-process simulator with ``SimulatorConfig(profile="production")`` on a virtual clock
(``Sender(now=ManualClock.now, sleep=ManualClock.advance)``, the simulator following the
same clock), so waiting costs no real time. Every run of the sender is repeated as the
task queue would (after ``ComeBack`` its countdown) until the job is done.

Printed: the simulated time from the first run to the job's end, the wall and CPU time,
and **the bound the limits allow**: the calls the protocol needs for n invoices in
s = ceil(n / 10,000) sessions, per rate-limit group —

* ``public``: the login (challenge, XAdES signature, auth status, token redeem) and the
  Ministry's public keys once per session (60/s per IP);
* ``batchSession``: open and close per session (10/s, 20/min, 60/h);
* ``sessionMisc``: the session status — KSeF's processing time passes first (the
  simulator models it as ``batch_processing_seconds``, ``--processing``), then the
  simulator verifies at most 1,000 invoices per request, so ceil(n_s / 1,000) status
  calls per session see it through — and one session UPO page per 10,000 invoices
  (10/s, 120/min, 1,200/h);
* ``sessionInvoiceList``: the invoice statuses, 1,000 per page (10/s, 20/min, 200/h).

The i-th request (from 0) of a group limited to L per window w cannot come before
floor(i / L) * w, so n requests take at least max over windows of floor((n - 1) / L) * w;
the bound is s x the processing time plus the largest of these spans (part uploads are not
rate-limited). Every other dependency is ignored, so it is a lower bound of what any
client can do: the ratio bound / elapsed must be >= 0.8. The requests made, by group,
are printed next to those needed.

Also checked: every invoice SENT with one KSeF number counted in the simulator, an
Invoice + ClientInvoice row, and the session UPO page listing it, valid against the
official UPO XSD. ``--quick``: 2,000 invoices.
"""

from __future__ import annotations

import argparse
import collections
import math
import sys
import tempfile
import time
from pathlib import Path

import sync_support as support

from invoices.models import ClientInvoice, OutgoingInvoice, SendJob, SendSession
from invoices.sending import batch, checks, services
from invoices.sending.sender import ComeBack, Sender
from ksef_simulator.ratelimit import PRODUCTION, PUBLIC, group_for
from ksef_simulator.upo import upo_schema
from ksef_simulator.verification import assigned_ksef_numbers
from tests.factories import make_office
from tests.invoices.sync.support import sync_client

SAMPLE = support.REPO_ROOT / "tests/data/ksef/samples/invoices/mf-fa3-example-01.xml"
LOGIN_CALLS = 4  # challenge, XAdES signature, auth status, token redeem
STATUS_CHUNK = 1_000  # invoices the simulator verifies per request once processing is due
LIST_PAGE = 1_000
UPO_PAGE = 10_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--processing", type=float, default=300.0, help="simulated seconds")
    parser.add_argument("--quick", action="store_true", help="2,000 invoices")
    args = parser.parse_args()
    if args.quick:
        args.invoices = 2_000
    print(
        f"send_batch: {args.invoices:,} invoices, production limits, KSeF processing "
        f"{args.processing:g} s, {support.database_label()}; {support.load_average()}"
    )
    with support.fresh_database("send_batch"), tempfile.TemporaryDirectory() as tmp:
        ok = run(args.invoices, args.processing, Path(tmp))
    print(f"{support.load_average()} at the end")
    return 0 if ok else 1


def _files(nip: str, count: int) -> list[checks.InvoiceFile]:
    from tests.invoices.sending.support import as_sold_by

    xml = as_sold_by(SAMPLE.read_bytes(), nip)
    old = b"<P_2>FV2026/02/150</P_2>"
    return [
        checks.InvoiceFile(f"FV-{n:05d}.xml", xml.replace(old, f"<P_2>B/{n:05d}</P_2>".encode()))
        for n in range(count)
    ]


def run(count: int, processing: float, tmp: Path) -> bool:
    with support.virtual_simulator(
        tmp, profile="production", batch_processing_seconds=processing
    ) as sim:
        office = make_office("Biuro Rachunkowe Benchmark")
        client = sync_client(office)
        began = time.perf_counter()
        files = _files(client.nip, count)
        checked = checks.check_files(client, files)
        job = services.send_job_create(actor=None, client=client, checked=checked)
        job = services.send_job_start(actor=None, job=job, enqueue=False)
        print(
            f"upload checked and queued in {time.perf_counter() - began:.1f} s "
            f"({job.invoices.count():,} invoices)"
        )

        sim.transport.exchanges.clear()
        sender = Sender(now=sim.clock.now, sleep=sim.clock.advance)
        start = sim.clock.time()
        cpu, began = time.process_time(), time.perf_counter()
        runs = []
        while True:
            try:
                runs.append(sender.run(job.pk))
            except ComeBack as again:
                runs.append(f"come back ({again.code}, {again.countdown:g} s)")
                sim.clock.advance(again.countdown)
                continue
            if runs[-1] != "busy" or len(runs) > 20:
                break
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
        elapsed = sim.clock.time() - start

        job.refresh_from_db()
        sessions = list(SendSession.objects.filter(job=job, state=SendSession.State.DONE))
        sent = job.invoices.filter(state=OutgoingInvoice.State.SENT)
        numbers = assigned_ksef_numbers(sim.state)
        once = sorted(numbers.values()) == [1] * count
        links = ClientInvoice.objects.filter(client=client, subject_type="Subject1").count()
        upo_ok = _upo_ok(job)
        print(
            f"runs: {', '.join(runs)}; job {job.state} ({job.session_kind}), "
            f"{len(sessions)} session(s), {sum(s.part_count for s in sessions)} part(s) of "
            f"{batch.part_bytes():,} B, package {sum(s.package_bytes for s in sessions):,} B"
        )
        print(f"sent {sent.count():,}, rejected {job.rejected_count:,}; sales links {links:,}")
        print(
            f"wall {wall:.1f} s, portal CPU {cpu - sim.transport.cpu:.1f} s, "
            f"simulator CPU {sim.transport.cpu:.1f} s"
        )

        per_session = _split(count)
        needed = _needed(per_session)
        made = _made(sim.transport.exchanges)
        print("requests by group (needed by the protocol / made):")
        for group in sorted(set(needed) | set(made)):
            print(f"  {group:20s} {needed.get(group, 0):5d} / {made.get(group, 0):5d}")
        spans = {group: _span(n, group) for group, n in needed.items()}
        bound = len(per_session) * processing + max(spans.values())
        ratio = bound / elapsed if elapsed > 0 else 1.0
        print(
            f"simulated time: {elapsed:,.1f} s; bound the limits allow: {bound:,.1f} s "
            f"({len(per_session)} x {processing:g} s processing + {max(spans.values()):g} s "
            f"of limits); bound/elapsed = {ratio:.2f}"
        )
        print(
            f"throughput: {count / elapsed:,.1f} invoices per simulated second; "
            f"online sending under the same limits would need {_online(count):,.0f} s "
            f"({_online(count) / 3600:,.1f} h)"
        )
        ok = support.verdict(
            job.state == SendJob.State.DONE and sent.count() == count and once and links == count,
            "every invoice sent once: one KSeF number each in KSeF, one sales row each",
        )
        ok &= support.verdict(upo_ok, "every invoice listed in a stored session UPO page (XSD)")
        ok &= support.verdict(ratio >= 0.8, f"bound/elapsed {ratio:.2f} >= 0.8")
        return ok


def _upo_ok(job: SendJob) -> bool:
    schema = upo_schema()
    from lxml import etree

    listed: set[str] = set()
    for session in SendSession.objects.filter(job=job, state=SendSession.State.DONE):
        for page in session.upo_pages.all():
            if not schema.validate(etree.fromstring(bytes(page.xml))):
                return False
            listed.update(batch.upo_ksef_numbers(bytes(page.xml)))
    sent = job.invoices.filter(state=OutgoingInvoice.State.SENT)
    return (
        sent.filter(upo_page__isnull=True).count() == 0
        and set(sent.values_list("ksef_number", flat=True)) <= listed
    )


def _split(count: int) -> list[int]:
    limit = batch.session_invoice_limit()
    return [min(limit, count - start) for start in range(0, count, limit)]


def _needed(per_session: list[int]) -> dict[str, int]:
    needed: collections.Counter[str] = collections.Counter()
    needed["public"] += LOGIN_CALLS + len(per_session)  # + the public keys per session
    for n in per_session:
        needed["batchSession"] += 2
        needed["sessionMisc"] += math.ceil(n / STATUS_CHUNK) + math.ceil(n / UPO_PAGE)
        needed["sessionInvoiceList"] += math.ceil(n / LIST_PAGE)
    return dict(needed)


def _made(exchanges: list[tuple[str, str, int]]) -> dict[str, int]:
    from tests.ksef_simulator.helpers import operation_for

    made: collections.Counter[str] = collections.Counter()
    for method, path, _ in exchanges:
        if path.startswith("/storage/"):
            made["(part uploads)"] += 1
            continue
        found = operation_for(method, path)
        made[group_for(method, found[0]) if found else "other"] += 1
    return dict(made)


def _span(requests: int, group: str) -> float:
    """The least time `requests` of GROUP take under its sliding-window limits."""
    limits = PUBLIC if group == "public" else PRODUCTION[group]
    windows = {"perSecond": 1.0, "perMinute": 60.0, "perHour": 3600.0}
    if requests <= 1:
        return 0.0
    return max(
        math.floor((requests - 1) / limits[k]) * w for k, w in windows.items() if k in limits
    )


def _online(count: int) -> float:
    """One online session per 10,000: each invoice a POST (invoiceSend) and its UPO a GET
    (sessionMisc) — the slower of the two groups."""
    return max(_span(count, "invoiceSend"), _span(count, "sessionMisc"))


if __name__ == "__main__":
    sys.exit(main())
