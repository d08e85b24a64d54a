from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Biuro i personel")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from portal.middleware import stamp_session_touch

        # A fresh login's session is saved anyway: record it as touched, so the first pages
        # after it do not write the session again (SessionIdleMiddleware).
        user_logged_in.connect(stamp_session_touch, dispatch_uid="portal.session_touch")
