"""The Celery application, configured from Django settings (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Modules not named tasks.py: the expiry reminders (certificates/tasks_reminders.py).
app.autodiscover_tasks(["certificates"], related_name="tasks_reminders")
