"""The invoice lists: "new since I last looked" (InvoiceListVisit) and the indexes the
lists filter, sort and search with.

On PostgreSQL the free-text search (`icontains`: UPPER(column) LIKE '%...%', and NIPs with
LIKE) is served by pg_trgm GIN indexes; the extension ships with PostgreSQL's contrib
package and is created here (the migrating role must be allowed to: a superuser, or the
database owner on PostgreSQL 13+ where pg_trgm is a trusted extension). Other databases
skip this part and search by scanning.
"""

import django.db.models.deletion
from django.db import migrations, models

# (index name, indexed expression): exactly the expressions Django's lookups generate.
TRIGRAM_INDEXES = [
    ("invoice_number_trgm", 'UPPER("invoice_number"::text)'),
    ("invoice_ksef_number_trgm", 'UPPER("ksef_number"::text)'),
    ("invoice_seller_name_trgm", 'UPPER("seller_name"::text)'),
    ("invoice_buyer_name_trgm", 'UPPER("buyer_name"::text)'),
    ("invoice_seller_nip_trgm", '("seller_nip"::text)'),
    ("invoice_buyer_identifier_trgm", '("buyer_identifier"::text)'),
]


def trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in TRIGRAM_INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON invoices_invoice "
            f"USING gin (({expression}) gin_trgm_ops)"
        )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _expression in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ('clients', '0006_grants_moved_to_grants_app'),
        ('invoices', '0004_invoice_xml_lz4'),
        ('portal', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='InvoiceListVisit',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('role', models.CharField(blank=True, max_length=10)),
                ('baseline', models.DateTimeField(blank=True, null=True)),
                ('last_seen_at', models.DateTimeField()),
            ],
            options={
                'verbose_name': 'ostatnie przejrzenie listy faktur',
                'verbose_name_plural': 'ostatnie przejrzenia list faktur',
            },
        ),
        migrations.AddIndex(
            model_name='clientinvoice',
            index=models.Index(fields=['-issue_date', '-id'], name='client_invoice_newest_idx'),
        ),
        migrations.AddIndex(
            model_name='clientinvoice',
            index=models.Index(fields=['stored_at'], name='client_invoice_stored_idx'),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(fields=['gross_amount'], name='invoice_gross_idx'),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(fields=['net_amount'], name='invoice_net_idx'),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(fields=['invoicing_date'], name='invoice_invoicing_date_idx'),
        ),
        migrations.AddField(
            model_name='invoicelistvisit',
            name='client',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='clients.client'),
        ),
        migrations.AddField(
            model_name='invoicelistvisit',
            name='membership',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='invoice_list_visits', to='portal.membership'),
        ),
        migrations.AddConstraint(
            model_name='invoicelistvisit',
            constraint=models.UniqueConstraint(condition=models.Q(('client__isnull', False)), fields=('membership', 'client', 'role'), name='invoice_list_visit_client_once'),
        ),
        migrations.AddConstraint(
            model_name='invoicelistvisit',
            constraint=models.UniqueConstraint(condition=models.Q(('client__isnull', True)), fields=('membership', 'role'), name='invoice_list_visit_office_once'),
        ),
        migrations.RunPython(trigram_indexes, drop_trigram_indexes),
    ]
