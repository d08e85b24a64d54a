"""A link's copies of its invoice's list columns (`ClientInvoice.of`) and the migration that
fills them for the links stored before them (0007's `backfill`)."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection

from invoices.models import LINK_COPIED_COLUMNS, ClientInvoice
from tests.invoices.browse.support import link_also, make_invoice

pytestmark = pytest.mark.django_db

backfill = importlib.import_module("invoices.migrations.0007_list_columns_on_links").backfill


def test_the_counterparty_is_the_other_side_and_the_seller_of_a_third_party_invoice(
    client_company, office
):  # type: ignore[no-untyped-def]
    from tests.factories import make_client

    purchase = make_invoice(client_company, "Subject2", counterparty_nip="5261040828")
    sale = make_invoice(client_company, "Subject1", counterparty_nip="5260250274")
    third = link_also(purchase, make_client(office, name="Faktor S.A."), "Subject3")
    assert (purchase.counterparty_nip, purchase.counterparty_name) == (
        purchase.invoice.seller_nip,
        purchase.invoice.seller_name,
    )
    assert (sale.counterparty_nip, sale.counterparty_name) == (
        sale.invoice.buyer_identifier,
        sale.invoice.buyer_name,
    )
    assert sale.counterparty_nip == "5260250274"
    assert third.counterparty_nip == purchase.invoice.seller_nip == "5261040828"


def test_the_migration_fills_the_copies_of_links_stored_before_them(client_company):  # type: ignore[no-untyped-def]
    links = [
        make_invoice(client_company, "Subject2", gross_amount=Decimal("10.50"), invoice_type="Kor"),
        make_invoice(client_company, "Subject1", currency="EUR", has_attachment=True),
    ]
    ClientInvoice.objects.update(
        counterparty_nip="",
        counterparty_name="",
        net_amount=0,
        vat_amount=0,
        gross_amount=0,
        currency="",
        invoice_type="",
        form_code="",
        invoicing_mode="",
        has_attachment=False,
    )
    # Not entered: SQLite's editor refuses a test's transaction, and backfill only runs SQL.
    backfill(apps, connection.schema_editor())
    for link in links:
        stored = ClientInvoice.objects.select_related("invoice").get(pk=link.pk)
        for field, column in LINK_COPIED_COLUMNS.items():
            assert getattr(stored, field) == getattr(stored.invoice, column), field
        assert (stored.counterparty_nip, stored.counterparty_name) == (
            link.counterparty_nip,
            link.counterparty_name,
        )
    assert ClientInvoice.objects.get(pk=links[0].pk).gross_amount == Decimal("10.50")
    assert ClientInvoice.objects.get(pk=links[1].pk).has_attachment is True
