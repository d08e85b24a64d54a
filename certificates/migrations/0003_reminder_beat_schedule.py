"""Register the expiry reminders with django-celery-beat's database scheduler.

Idempotent: rows are found by task name and updated, so running the migration again (or on a
database where an operator already created them) never duplicates a schedule. An operator
may later change the times in the admin; a re-run of this migration does not happen on its
own, so their change stays.
"""

from django.db import migrations

SCHEDULES = [
    # (periodic task name, task, crontab fields)
    (
        "Przypomnienia o wygasających poświadczeniach (codziennie)",
        "certificates.reminders_daily",
        {"minute": "0", "hour": "7", "day_of_week": "*"},
    ),
    (
        "Podsumowanie wygasających poświadczeń dla kierowników (co tydzień)",
        "certificates.expiry_digest_weekly",
        {"minute": "30", "hour": "7", "day_of_week": "1"},
    ),
]


def register(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, fields in SCHEDULES:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            day_of_month="*", month_of_year="*", timezone="Europe/Warsaw", **fields
        )
        PeriodicTask.objects.update_or_create(
            task=task, defaults={"name": name, "crontab": crontab, "enabled": True}
        )


def unregister(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task__in=[task for _, task, _ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("certificates", "0002_reminders"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(register, unregister)]
