
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


MODELS = ["permissiongrant", "grantscheck", "officegrantssnapshot", "staffdeparturejob"]


def _relabel(apps, old, new):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        if not ContentType.objects.filter(app_label=new, model=model).exists():
            ContentType.objects.filter(app_label=old, model=model).update(app_label=new)


def move_content_types(apps, schema_editor):
    _relabel(apps, "clients", "grants")


def move_content_types_back(apps, schema_editor):
    _relabel(apps, "grants", "clients")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('clients', '0006_grants_moved_to_grants_app'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('portal', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # Takes over the tables the `clients` app created (clients_permissiongrant, ...): state
    # only, no table is created, renamed or copied. The content types follow, so admin
    # permissions and log entries keep pointing at the same models.
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='OfficeGrantsSnapshot',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('taken_at', models.DateTimeField()),
                        ('entity_grants', models.JSONField(default=list)),
                        ('indirect_grants', models.JSONField(default=list)),
                        ('office', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='grants_snapshot', to='portal.office')),
                    ],
                    options={
                        'verbose_name': 'odczyt uprawnień w kontekście biura',
                        'verbose_name_plural': 'odczyty uprawnień w kontekście biura',
                        'db_table': 'clients_officegrantssnapshot',
                    },
                ),
                migrations.CreateModel(
                    name='StaffDepartureJob',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('state', models.CharField(choices=[('queued', 'W kolejce'), ('running', 'W toku'), ('done', 'Zakończone')], default='queued', max_length=10)),
                        ('results', models.JSONField(blank=True, default=list)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('heartbeat_at', models.DateTimeField(blank=True, null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('membership', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='departure_jobs', to='portal.membership')),
                        ('office', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='departure_jobs', to='portal.office')),
                        ('requested_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'odebranie uprawnień odchodzącego pracownika',
                        'verbose_name_plural': 'odebrania uprawnień odchodzących pracowników',
                        'db_table': 'clients_staffdeparturejob',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='GrantsCheck',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('state', models.CharField(choices=[('queued', 'W kolejce'), ('running', 'Sprawdzanie'), ('done', 'Sprawdzono'), ('failed', 'Nie udało się sprawdzić')], default='queued', max_length=10)),
                        ('scheduled', models.BooleanField(default=False)),
                        ('message', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('client', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='grants_checks', to='clients.client')),
                        ('requested_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'sprawdzenie uprawnień',
                        'verbose_name_plural': 'sprawdzenia uprawnień',
                        'db_table': 'clients_grantscheck',
                        'ordering': ['-created_at', '-id'],
                        'indexes': [models.Index(fields=['client', '-created_at'], name='clients_gra_client__30bce5_idx')],
                    },
                ),
                migrations.CreateModel(
                    name='PermissionGrant',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('grantee_kind', models.CharField(choices=[('person', 'Pracownik (osoba)'), ('entity', 'Biuro (podmiot)')], max_length=10)),
                        ('grantee_identifier_type', models.CharField(max_length=10)),
                        ('grantee_identifier', models.CharField(max_length=64)),
                        ('mode', models.CharField(choices=[('direct', 'Bezpośrednie (w kontekście klienta)'), ('indirect', 'Pośrednie (od biura)')], default='direct', max_length=10)),
                        ('permissions', models.JSONField(default=list)),
                        ('can_delegate', models.BooleanField(default=False)),
                        ('state', models.CharField(choices=[('requested', 'Zlecone'), ('granted', 'Nadane'), ('failed', 'Niepowodzenie'), ('revoking', 'Odbieranie'), ('revoked', 'Odebrane')], default='requested', max_length=10)),
                        ('operation_reference', models.CharField(blank=True, max_length=64)),
                        ('revoke_operation_reference', models.CharField(blank=True, max_length=64)),
                        ('ksef_permission_ids', models.JSONField(blank=True, default=dict)),
                        ('failure_code', models.CharField(blank=True, max_length=20)),
                        ('failure_message', models.TextField(blank=True)),
                        ('requested_at', models.DateTimeField(auto_now_add=True)),
                        ('completed_at', models.DateTimeField(blank=True, null=True)),
                        ('verification', models.CharField(blank=True, choices=[('', 'Nie sprawdzono'), ('verified', 'Potwierdzone w KSeF'), ('missing', 'Brak w KSeF'), ('revoked_outside', 'Odebrane poza portalem')], default='', max_length=20)),
                        ('verified_at', models.DateTimeField(blank=True, null=True)),
                        ('missing_notified_at', models.DateTimeField(blank=True, null=True)),
                        ('submission_claimed_at', models.DateTimeField(blank=True, null=True)),
                        ('submission_uncertain', models.BooleanField(default=False)),
                        ('submission_attempts', models.PositiveSmallIntegerField(default=0)),
                        ('revoke_operation_references', models.JSONField(blank=True, default=dict)),
                        ('progress_note', models.CharField(blank=True, max_length=300)),
                        ('client', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='grants', to='clients.client')),
                        ('grantee_membership', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='grants', to='portal.membership')),
                        ('requested_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'uprawnienie KSeF',
                        'verbose_name_plural': 'uprawnienia KSeF',
                        'db_table': 'clients_permissiongrant',
                        'ordering': ['-requested_at', '-id'],
                        'indexes': [models.Index(fields=['client', 'state'], name='clients_per_client__d1a0f6_idx')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
