from pathlib import Path

from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class InvoicesConfig(AppConfig):
    name = "invoices"
    verbose_name = _("Faktury")

    def ready(self) -> None:
        # A malformed KSEF_RATE_LIMIT_URL must stop the web and every worker at start-up,
        # not fail the first sync task (or, worse, leave workers on counters they do not
        # share).
        from invoices.sync.limiter import check_store_url

        check_store_url(settings.KSEF_RATE_LIMIT_URL, base_dir=Path(settings.BASE_DIR))
