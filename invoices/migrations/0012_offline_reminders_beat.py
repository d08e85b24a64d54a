"""Register the offline deadline reminders with django-celery-beat: every hour, at :10.

Hourly because offline deadlines are days, and an invoice issued offline in the morning
whose deadline is the next business day should be reminded about the same day, not the
next. Idempotent, as 0003_sync_beat_schedule: an existing row (perhaps changed by an
operator in the admin) is left alone.
"""

from django.db import migrations

TASK = "invoices.offline_deadline_reminders"
NAME = "Przypomnienia o terminach faktur offline (co godzinę)"
CRONTAB = {"minute": "10", "hour": "*", "day_of_week": "*"}


def register(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        day_of_month="*", month_of_year="*", timezone="Europe/Warsaw", **CRONTAB
    )
    if not PeriodicTask.objects.filter(task=TASK).exists():
        PeriodicTask.objects.create(task=TASK, name=NAME, crontab=crontab, enabled=True)


def unregister(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0010_offline"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(register, unregister)]
