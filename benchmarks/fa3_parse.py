"""FA(3) parse throughput on one core: ``python benchmarks/fa3_parse.py [invoice.xml]``.

Parses a typical invoice (the MF's example 1: two parties, three lines, payment) in a tight
loop, repeats the measurement and prints the median invoices per second. The target for
:func:`ksef.fa3.parse` is at least 8,000 invoices/s.

It also times bare ``lxml.etree.fromstring`` (default parser) on the same bytes and prints
parse time / fromstring time: on a shared, loaded machine the absolute numbers move with the
load, the ratio much less (reaching 8,000/s where fromstring does ~12,500/s needs <= ~1.55).

``--all`` also prints one line per schema-valid official sample (the typical ones and the
Ministry's deliberately maximal "complete example", 13 KB with 13 lines), so the cost of
size is visible next to the typical case.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from lxml import etree  # noqa: E402

from ksef import fa3  # noqa: E402

# The Ministry's samples, vendored unmodified for the tests (tests/data/ksef/SOURCES.md).
SAMPLES = REPO_ROOT / "tests" / "data" / "ksef" / "samples" / "invoices"
DEFAULT_INVOICE = SAMPLES / "mf-fa3-example-01.xml"
# Schema-valid per the digest (the templates carry #placeholders# and are not invoices).
VALID_SAMPLES = (
    "mf-fa3-example-01.xml",
    "mf-fa3-example-02.xml",
    "mf-fa3-example-04.xml",
    "mf-fa3-example-07.xml",
    "mf-fa3-example-10.xml",
    "fa3-complete-example.xml",
)
TARGET_PER_SECOND = 8_000


def measure(
    xml: bytes, *, loops: int, repeats: int, parse: Callable[[bytes], object] = fa3.parse
) -> list[float]:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(loops):
            parse(xml)
        rates.append(loops / (time.perf_counter() - start))
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("invoice", nargs="?", type=Path, default=DEFAULT_INVOICE)
    parser.add_argument("--loops", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--all", action="store_true", help="also time every valid sample")
    args = parser.parse_args()
    xml = args.invoice.read_bytes()
    summary = fa3.parse(xml)  # warm up and show what is being parsed
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    rates = measure(xml, loops=args.loops, repeats=args.repeats)
    median = statistics.median(rates)
    # The floor set by libxml2 on this machine: building the tree alone, no field reading.
    baseline = statistics.median(
        measure(xml, loops=args.loops, repeats=args.repeats, parse=etree.fromstring)
    )
    print(f"invoice: {args.invoice.name} ({len(xml)} bytes, {len(summary.lines)} lines)")
    print(f"runs: {args.repeats} x {args.loops} parses, one core")
    print(f"min/median/max: {min(rates):,.0f} / {median:,.0f} / {max(rates):,.0f} invoices/s")
    print(f"median per invoice: {1e6 / median:.1f} µs (target >= {TARGET_PER_SECOND:,}/s)")
    print(f"lxml.etree.fromstring alone on this machine: {baseline:,.0f}/s (median)")
    print(f"parse time / fromstring time: {baseline / median:.2f}x")
    if args.all:
        print("per sample (median invoices/s, µs per invoice):")
        for name in VALID_SAMPLES:
            sample = (SAMPLES / name).read_bytes()
            parsed = fa3.parse(sample)
            lines = len(parsed.lines) + (len(parsed.order.lines) if parsed.order else 0)
            rate = statistics.median(measure(sample, loops=args.loops, repeats=args.repeats))
            size = f"{len(sample):6} B {lines:3} rows"
            print(f"  {name:26} {size} {rate:9,.0f}/s {1e6 / rate:6.1f} µs")
    print(f"load average: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if median >= TARGET_PER_SECOND else 1


if __name__ == "__main__":
    raise SystemExit(main())
