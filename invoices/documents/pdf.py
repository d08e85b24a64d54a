"""The invoice as a PDF (WeasyPrint, from the same document template as the HTML view)."""

from __future__ import annotations

from invoices.models import Invoice


def render_pdf(invoice: Invoice) -> bytes:
    """The invoice's PDF (A4). Placeholder until the renderer lands."""
    raise NotImplementedError
