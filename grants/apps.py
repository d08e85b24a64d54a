from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GrantsConfig(AppConfig):
    name = "grants"
    verbose_name = _("Uprawnienia KSeF")

    def ready(self) -> None:
        # Staff management lives in the base layer (portal) and cannot import this app; it
        # asks the apps above it what a departing person still holds.
        from grants.departure import departure_followup_url
        from portal.departure import register_departure_followup

        register_departure_followup(departure_followup_url)
