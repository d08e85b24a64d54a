"""Register the invoice sync sweep with django-celery-beat: every 5 minutes.

Each cursor's incremental cycle runs every 15 minutes (KSeF's production cadence per
subject type); sweeping every 5 minutes starts a cycle within minutes of it falling due and
picks up a cursor whose worker died. Idempotent: an existing row (perhaps changed by an
operator in the admin) is left alone.
"""

from django.db import migrations

TASK = "invoices.sync_schedule"
NAME = "Synchronizacja faktur z KSeF (co 5 minut)"


def register(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    if not PeriodicTask.objects.filter(task=TASK).exists():
        PeriodicTask.objects.create(task=TASK, name=NAME, interval=every, enabled=True)


def unregister(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0002_sync_engine"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(register, unregister)]
