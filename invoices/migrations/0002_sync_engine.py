
import datetime
import django.db.models.deletion
import django_cryptography.fields
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('clients', '0006_grants_moved_to_grants_app'),
        ('invoices', '0001_initial'),
        ('portal', '0001_initial'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='invoicesyncstate',
            name='last_error',
        ),
        migrations.AddField(
            model_name='invoicesyncstate',
            name='backfill_from',
            field=models.DateField(blank=True, null=True, verbose_name='pobieraj historię od'),
        ),
        migrations.AddField(
            model_name='invoicesyncstate',
            name='last_error_code',
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AddField(
            model_name='invoicesyncstate',
            name='last_error_params',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name='invoicesyncstate',
            name='paused',
            field=models.BooleanField(default=False, verbose_name='wstrzymana'),
        ),
        migrations.CreateModel(
            name='Invoice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('ksef_number', models.CharField(max_length=40, unique=True, verbose_name='numer KSeF')),
                ('invoice_number', models.CharField(max_length=256, verbose_name='numer faktury')),
                ('form_code', models.CharField(max_length=20, verbose_name='schemat')),
                ('invoice_type', models.CharField(max_length=10, verbose_name='rodzaj')),
                ('invoicing_mode', models.CharField(max_length=10, verbose_name='tryb')),
                ('issue_date', models.DateField(verbose_name='data wystawienia')),
                ('invoicing_date', models.DateTimeField(verbose_name='data przyjęcia w KSeF')),
                ('acquisition_date', models.DateTimeField(verbose_name='data nadania numeru KSeF')),
                ('permanent_storage_date', models.DateTimeField(verbose_name='data trwałego zapisu')),
                ('seller_nip', models.CharField(max_length=10, verbose_name='NIP sprzedawcy')),
                ('seller_name', models.CharField(blank=True, max_length=512, verbose_name='sprzedawca')),
                ('buyer_identifier_type', models.CharField(blank=True, max_length=10)),
                ('buyer_identifier', models.CharField(blank=True, max_length=50, verbose_name='identyfikator nabywcy')),
                ('buyer_name', models.CharField(blank=True, max_length=512, verbose_name='nabywca')),
                ('net_amount', models.DecimalField(decimal_places=2, max_digits=18, verbose_name='netto')),
                ('vat_amount', models.DecimalField(decimal_places=2, max_digits=18, verbose_name='VAT')),
                ('gross_amount', models.DecimalField(decimal_places=2, max_digits=18, verbose_name='brutto')),
                ('currency', models.CharField(max_length=3, verbose_name='waluta')),
                ('is_self_invoicing', models.BooleanField(default=False)),
                ('has_attachment', models.BooleanField(default=False)),
                ('invoice_hash', models.CharField(max_length=44)),
                ('hash_of_corrected_invoice', models.CharField(blank=True, max_length=44)),
                ('metadata', models.JSONField(default=dict)),
                ('xml', models.BinaryField()),
                ('size', models.PositiveIntegerField()),
                ('stored_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'verbose_name': 'faktura',
                'verbose_name_plural': 'faktury',
                'indexes': [models.Index(fields=['seller_nip', 'issue_date'], name='invoice_seller_issue_idx'), models.Index(fields=['issue_date'], name='invoice_issue_idx')],
            },
        ),
        migrations.CreateModel(
            name='OfficeSyncSettings',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('subject_types', models.JSONField(default=list, verbose_name='rodzaje faktur')),
                ('backfill_from', models.DateField(default=datetime.date(2026, 2, 1), verbose_name='pobieraj historię od')),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('office', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='sync_settings', to='portal.office')),
            ],
            options={
                'verbose_name': 'ustawienia synchronizacji biura',
                'verbose_name_plural': 'ustawienia synchronizacji biur',
            },
        ),
        migrations.CreateModel(
            name='ClientInvoice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('subject_type', models.CharField(choices=[('Subject1', 'Sprzedaż (Podmiot1)'), ('Subject2', 'Zakupy (Podmiot2)'), ('Subject3', 'Podmiot trzeci (Podmiot3)'), ('SubjectAuthorized', 'Podmiot upoważniony')], max_length=20)),
                ('issue_date', models.DateField()),
                ('stored_at', models.DateTimeField(auto_now_add=True)),
                ('client', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='invoice_links', to='clients.client')),
                ('invoice', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='client_links', to='invoices.invoice')),
            ],
            options={
                'verbose_name': 'faktura klienta',
                'verbose_name_plural': 'faktury klientów',
                'indexes': [models.Index(fields=['client', 'subject_type', '-issue_date'], name='client_invoice_list_idx')],
                'constraints': [models.UniqueConstraint(fields=('client', 'invoice', 'subject_type'), name='client_invoice_once')],
            },
        ),
        migrations.CreateModel(
            name='SyncCursor',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('subject_type', models.CharField(choices=[('Subject1', 'Sprzedaż (Podmiot1)'), ('Subject2', 'Zakupy (Podmiot2)'), ('Subject3', 'Podmiot trzeci (Podmiot3)'), ('SubjectAuthorized', 'Podmiot upoważniony')], max_length=20)),
                ('state', models.CharField(choices=[('idle', 'Aktualna'), ('syncing', 'Synchronizacja'), ('backfilling', 'Pobieranie historii'), ('waiting', 'Czeka na limity KSeF'), ('failing', 'Błąd')], default='idle', max_length=12)),
                ('high_water_mark', models.DateTimeField(blank=True, null=True)),
                ('backfill_from', models.DateTimeField(blank=True, null=True)),
                ('backfill_until', models.DateTimeField(blank=True, null=True)),
                ('backfill_next_to', models.DateTimeField(blank=True, null=True)),
                ('backfill_window_from', models.DateTimeField(blank=True, null=True)),
                ('backfill_windows_total', models.PositiveIntegerField(default=0)),
                ('backfill_windows_done', models.PositiveIntegerField(default=0)),
                ('backfill_invoices_stored', models.PositiveIntegerField(default=0)),
                ('invoices_stored', models.PositiveIntegerField(default=0)),
                ('export_reference', models.CharField(blank=True, max_length=64)),
                ('export_phase', models.CharField(blank=True, choices=[('incremental', 'bieżąca'), ('backfill', 'historia')], max_length=12)),
                ('export_from', models.DateTimeField(blank=True, null=True)),
                ('export_to', models.DateTimeField(blank=True, null=True)),
                ('export_started_at', models.DateTimeField(blank=True, null=True)),
                ('export_key', django_cryptography.fields.encrypt(models.BinaryField(blank=True, default=b''))),
                ('next_cycle_at', models.DateTimeField(blank=True, null=True)),
                ('next_run_at', models.DateTimeField(blank=True, null=True)),
                ('waiting_until', models.DateTimeField(blank=True, null=True)),
                ('lease_until', models.DateTimeField(blank=True, null=True)),
                ('lease_token', models.CharField(blank=True, max_length=32)),
                ('cycle_started_at', models.DateTimeField(blank=True, null=True)),
                ('last_success_at', models.DateTimeField(blank=True, null=True)),
                ('failures', models.PositiveSmallIntegerField(default=0)),
                ('last_error_code', models.CharField(blank=True, max_length=40)),
                ('last_error_params', models.JSONField(blank=True, default=dict)),
                ('last_error_at', models.DateTimeField(blank=True, null=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('client', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='sync_cursors', to='clients.client')),
            ],
            options={
                'verbose_name': 'kursor synchronizacji',
                'verbose_name_plural': 'kursory synchronizacji',
                'indexes': [models.Index(fields=['next_run_at'], name='sync_cursor_due_idx')],
                'constraints': [models.UniqueConstraint(fields=('client', 'subject_type'), name='sync_cursor_once')],
            },
        ),
    ]
