"""The Celery application, configured from Django settings (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Packages inside an app that have tasks of their own: the expiry and token reminders, the
# invoice sync, the bulk exports, the daily invoice e-mail, the invoice sender and automatic
# certificate renewal.
app.autodiscover_tasks(
    [
        "certificates.expiry",
        "certificates.renewal",
        "certificates.tokens",
        "invoices.sync",
        "invoices.exports",
        "invoices.digest",
        "invoices.sending",
    ]
)
