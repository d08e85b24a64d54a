"""The ZIP export of 1,000 invoices: ``python benchmarks/invoices_zip.py``.

Stores N invoices (default 1,000; the Ministry's example 01, each with its own number and
KSeF number, ~3 kB of XML) for one client on a fresh database, then writes the office-wide
list's archive the way an export job does (`invoices.exports.archive.archive_file`, the
selection from `filtered_links`), twice: XML only, and XML + PDF (the portal's
`render_pdf`, WeasyPrint, in the job's child process recycled every 100 PDFs:
`archive.isolated_pdf_renderer`). For each it prints the elapsed time, the archive's size,
the bytes of documents that went through it, and the peak resident set size of the export
alone (and of the largest PDF child): the kernel's high-water mark (VmHWM) is reset just
before the export starts (`/proc/self/clear_refs`), so the seeding does not count. The
claim: memory stays flat whatever the number of invoices, because the selection is read one
chunk (200 links) at a time and every file is written and dropped — compare the peak with
the documents' total.

``--quick``: 200 invoices. ``--invoices N``. ``--xml-only``: skip the (slow) PDF run.
With DATABASE_URL=postgres://... the run uses a fresh PostgreSQL database (dropped at the
end), else a temporary SQLite file (`benchmarks/sync_support.fresh_database`).
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import resource
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sync_support  # noqa: F401 - sets Django up (benchmarks/sync_settings.py)
from sync_support import database_label, fresh_database, load_average

from clients.models import Client, LegalForm
from invoices.browse.filters import filtered_links
from invoices.exports import archive
from invoices.models import ClientInvoice, Invoice
from ksef.crypto import sha256_b64
from ksef.identifiers import ksef_number_checksum
from portal.models import Membership, Office

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE = REPO_ROOT / "tests" / "data" / "ksef" / "samples" / "invoices" / "mf-fa3-example-01.xml"
SELLER, BUYER = "5265877635", "6808208874"
BATCH = 200


def _rss_mb(field: str) -> float | None:
    """VmRSS / VmHWM of this process from /proc, in MB (None where there is no /proc)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    return int(match[1]) / 1024 if match else None


def _cpu_seconds() -> tuple[float, float]:
    """CPU (user + system) of this process and of its finished children: on a shared
    machine the wall time says little, the CPU what the export costs."""
    times = os.times()
    return times.user + times.system, times.children_user + times.children_system


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0): the next VmHWM is this phase's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def seed(count: int) -> Membership:
    from django.contrib.auth import get_user_model

    office = Office.objects.create(name="Biuro benchmarku", nip="1010237572")
    user = get_user_model().objects.create_user("bench", password="x")
    manager = Membership.objects.create(user=user, office=office, role="manager")
    client = Client.objects.create(
        office=office,
        nip=BUYER,
        name="Klient benchmarku",
        legal_form=LegalForm.LIMITED_LIABILITY_COMPANY,
    )
    template = SAMPLE.read_text(encoding="utf-8")
    moment = datetime(2026, 3, 10, 12, 0).astimezone()
    for start in range(0, count, BATCH):
        invoices = []
        for n in range(start, min(count, start + BATCH)):
            number = f"FV2026/03/{n:06d}"
            xml = template.replace("FV2026/02/150", number).encode("utf-8")
            head = f"{SELLER}-20260310-{n:012X}"
            invoices.append(
                Invoice(
                    ksef_number=f"{head}-{ksef_number_checksum(head)}",
                    invoice_number=number,
                    form_code="FA (3)",
                    invoice_type="Vat",
                    invoicing_mode="Online",
                    issue_date=date(2026, 3, 10),
                    invoicing_date=moment,
                    acquisition_date=moment,
                    permanent_storage_date=moment + timedelta(seconds=n),
                    seller_nip=SELLER,
                    seller_name="Sprzedawca",
                    buyer_identifier=BUYER,
                    buyer_name="Klient benchmarku",
                    net_amount=Decimal("1667.61"),
                    vat_amount=Decimal("383.38"),
                    gross_amount=Decimal("2050.99"),
                    currency="PLN",
                    invoice_hash=sha256_b64(xml),
                    xml=xml,
                    size=len(xml),
                )
            )
        stored = Invoice.objects.bulk_create(invoices)
        ClientInvoice.objects.bulk_create(  # with the list columns copied, as the sync does
            ClientInvoice.of(i, client_id=client.pk, subject_type="Subject2") for i in stored
        )
        del invoices, stored
    gc.collect()
    return manager


def run(manager: Membership, *, with_pdf: bool, folder: Path) -> None:
    links = filtered_links(membership=manager, params={})
    documents = sum(Invoice.objects.values_list("size", flat=True))
    path = folder / ("xml+pdf.zip" if with_pdf else "xml.zip")
    gc.collect()
    before = _rss_mb("VmRSS")
    exact = _reset_peak()
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    if with_pdf:  # as an export job does: PDFs in a child process recycled every 100
        with archive.isolated_pdf_renderer() as render:
            result = archive.archive_file(path, links, pdf=render)
    else:
        result = archive.archive_file(path, links, with_pdf=False)
    elapsed = time.perf_counter() - started
    own_cpu, children_cpu = (
        now - then for now, then in zip(_cpu_seconds(), cpu_started, strict=True)
    )
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    peak = _rss_mb("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    label = "XML + PDF" if with_pdf else "XML only "
    size = path.stat().st_size / 1024 / 1024
    print(
        f"  {label}: {result.invoices:,} invoices, {result.files:,} files in {elapsed:.1f} s "
        f"({result.invoices / elapsed:,.0f} invoices/s); archive {size:.1f} MB "
        f"(XML {documents / 1024 / 1024:.1f} MB)"
    )
    print(
        f"             CPU {own_cpu:.1f} s in the export"
        + (f" + {children_cpu:.1f} s in the PDF children" if with_pdf else "")
        + f" ({(own_cpu + children_cpu) / max(1, result.invoices) * 1000:.1f} ms per invoice)"
    )
    if exact:
        print(f"             RSS before {before:.0f} MB, peak during the export {peak:.0f} MB "
              f"(+{(peak or 0) - (before or 0):.0f} MB)")  # fmt: skip
    else:
        print(f"             peak RSS of the process {peak:.0f} MB (was {maxrss_before:.0f} MB)")
    if with_pdf:
        print(f"             largest PDF child process: peak RSS {child:.0f} MB")
    path.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=1_000)
    parser.add_argument("--quick", action="store_true", help="200 invoices")
    parser.add_argument("--xml-only", action="store_true", help="skip the PDF run")
    args = parser.parse_args()
    count = 200 if args.quick else args.invoices
    print(f"invoices_zip: {count:,} invoices on {database_label()}; {load_average()}")
    with fresh_database("invoices_zip"), tempfile.TemporaryDirectory() as tmp:
        manager = seed(count)
        print(f"  seeded; RSS {_rss_mb('VmRSS') or 0:.0f} MB")
        run(manager, with_pdf=False, folder=Path(tmp))
        if not args.xml_only:
            run(manager, with_pdf=True, folder=Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
