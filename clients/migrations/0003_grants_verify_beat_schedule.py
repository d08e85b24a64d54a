"""Register the daily live verification of grants with django-celery-beat.

Idempotent: the row is found by task name and updated, so running the migration again (or
on a database where an operator already created it) never duplicates the schedule. The
time (06:15 Europe/Warsaw, before the office opens) is a default; an operator changes it,
switches to an interval or disables it in the admin (django-celery-beat's Periodic tasks),
and a re-run keeps that choice because an existing row is left alone.
"""

from django.db import migrations

TASK = "clients.grants_verify_all"
NAME = "Weryfikacja uprawnień KSeF wszystkich klientów (codziennie)"


def register(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="15",
        hour="6",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="Europe/Warsaw",
    )
    if not PeriodicTask.objects.filter(task=TASK).exists():
        PeriodicTask.objects.create(task=TASK, name=NAME, crontab=crontab, enabled=True)


def unregister(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0002_grant_tracking"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(register, unregister)]
