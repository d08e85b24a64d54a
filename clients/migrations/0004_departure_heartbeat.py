"""A heartbeat on staff departure jobs, and a beat entry that resumes abandoned ones.

Jobs already running get their start time as heartbeat, so one a crash left behind before
this migration is resumed like any other. The schedule row (every 10 minutes) is found by
task name: a re-run never duplicates it and keeps an operator's changes.
"""

from django.db import migrations, models
from django.db.models import F

TASK = "clients.staff_departures_resume"
NAME = "Wznawianie przerwanego odbierania uprawnień odchodzących pracowników (co 10 minut)"


def backfill_heartbeat(apps, schema_editor):
    job = apps.get_model("clients", "StaffDepartureJob")
    job.objects.filter(state="running", heartbeat_at__isnull=True).update(
        heartbeat_at=F("started_at")
    )


def register(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=10, period="minutes")
    if not PeriodicTask.objects.filter(task=TASK).exists():
        PeriodicTask.objects.create(task=TASK, name=NAME, interval=every, enabled=True)


def unregister(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0003_grants_verify_beat_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="staffdeparturejob",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(backfill_heartbeat, migrations.RunPython.noop),
        migrations.RunPython(register, unregister),
    ]
