from django.urls import path

from certificates import views

app_name = "certificates"

urlpatterns = [
    path("clients/<int:pk>/", views.client_credentials, name="client"),
    path("clients/<int:pk>/access-model/", views.access_model_set, name="access_model"),
    path("clients/<int:pk>/upload/<str:kind>/", views.credential_upload, name="upload"),
    path("clients/<int:pk>/links/", views.upload_link_create, name="link_create"),
    path(
        "clients/<int:client_pk>/check/<int:pk>/",
        views.credential_check_start,
        name="check_start",
    ),
    path("office/", views.office_credentials, name="office"),
    path("office/upload/", views.office_credential_upload, name="office_upload"),
    path("<int:pk>/", views.credential_detail, name="detail"),
    path("<int:pk>/delete/", views.credential_delete, name="delete"),
    path("checks/<int:pk>/", views.check_status, name="check"),
    path("links/<int:pk>/revoke/", views.upload_link_revoke, name="link_revoke"),
    # Public (no login): the client's single-use upload page.
    path("u/<str:token>/", views.self_upload, name="self_upload"),
]
