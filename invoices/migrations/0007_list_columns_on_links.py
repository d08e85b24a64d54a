"""The invoice columns the lists filter, sort and count on, copied onto each ClientInvoice
(see `invoices.models.LINK_COPIED_COLUMNS` and `counterparty_of`), so a wide filter on
200,000 rows needs no join with the invoices; filled for the existing links in batches.

The copies are added with a placeholder default, filled from the invoices with one
UPDATE ... FROM per batch of link ids (PostgreSQL, and SQLite 3.33+), and indexed after
they are filled (building an index once is cheaper than keeping it up to date through
200,000 updates). On PostgreSQL the counterparty's name and NIP also get pg_trgm GIN
indexes for `icontains` and NIP prefixes (the extension comes from migration 0006).
"""

import datetime
from decimal import Decimal

from django.db import migrations, models

BATCH = 20_000

# (link column, SQL taking it from the invoice `i` of the link).
COPIES = [
    ("counterparty_nip", "CASE WHEN {link}.subject_type = 'Subject1' THEN i.buyer_identifier ELSE i.seller_nip END"),
    ("counterparty_name", "CASE WHEN {link}.subject_type = 'Subject1' THEN i.buyer_name ELSE i.seller_name END"),
    *[
        (column, f"i.{column}")
        for column in (
            "issue_date",
            "invoicing_date",
            "net_amount",
            "vat_amount",
            "gross_amount",
            "currency",
            "invoice_type",
            "form_code",
            "invoicing_mode",
            "has_attachment",
        )
    ],
]

TRIGRAM_INDEXES = [
    ("client_invoice_party_name_trgm", 'UPPER("counterparty_name"::text)'),
    ("client_invoice_party_nip_trgm", '("counterparty_nip"::text)'),
]


def backfill(apps, schema_editor):
    ClientInvoice = apps.get_model("invoices", "ClientInvoice")
    Invoice = apps.get_model("invoices", "Invoice")
    quote = schema_editor.quote_name
    link = quote(ClientInvoice._meta.db_table)
    assignments = ", ".join(
        f"{quote(column)} = {expression.format(link=link)}" for column, expression in COPIES
    )
    sql = (
        f"UPDATE {link} SET {assignments} FROM {quote(Invoice._meta.db_table)} i "
        f"WHERE i.id = {link}.invoice_id AND {link}.id >= %s AND {link}.id < %s"
    )
    bounds = ClientInvoice.objects.aggregate(low=models.Min("id"), high=models.Max("id"))
    if bounds["low"] is None:
        return
    for start in range(bounds["low"], bounds["high"] + 1, BATCH):
        schema_editor.execute(sql, [start, start + BATCH])


def trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, expression in TRIGRAM_INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON invoices_clientinvoice "
            f"USING gin (({expression}) gin_trgm_ops)"
        )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _expression in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def _placeholder(field, default):
    """A column every existing row gets `default` in, filled by `backfill` right after."""
    field.default = default
    return {"field": field, "preserve_default": False}


class Migration(migrations.Migration):

    dependencies = [
        ('invoices', '0006_invoice_lists'),
    ]

    operations = [
        migrations.AddField(
            model_name='clientinvoice',
            name='counterparty_nip',
            field=models.CharField(blank=True, max_length=50),
        ),
        migrations.AddField(
            model_name='clientinvoice',
            name='counterparty_name',
            field=models.CharField(blank=True, max_length=512),
        ),
        migrations.AddField(
            model_name='clientinvoice',
            name='invoicing_date',
            **_placeholder(models.DateTimeField(), datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)),
        ),
        migrations.AddField(
            model_name='clientinvoice',
            name='net_amount',
            **_placeholder(models.DecimalField(decimal_places=2, max_digits=18), Decimal('0')),
        ),
        migrations.AddField(
            model_name='clientinvoice',
            name='vat_amount',
            **_placeholder(models.DecimalField(decimal_places=2, max_digits=18), Decimal('0')),
        ),
        migrations.AddField(
            model_name='clientinvoice',
            name='gross_amount',
            **_placeholder(models.DecimalField(decimal_places=2, max_digits=18), Decimal('0')),
        ),
        migrations.AddField(
            model_name='clientinvoice',
            name='currency',
            **_placeholder(models.CharField(max_length=3), ''),
        ),
        migrations.AddField(
            model_name='clientinvoice',
            name='invoice_type',
            **_placeholder(models.CharField(max_length=10), ''),
        ),
        migrations.AddField(
            model_name='clientinvoice',
            name='form_code',
            **_placeholder(models.CharField(max_length=20), ''),
        ),
        migrations.AddField(
            model_name='clientinvoice',
            name='invoicing_mode',
            **_placeholder(models.CharField(max_length=10), ''),
        ),
        migrations.AddField(
            model_name='clientinvoice',
            name='has_attachment',
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='clientinvoice',
            index=models.Index(fields=['counterparty_nip', 'client'], name='client_invoice_party_nip_idx'),
        ),
        migrations.AddIndex(
            model_name='clientinvoice',
            index=models.Index(fields=['gross_amount'], name='client_invoice_gross_idx'),
        ),
        migrations.AddIndex(
            model_name='clientinvoice',
            index=models.Index(fields=['net_amount'], name='client_invoice_net_idx'),
        ),
        migrations.AddIndex(
            model_name='clientinvoice',
            index=models.Index(fields=['invoicing_date'], name='client_invoice_ksef_date_idx'),
        ),
        migrations.AddIndex(
            model_name='clientinvoice',
            index=models.Index(fields=['invoice_type', 'subject_type'], name='client_invoice_type_idx'),
        ),
        migrations.AddIndex(
            model_name='clientinvoice',
            index=models.Index(fields=['form_code'], name='client_invoice_form_idx', opclasses=['varchar_pattern_ops']),
        ),
        migrations.RunPython(trigram_indexes, drop_trigram_indexes),
    ]
