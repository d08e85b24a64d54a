from django.urls import path

from certificates.renewal import views

app_name = "renewal"

urlpatterns = [
    path("", views.office_settings, name="office"),
    path("clients/<int:pk>/", views.client_renewal, name="client"),
    path("clients/<int:pk>/choice/", views.client_choice, name="client_choice"),
    path("credentials/<int:pk>/run/", views.renewal_run_now, name="run"),
]
