from django.urls import path

from clients import views

app_name = "clients"

urlpatterns = [
    path("", views.client_list_view, name="list"),
    path("new/", views.client_create_view, name="create"),
    path("import/", views.client_import_view, name="import"),
    path("import/confirm/", views.client_import_confirm_view, name="import_confirm"),
    path("import/example.csv", views.client_import_example_view, name="import_example"),
    path("staff/<int:pk>/handover/", views.client_handover_view, name="handover"),
    path("<int:pk>/", views.client_detail_view, name="detail"),
    path("<int:pk>/edit/", views.client_edit_view, name="edit"),
    path("<int:pk>/archive/", views.client_archive_view, name="archive"),
    path("<int:pk>/zaw-fa/", views.prerequisite_view, name="prerequisite"),
    path("<int:pk>/zaw-fa/seal/", views.prerequisite_seal_view, name="prerequisite_seal"),
    path("<int:pk>/zaw-fa/person/", views.prerequisite_person_view, name="prerequisite_person"),
    path("<int:pk>/zaw-fa/filing/", views.prerequisite_filing_view, name="prerequisite_filing"),
    path("<int:pk>/zaw-fa/confirm/", views.prerequisite_confirm_view, name="prerequisite_confirm"),
]
