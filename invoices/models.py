"""Per-client invoice synchronisation state (the sync engine comes with its own issue)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from clients.models import Client


class InvoiceSyncState(models.Model):
    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="sync_state")
    last_success_at = models.DateTimeField(
        _("ostatnia udana synchronizacja"), null=True, blank=True
    )
    last_error = models.TextField(_("ostatni błąd"), blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("stan synchronizacji")
        verbose_name_plural = _("stany synchronizacji")

    def __str__(self) -> str:
        return f"sync {self.client}"
