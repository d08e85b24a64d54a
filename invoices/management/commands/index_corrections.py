"""`manage.py index_corrections`: (re)build the corrections index for stored invoices.

Reads every correction-type invoice, a thousand at a time, and records the invoices each
one corrects (`invoices.documents.corrections.corrections_index`). Safe to run again at
any time: an invoice's rows are replaced, never doubled. Prints what it recorded.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from invoices.documents.corrections import CORRECTION_TYPES, corrections_index
from invoices.models import Invoice

CHUNK = 1000


class Command(BaseCommand):
    help = "Index the invoices that stored correction invoices correct."

    def handle(self, *args: Any, **options: Any) -> None:
        corrections = (
            Invoice.objects.filter(invoice_type__in=CORRECTION_TYPES)
            .only("id", "invoice_type", "xml")
            .order_by("id")
        )
        invoices = references = 0
        chunk: list[Invoice] = []
        for invoice in corrections.iterator(chunk_size=CHUNK):
            chunk.append(invoice)
            if len(chunk) == CHUNK:
                references += corrections_index(invoices=chunk)
                invoices, chunk = invoices + len(chunk), []
        references += corrections_index(invoices=chunk)
        invoices += len(chunk)
        self.stdout.write(
            f"Correction invoices indexed: {invoices}; corrected invoices recorded: {references}."
        )
