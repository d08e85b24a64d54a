"""`fa3.parse` refuses a document above KSeF's size limit before any XML work."""

from __future__ import annotations

import pytest

from ksef import fa3
from ksef.errors import InvoiceParseError, InvoiceTooLargeError
from tests.conftest import KSEF_DATA_DIR

SAMPLE = (KSEF_DATA_DIR / "samples" / "invoices" / "mf-fa3-example-01.xml").read_bytes()


def _padded(size: int, *, attachment: bool = False) -> bytes:
    """A valid invoice grown to `size` bytes with a trailing comment (still well-formed)."""
    marker = b"<!-- Zalacznik -->" if attachment else b""
    head = SAMPLE + marker + b"<!--"
    tail = b"-->"
    assert len(head) + len(tail) < size
    return head + b" " * (size - len(head) - len(tail)) + tail


def test_an_invoice_of_exactly_one_megabyte_parses() -> None:
    assert fa3.parse(_padded(1_000_000)).number


def test_one_byte_over_a_megabyte_is_refused_with_the_size_and_the_limit() -> None:
    with pytest.raises(InvoiceTooLargeError) as refused:
        fa3.parse(_padded(1_000_001))
    assert (refused.value.size, refused.value.limit) == (1_000_001, 1_000_000)
    assert isinstance(refused.value, InvoiceParseError)  # callers catching parse errors see it


def test_the_size_is_checked_before_parsing() -> None:
    # Not XML at all: a parser would say "not well-formed"; the size check speaks first.
    with pytest.raises(InvoiceTooLargeError):
        fa3.parse(b"\x00" * 1_000_001)


def test_an_invoice_with_attachments_may_reach_three_megabytes() -> None:
    assert fa3.parse(_padded(2_500_000, attachment=True)).number
    assert fa3.parse(_padded(2_500_000), has_attachment=True).number
    with pytest.raises(InvoiceTooLargeError) as refused:
        fa3.parse(_padded(3_000_001, attachment=True))
    assert refused.value.limit == 3_000_000


def test_metadata_saying_there_is_no_attachment_keeps_the_one_megabyte_limit() -> None:
    with pytest.raises(InvoiceTooLargeError):
        fa3.parse(_padded(1_500_000, attachment=True), has_attachment=False)
