from django.urls import path

from invoices import document_views, export_views, list_views, views
from invoices.digest import views as digest_views
from invoices.sending import offline_views
from invoices.sending import views as sending_views

app_name = "invoices"

urlpatterns = [
    path("", list_views.invoice_list, name="list"),
    path("clients/<int:pk>/", list_views.client_invoices, name="client"),
    path("clients/<int:pk>/sync/", views.client_sync, name="client_sync"),
    path("clients/<int:pk>/sync/now/", views.client_sync_now, name="client_sync_now"),
    path(
        "clients/<int:pk>/sync/settings/", views.client_sync_settings, name="client_sync_settings"
    ),
    path("settings/", views.office_settings, name="settings"),
    path("<int:pk>/", document_views.invoice_detail, name="detail"),
    path("<int:pk>/xml/", document_views.invoice_xml, name="xml"),
    path("<int:pk>/pdf/", document_views.invoice_pdf, name="pdf"),
    path("exports/", export_views.export_list, name="export_list"),
    path("exports/start/", export_views.export_start, name="export_start"),
    path("exports/<int:pk>/", export_views.export_status, name="export_status"),
    path("exports/<int:pk>/download/", export_views.export_download, name="export_download"),
    path("notifications/", digest_views.notifications, name="notifications"),
    path("clients/<int:pk>/send/", sending_views.send_upload, name="send"),
    path("clients/<int:pk>/send/<int:job_pk>/", sending_views.send_job, name="send_job"),
    path(
        "clients/<int:pk>/send/<int:job_pk>/confirm/",
        sending_views.send_confirm,
        name="send_confirm",
    ),
    path(
        "clients/<int:pk>/send/invoices/<int:invoice_pk>/upo/",
        sending_views.outgoing_upo,
        name="outgoing_upo",
    ),
    path("offline/", offline_views.offline_dashboard, name="offline"),
    path(
        "clients/<int:pk>/send/invoices/<int:invoice_pk>/",
        offline_views.outgoing_view,
        name="outgoing_view",
    ),
    path(
        "clients/<int:pk>/send/invoices/<int:invoice_pk>/pdf/",
        offline_views.outgoing_pdf,
        name="outgoing_pdf",
    ),
    path(
        "clients/<int:pk>/send/<int:job_pk>/cancel/",
        sending_views.send_cancel,
        name="send_cancel",
    ),
]
