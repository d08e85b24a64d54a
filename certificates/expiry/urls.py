from django.urls import path

from certificates.expiry import views

app_name = "expiry"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("export.csv", views.export_csv, name="export"),
    path("settings/", views.reminder_settings, name="settings"),
    path("clients/<int:pk>/reminders/", views.client_reminders, name="client_reminders"),
    path("clients/<int:pk>/reminders/send/", views.send_now, name="send_now"),
    path("reminders/", views.upcoming, name="upcoming"),
]
