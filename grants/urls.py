from django.urls import path

from grants import views

app_name = "grants"

urlpatterns = [
    path("clients/<int:pk>/", views.client_grants, name="client"),
    path("clients/<int:pk>/direct/", views.grant_direct, name="request"),
    path("clients/<int:pk>/indirect/", views.grant_indirect, name="request_indirect"),
    path("clients/<int:pk>/check/", views.check_start, name="check_start"),
    path("checks/<int:pk>/", views.check_status, name="check"),
    path("<int:pk>/", views.grant_status, name="status"),
    path("<int:pk>/revoke/", views.grant_revoke, name="revoke"),
    path("<int:pk>/retry/", views.grant_retry, name="retry"),
    path("staff/<int:pk>/departure/", views.departure, name="departure"),
    path("departures/<int:pk>/", views.departure_job, name="departure_job"),
]
