"""The ZIP of a list: `{KSeF number}.xml` (the original bytes) and `{KSeF number}.pdf`.

Never the whole archive or all the invoices in memory: the selection is read a chunk of
links at a time (`selection.link_chunks`), the documents of one chunk are fetched, each
file is written into the archive and dropped. A job writes into a file on disk; a direct
download streams through a write-only sink that hands the bytes on as they are produced
(zipfile writes data descriptors when the output cannot seek, as the ZIP format allows).

An invoice between two clients of the office is in an office-wide list twice (once per
client); the archive holds its files once. XML is deflated (it shrinks to a fifth); a PDF
is stored as it is (it is compressed already).
"""

from __future__ import annotations

import multiprocessing
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

from django.db.models import QuerySet

from invoices.exports.selection import invoices_of, link_chunks
from invoices.models import ClientInvoice, Invoice

WARSAW = ZoneInfo("Europe/Warsaw")
# An invoice's PDF, or None when it could not be made (the archive keeps its XML).
PdfRenderer = Callable[[Invoice], bytes | None]


def default_pdf_renderer() -> PdfRenderer:
    """The invoice's PDF as the invoice view prints it."""
    from invoices.documents.pdf import render_pdf

    return render_pdf


def _render_in_child(invoice: Invoice) -> bytes | None:
    return default_pdf_renderer()(invoice)


# WeasyPrint's native side (Pango, HarfBuzz, fontconfig) keeps ~0.2 MB of resident memory
# per document for the life of the process (measured: Python's heap stays flat, malloc_trim
# does not give it back), which a 5,000-invoice archive would turn into a gigabyte. A job
# therefore renders in a child process that is replaced every RECYCLE_PDFS documents, so
# the memory is bounded whatever the archive's size. The child is forked: it has Django
# set up already and never touches the database (render_pdf reads only the invoice it is
# given, pickled to it with its XML).
RECYCLE_PDFS = 100
# A child that hangs or dies takes its PDF with it, not the job: the invoice keeps its XML.
PDF_TIMEOUT_SECONDS = 120


@contextmanager
def isolated_pdf_renderer(
    render: Callable[[Invoice], bytes | None] = _render_in_child, *, recycle: int = RECYCLE_PDFS
) -> Iterator[PdfRenderer]:
    """A renderer that makes each PDF in a child process recycled every `recycle` PDFs.

    `render` must be a module-level function (it is called in the child)."""
    pool = multiprocessing.get_context("fork").Pool(1, maxtasksperchild=recycle)
    try:
        yield lambda invoice: pool.apply_async(render, (invoice,)).get(PDF_TIMEOUT_SECONDS)
    finally:
        pool.close()
        pool.join()


def _info(name: str, invoice: Invoice, compress: int) -> zipfile.ZipInfo:
    moment = invoice.invoicing_date.astimezone(WARSAW)
    info = zipfile.ZipInfo(name, date_time=moment.timetuple()[:6])
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    return info


class Archive:
    """What one archive run wrote: invoices archived (each once) and files in the ZIP."""

    def __init__(self) -> None:
        self.invoices = 0
        self.files = 0


def _archive_steps(
    zf: zipfile.ZipFile,
    links: QuerySet[ClientInvoice],
    result: Archive,
    *,
    with_pdf: bool,
    pdf: PdfRenderer | None,
    on_chunk: Callable[[int], None] | None,
) -> Iterator[None]:
    """Write the selection's files into `zf`, yielding after each file written."""
    render = (pdf or default_pdf_renderer()) if with_pdf else None
    seen: set[str] = set()
    for chunk in link_chunks(links):
        wanted = [link.invoice_id for link in chunk if link.invoice.ksef_number not in seen]
        documents = invoices_of(wanted)
        for invoice_id in wanted:
            invoice = documents[invoice_id]
            if invoice.ksef_number in seen:
                continue  # the same invoice twice in one chunk (two clients' links)
            seen.add(invoice.ksef_number)
            xml_name = f"{invoice.ksef_number}.xml"
            zf.writestr(_info(xml_name, invoice, zipfile.ZIP_DEFLATED), bytes(invoice.xml))
            result.files += 1
            yield None
            data = render(invoice) if render is not None else None
            if data is not None:
                pdf_name = f"{invoice.ksef_number}.pdf"
                zf.writestr(_info(pdf_name, invoice, zipfile.ZIP_STORED), data)
                result.files += 1
                yield None
        result.invoices = len(seen)
        del documents
        if on_chunk is not None:
            on_chunk(len(chunk))


def archive_file(
    path: Path,
    links: QuerySet[ClientInvoice],
    *,
    with_pdf: bool = True,
    pdf: PdfRenderer | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> Archive:
    """Write the selection's archive to `path` (a job's result file)."""
    result = Archive()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for _ in _archive_steps(zf, links, result, with_pdf=with_pdf, pdf=pdf, on_chunk=on_chunk):
            pass
    return result


class _Sink:
    """A write-only file for zipfile whose bytes are taken away as soon as they are written
    (zipfile sees it cannot seek and writes each entry's sizes after its data)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def archive_stream(
    links: QuerySet[ClientInvoice], *, with_pdf: bool = True, pdf: PdfRenderer | None = None
) -> Iterator[bytes]:
    """The archive as a stream of byte strings, one file's worth at a time (direct
    downloads)."""
    sink = _Sink()
    result = Archive()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for _ in _archive_steps(zf, links, result, with_pdf=with_pdf, pdf=pdf, on_chunk=None):
            data = sink.take()
            if data:
                yield data
    yield sink.take()  # the central directory, written on close
