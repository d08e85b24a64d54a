"""The office (tenant), its staff memberships and roles, and the append-only audit log."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.validators import validate_nip, validate_pesel


class Office(models.Model):
    """An accounting office: the tenant every other object belongs to."""

    class KsefEnvironment(models.TextChoices):
        SIMULATOR = "simulator", _("Symulator (wbudowany)")
        TEST = "test", _("Testowe (TE)")
        DEMO = "demo", _("Przedprodukcyjne (DEMO)")
        PRODUCTION = "production", _("Produkcyjne")

    name = models.CharField(_("nazwa"), max_length=200)
    nip = models.CharField(_("NIP"), max_length=10, unique=True, validators=[validate_nip])
    ksef_environment = models.CharField(
        _("środowisko KSeF"),
        max_length=20,
        choices=KsefEnvironment.choices,
        default=KsefEnvironment.SIMULATOR,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("biuro")
        verbose_name_plural = _("biura")

    def __str__(self) -> str:
        return f"{self.name} (NIP {self.nip})"

    @property
    def is_production(self) -> bool:
        return self.ksef_environment == self.KsefEnvironment.PRODUCTION


class Membership(models.Model):
    """A user's place in exactly one office, with the role that decides what they may do."""

    class Role(models.TextChoices):
        ADMIN = "admin", _("Administrator")
        MANAGER = "manager", _("Kierownik")
        ACCOUNTANT = "accountant", _("Księgowy")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    office = models.ForeignKey(Office, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(_("rola"), max_length=20, choices=Role.choices)
    # KSeF grants permissions to natural persons by PESEL (or NIP): later steps use these.
    pesel = models.CharField(_("PESEL"), max_length=11, blank=True, validators=[validate_pesel])
    nip = models.CharField(_("NIP osoby"), max_length=10, blank=True, validators=[validate_nip])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("członkostwo")
        verbose_name_plural = _("członkostwa")
        indexes = [models.Index(fields=["office", "role"])]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.get_role_display()})"

    @property
    def display_name(self) -> str:
        return self.user.get_full_name() or self.user.get_username()

    @property
    def audit_repr(self) -> str:
        return self.display_name  # no role label: the log is read in either language

    @property
    def is_active(self) -> bool:
        return bool(self.user.is_active)

    @property
    def sees_all_clients(self) -> bool:
        return self.role in (self.Role.ADMIN, self.Role.MANAGER)


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("The audit log is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("The audit log is append-only.")


class AuditEvent(models.Model):
    """One thing that happened: who, in which office, did what to which object, and when.

    Append-only: rows are never updated or deleted (the custody log of credentials relies
    on it), which the model enforces for single rows and for querysets.
    """

    office = models.ForeignKey(Office, on_delete=models.PROTECT, related_name="audit_events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # For actions taken by nobody logged in: the system (a scheduled task) or a client link.
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(_("czynność"), max_length=80, db_index=True)
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)
    # The client the event concerns (the object itself, or the object's client), for the
    # log's client filter. A plain id: the base layer declares no relation to clients.
    client_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("zdarzenie audytowe")
        verbose_name_plural = _("dziennik zdarzeń")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["office", "-created_at"]),
            # The audit filter's list of actions walks this index (portal.selectors).
            models.Index(fields=["office", "action"], name="portal_audit_office_action"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.object_repr}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("The audit log is append-only.")
