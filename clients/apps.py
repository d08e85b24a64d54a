from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClientsConfig(AppConfig):
    name = "clients"
    verbose_name = _("Klienci")

    def ready(self) -> None:
        # Staff management (portal) cannot import this app; it asks what a departing
        # person leaves behind. Registered before the grants app's follow-up (app order).
        from clients.handover import FOLLOWUP_NAME, handover_followup_url
        from portal.departure import register_departure_followup

        register_departure_followup(handover_followup_url, name=FOLLOWUP_NAME)
