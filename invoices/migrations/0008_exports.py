"""Bulk invoice exports (ExportJob), the daily e-mail of new purchase invoices (opt-in per
member, with its exactly-once ledger), and their beat schedules.

The schedules are found by task name and created only where missing, so an operator's
change in the admin survives a re-run.
"""

import django.db.models.deletion
from django.db import migrations, models

SCHEDULES = [
    # (periodic task name, task, crontab fields)
    (
        "Codzienny e-mail o nowych fakturach zakupowych (7:00)",
        "invoices.digest_daily",
        {"minute": "0", "hour": "7", "day_of_week": "*"},
    ),
    (
        "Sprzątanie eksportów faktur (co godzinę)",
        "invoices.exports_cleanup",
        {"minute": "17", "hour": "*", "day_of_week": "*"},
    ),
]


def register(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, fields in SCHEDULES:
        if PeriodicTask.objects.filter(task=task).exists():
            continue
        crontab, _ = CrontabSchedule.objects.get_or_create(
            day_of_month="*", month_of_year="*", timezone="Europe/Warsaw", **fields
        )
        PeriodicTask.objects.create(task=task, name=name, crontab=crontab, enabled=True)


def unregister(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task__in=[task for _, task, _ in SCHEDULES]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('clients', '0006_grants_moved_to_grants_app'),
        ('invoices', '0005_invoice_correction'),
        ('invoices', '0007_list_columns_on_links'),
        ('portal', '0001_initial'),
        ('django_celery_beat', '0019_alter_periodictasks_options'),
    ]

    operations = [
        migrations.CreateModel(
            name='InvoiceDigestSubscription',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('daily_purchases', models.BooleanField(default=False, verbose_name='codzienny e-mail o nowych fakturach zakupowych moich klientów')),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('membership', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='invoice_digest', to='portal.membership')),
            ],
            options={
                'verbose_name': 'powiadomienie o fakturach',
                'verbose_name_plural': 'powiadomienia o fakturach',
            },
        ),
        migrations.CreateModel(
            name='ExportJob',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('zip', 'Archiwum ZIP (XML i PDF)'), ('csv', 'Rejestr CSV'), ('xlsx', 'Rejestr XLSX')], max_length=8, verbose_name='rodzaj')),
                ('params', models.JSONField(blank=True, default=dict)),
                ('language', models.CharField(default='pl', max_length=10)),
                ('state', models.CharField(choices=[('queued', 'W kolejce'), ('running', 'W przygotowaniu'), ('done', 'Gotowy'), ('failed', 'Nieudany')], default='queued', max_length=10)),
                ('total', models.PositiveIntegerField(default=0)),
                ('done', models.PositiveIntegerField(default=0)),
                ('file_name', models.CharField(blank=True, max_length=200)),
                ('file_size', models.PositiveBigIntegerField(blank=True, null=True)),
                ('error_code', models.CharField(blank=True, max_length=40)),
                ('error_params', models.JSONField(blank=True, default=dict)),
                ('claim_token', models.CharField(blank=True, max_length=32)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('heartbeat_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('client', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='invoice_exports', to='clients.client')),
                ('office', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='invoice_exports', to='portal.office')),
                ('requested_by', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='invoice_exports', to='portal.membership')),
            ],
            options={
                'verbose_name': 'eksport faktur',
                'verbose_name_plural': 'eksporty faktur',
                'indexes': [models.Index(fields=['requested_by', '-created_at'], name='export_job_member_idx'), models.Index(fields=['state', 'created_at'], name='export_job_state_idx')],
            },
        ),
        migrations.CreateModel(
            name='InvoiceDigestSent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('status', models.CharField(choices=[('claimed', 'W trakcie wysyłki'), ('sent', 'Wysłano'), ('failed', 'Nie udało się wysłać (ponowimy)')], max_length=10)),
                ('claim_token', models.CharField(max_length=32)),
                ('claimed_at', models.DateTimeField()),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('invoice_count', models.PositiveIntegerField(default=0)),
                ('client_count', models.PositiveIntegerField(default=0)),
                ('last_error', models.CharField(blank=True, max_length=500)),
                ('membership', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='invoice_digests_sent', to='portal.membership')),
            ],
            options={
                'verbose_name': 'wysłany e-mail o fakturach',
                'verbose_name_plural': 'wysłane e-maile o fakturach',
                'constraints': [models.UniqueConstraint(fields=('membership', 'day'), name='invoice_digest_once')],
            },
        ),
        migrations.RunPython(register, unregister),
    ]
