from django.urls import path

from invoices import document_views, views

app_name = "invoices"

urlpatterns = [
    path("clients/<int:pk>/sync/", views.client_sync, name="client_sync"),
    path("clients/<int:pk>/sync/now/", views.client_sync_now, name="client_sync_now"),
    path(
        "clients/<int:pk>/sync/settings/", views.client_sync_settings, name="client_sync_settings"
    ),
    path("settings/", views.office_settings, name="settings"),
    path("<int:pk>/", document_views.invoice_detail, name="detail"),
    path("<int:pk>/xml/", document_views.invoice_xml, name="xml"),
    path("<int:pk>/pdf/", document_views.invoice_pdf, name="pdf"),
]
