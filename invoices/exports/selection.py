"""Walking an export's selection a chunk at a time, never all of it in memory.

The list's queryset (`invoices.browse.filters.filtered_links`) has the XML deferred. An
export reads the links through a database cursor (`.iterator`), and for each chunk of
links fetches the documents of that chunk only, in one query — so an export of 100,000
invoices holds one chunk of XML (a few MB) at a time, whatever the total.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db.models import QuerySet

from invoices.models import ClientInvoice, Invoice
from invoices.selectors import with_offline_certificate_url

CHUNK_SIZE = 200


def link_chunks(
    links: QuerySet[ClientInvoice], *, size: int | None = None
) -> Iterator[list[ClientInvoice]]:
    """The links in the list's order, `size` (CHUNK_SIZE) at a time, with client and
    invoice columns."""
    size = size or CHUNK_SIZE
    rows = links.select_related("client", "invoice").defer("invoice__xml", "invoice__metadata")
    batch: list[ClientInvoice] = []
    for link in rows.iterator(chunk_size=size):
        batch.append(link)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def documents_of(invoice_ids: Iterable[int]) -> dict[int, bytes]:
    """The original XML of these invoices, by invoice id (one query)."""
    rows = Invoice.objects.filter(pk__in=list(invoice_ids)).values_list("pk", "xml")
    return {pk: bytes(xml) for pk, xml in rows}


def invoices_of(invoice_ids: Iterable[int]) -> dict[int, Invoice]:
    """Whole invoices (XML and metadata: what the PDF renders from, KOD II of an invoice
    the portal issued offline included), by id (one query)."""
    invoices = with_offline_certificate_url(Invoice.objects.filter(pk__in=list(invoice_ids)))
    return {invoice.pk: invoice for invoice in invoices}
