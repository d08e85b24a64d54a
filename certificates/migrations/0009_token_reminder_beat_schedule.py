"""Register the weekly token reminder with django-celery-beat's database scheduler.

The job runs every day at 07:15 (after the 07:00 expiry reminders, whose e-mails it defers
to) and sends each client at most one token reminder per week; running it daily lets a
client that starts relying on a token mid-week get its reminder that week. Idempotent, as
0003_reminder_beat_schedule: the row is found by task name, so an operator's later change
of the time stays.
"""

from django.db import migrations

NAME = "Przypomnienia o końcu tokenów KSeF 31.12.2026 (raz w tygodniu na klienta)"
TASK = "certificates.token_reminders_weekly"
CRONTAB = {"minute": "15", "hour": "7", "day_of_week": "*"}


def register(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        day_of_month="*", month_of_year="*", timezone="Europe/Warsaw", **CRONTAB
    )
    PeriodicTask.objects.update_or_create(
        task=TASK, defaults={"name": NAME, "crontab": crontab, "enabled": True}
    )


def unregister(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("certificates", "0008_token_reminders"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(register, unregister)]
