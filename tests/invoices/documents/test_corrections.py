"""The corrections index: what each correction corrects, idempotent, only corrections."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command

from invoices.documents.corrections import corrected_references, corrections_index
from invoices.models import InvoiceCorrection
from tests.invoices.documents.support import sample_bytes, store, store_sample

pytestmark = pytest.mark.django_db


def _rows(invoice):  # type: ignore[no-untyped-def]
    return list(
        InvoiceCorrection.objects.filter(correction=invoice)
        .order_by("position")
        .values_list(
            "position", "corrected_ksef_number", "corrected_number", "corrected_issue_date"
        )
    )


def test_a_collective_correction_records_every_corrected_invoice_in_order(client_company):  # type: ignore[no-untyped-def]
    correction = store_sample(client_company, "mf-fa3-example-07.xml").invoice
    assert corrections_index(invoices=[correction]) == 6
    rows = _rows(correction)
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0] == (1, "9999999999-20230908-8BEF280C8D35-4D", "FV2026/01/134", date(2026, 1, 15))
    assert rows[5][2] == "FV2026/06/15"


def test_indexing_twice_changes_nothing(client_company):  # type: ignore[no-untyped-def]
    correction = store_sample(client_company, "mf-fa3-example-07.xml").invoice
    corrections_index(invoices=[correction])
    first = _rows(correction)
    assert corrections_index(invoices=[correction, correction]) == 6  # named twice, read once
    assert _rows(correction) == first and InvoiceCorrection.objects.count() == 6


def test_only_correction_types_are_parsed(client_company):  # type: ignore[no-untyped-def]
    # A correction's XML stored as a plain VAT invoice is not read at all.
    xml = sample_bytes("mf-fa3-example-02.xml")
    plain = store(
        client_company,
        xml,
        seller_nip="9999999999",
        issue_date=date(2026, 3, 15),
        invoice_type="Vat",
    )
    assert corrections_index(invoices=[plain]) == 0
    assert not InvoiceCorrection.objects.exists()


def test_a_pef_credit_note_names_the_corrected_invoice_by_its_ksef_number():  # type: ignore[no-untyped-def]
    references = corrected_references(sample_bytes("invoice-template-fa-3-pef-correction.xml"))
    assert [(r.ksef_number, r.issue_date) for r in references] == [
        ("5265877635-20260210-0100001AF629-AF", date(2026, 2, 16))
    ]


def test_the_command_indexes_corrections_already_stored(client_company):  # type: ignore[no-untyped-def]
    store_sample(client_company, "mf-fa3-example-07.xml")
    store_sample(client_company, "mf-fa3-example-02.xml")
    store_sample(client_company, "mf-fa3-example-01.xml")
    out = StringIO()
    call_command("index_corrections", stdout=out)
    assert "Correction invoices indexed: 2; corrected invoices recorded: 7." in out.getvalue()
    call_command("index_corrections", stdout=StringIO())
    assert InvoiceCorrection.objects.count() == 7
