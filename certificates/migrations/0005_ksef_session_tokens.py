
import django.db.models.deletion
import django_cryptography.fields
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('certificates', '0004_credential_source_demo'),
    ]

    operations = [
        migrations.CreateModel(
            name='KsefSessionTokens',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('context_nip', models.CharField(max_length=10)),
                ('access_token', django_cryptography.fields.encrypt(models.TextField(blank=True, default=''))),
                ('access_valid_until', models.DateTimeField()),
                ('refresh_token', django_cryptography.fields.encrypt(models.TextField(blank=True, default=''))),
                ('refresh_valid_until', models.DateTimeField(blank=True, null=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('credential', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='session_tokens', to='certificates.credential')),
            ],
            options={
                'verbose_name': 'sesja KSeF (tokeny)',
                'verbose_name_plural': 'sesje KSeF (tokeny)',
                'constraints': [models.UniqueConstraint(fields=('credential', 'context_nip'), name='session_tokens_once')],
            },
        ),
    ]
