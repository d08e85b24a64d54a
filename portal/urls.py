from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dashboard import views as dashboard_views
from portal import views
from portal.throttling import ThrottledPasswordResetView

staff_patterns = [
    path("", views.staff_list, name="list"),
    path("new/", views.staff_create, name="create"),
    path("<int:pk>/role/", views.staff_change_role, name="change_role"),
    path("<int:pk>/invitation/", views.staff_resend_invitation, name="resend_invitation"),
    path("<int:pk>/deactivate/", views.staff_deactivate, name="deactivate"),
    path("<int:pk>/reactivate/", views.staff_reactivate, name="reactivate"),
    path("<int:pk>/unlock/", views.staff_login_unlock, name="unlock"),
]
audit_patterns = [
    path("", views.audit_log, name="list"),
]

urlpatterns = [
    path("", dashboard_views.dashboard, name="dashboard"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    # The reset form sends a limited number of e-mails (portal.throttling); same path as
    # Django's, listed first so it answers.
    path("accounts/password_reset/", ThrottledPasswordResetView.as_view(), name="password_reset"),
    # login, logout (POST only), password change, and password reset; the reset-confirm
    # page is also where invited staff set their first password.
    path("accounts/", include("django.contrib.auth.urls")),
    path("staff/", include((staff_patterns, "staff"))),
    path("audit/", include((audit_patterns, "audit"))),
    path("clients/", include("clients.urls")),
    path("credentials/", include("certificates.urls")),
    path("expiry/", include("certificates.expiry.urls")),
    path("renewal/", include("certificates.renewal.urls")),
    path("grants/", include("grants.urls")),
    path("invoices/", include("invoices.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
]
