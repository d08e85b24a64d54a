"""The corrections index (InvoiceCorrection), filled for the corrections already stored.

Only invoices of a correction type are read, a thousand at a time, so the step is quick
on a database of ordinary invoices; `manage.py index_corrections` does the same later.
"""

import django.db.models.deletion
from django.db import migrations, models

CORRECTION_TYPES = ["Kor", "KorZal", "KorRoz", "KorVatRr", "KorPef"]


def index_existing(apps, schema_editor):
    from invoices.documents.corrections import corrected_references

    Invoice = apps.get_model("invoices", "Invoice")
    InvoiceCorrection = apps.get_model("invoices", "InvoiceCorrection")
    corrections = Invoice.objects.filter(invoice_type__in=CORRECTION_TYPES).only("id", "xml")
    rows = []
    for invoice in corrections.iterator(chunk_size=1000):
        for reference in corrected_references(bytes(invoice.xml)):
            rows.append(
                InvoiceCorrection(
                    correction_id=invoice.id,
                    position=reference.position,
                    corrected_ksef_number=reference.ksef_number[:40],
                    corrected_number=reference.number,
                    corrected_issue_date=reference.issue_date,
                )
            )
        if len(rows) >= 1000:
            InvoiceCorrection.objects.bulk_create(rows)
            rows = []
    InvoiceCorrection.objects.bulk_create(rows)


class Migration(migrations.Migration):

    dependencies = [
        ('invoices', '0004_invoice_xml_lz4'),
    ]

    operations = [
        migrations.CreateModel(
            name='InvoiceCorrection',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField()),
                ('corrected_ksef_number', models.CharField(blank=True, max_length=40, verbose_name='numer KSeF faktury korygowanej')),
                ('corrected_number', models.CharField(blank=True, max_length=256, verbose_name='numer faktury korygowanej')),
                ('corrected_issue_date', models.DateField(blank=True, null=True, verbose_name='data wystawienia faktury korygowanej')),
                ('correction', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='corrected_references', to='invoices.invoice')),
            ],
            options={
                'verbose_name': 'faktura korygowana',
                'verbose_name_plural': 'faktury korygowane',
                'indexes': [models.Index(fields=['corrected_ksef_number'], name='invoice_corrected_ksef_idx')],
                'constraints': [models.UniqueConstraint(fields=('correction', 'position'), name='invoice_correction_once')],
            },
        ),
        migrations.RunPython(index_existing, migrations.RunPython.noop, elidable=True),
    ]
