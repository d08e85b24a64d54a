from django.urls import path

from certificates import views_expiry

app_name = "expiry"

urlpatterns = [
    path("", views_expiry.dashboard, name="dashboard"),
    path("export.csv", views_expiry.export_csv, name="export"),
    path("settings/", views_expiry.reminder_settings, name="settings"),
    path("clients/<int:pk>/reminders/", views_expiry.client_reminders, name="client_reminders"),
]
