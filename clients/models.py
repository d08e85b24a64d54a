"""Clients of the office and their ZAW-FA prerequisite."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.models import Membership, Office
from portal.validators import validate_nip


class LegalForm(models.TextChoices):
    SOLE_PROPRIETORSHIP = "jdg", _("Jednoosobowa działalność gospodarcza (JDG)")
    CIVIL_PARTNERSHIP = "sc", _("Spółka cywilna (s.c.)")
    GENERAL_PARTNERSHIP = "sj", _("Spółka jawna (sp.j.)")
    PROFESSIONAL_PARTNERSHIP = "sp", _("Spółka partnerska (sp.p.)")
    LIMITED_PARTNERSHIP = "sk", _("Spółka komandytowa (sp.k.)")
    LIMITED_JOINT_STOCK_PARTNERSHIP = "ska", _("Spółka komandytowo-akcyjna (S.K.A.)")
    LIMITED_LIABILITY_COMPANY = "spzoo", _("Spółka z ograniczoną odpowiedzialnością (sp. z o.o.)")
    JOINT_STOCK_COMPANY = "sa", _("Spółka akcyjna (S.A.)")
    SIMPLE_JOINT_STOCK_COMPANY = "psa", _("Prosta spółka akcyjna (P.S.A.)")
    COOPERATIVE = "coop", _("Spółdzielnia")
    FOUNDATION = "foundation", _("Fundacja")
    ASSOCIATION = "association", _("Stowarzyszenie")
    OTHER = "other", _("Inna forma prawna")


class AccessModel(models.TextChoices):
    UNDECIDED = "", _("Nie wybrano")
    OFFICE = "office", _("Model biura (certyfikat biura + uprawnienia od klienta)")
    CLIENT_CREDENTIAL = "client", _("Poświadczenie klienta (certyfikat lub token klienta)")


class OnboardingStage(models.TextChoices):
    """Where a client stands on the onboarding journey: the first step not yet done.

    Not a stored field: `clients.selectors.clients_with_health` derives it in SQL from the
    prerequisite, credentials, grants and sync state, so it can never go stale.
    """

    PREREQUISITE = "prerequisite", _("ZAW-FA")
    CREDENTIALS = "credentials", _("Poświadczenia")
    GRANTS = "grants", _("Uprawnienia")
    FIRST_SYNC = "first_sync", _("Pierwsza synchronizacja")
    DONE = "done", _("Gotowy")


class Client(models.Model):
    office = models.ForeignKey(Office, on_delete=models.PROTECT, related_name="clients")
    nip = models.CharField(_("NIP"), max_length=10, validators=[validate_nip])
    name = models.CharField(_("nazwa"), max_length=300)
    legal_form = models.CharField(_("forma prawna"), max_length=20, choices=LegalForm.choices)
    has_qualified_seal = models.BooleanField(
        _("ma kwalifikowaną pieczęć elektroniczną z NIP"), default=False
    )
    contact_emails = models.JSONField(_("adresy e-mail do kontaktu"), default=list)
    assigned_accountants = models.ManyToManyField(
        Membership, blank=True, related_name="assigned_clients", verbose_name=_("opiekunowie")
    )
    access_model = models.CharField(
        _("model dostępu do KSeF"),
        max_length=10,
        choices=AccessModel.choices,
        default=AccessModel.UNDECIDED,
        blank=True,
    )
    is_archived = models.BooleanField(_("zarchiwizowany"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("klient")
        verbose_name_plural = _("klienci")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["office", "nip"], name="client_nip_unique_per_office")
        ]
        indexes = [models.Index(fields=["office", "is_archived", "name"])]

    def __str__(self) -> str:
        return f"{self.name} (NIP {self.nip})"

    @property
    def is_sole_proprietor(self) -> bool:
        return self.legal_form == LegalForm.SOLE_PROPRIETORSHIP


class Prerequisite(models.Model):
    """The ZAW-FA prerequisite of one client: whether it must be filed, and its progress.

    A company without a qualified seal must file ZAW-FA at its tax office, naming a natural
    person who will administer its KSeF permissions; only `not_required` and `confirmed`
    unlock the credential step.
    """

    class State(models.TextChoices):
        NOT_REQUIRED = "not_required", _("Niewymagany")
        TO_FILE = "to_file", _("Do złożenia")
        FILED = "filed", _("Złożony")
        CONFIRMED = "confirmed", _("Potwierdzony")

    class IdentifierType(models.TextChoices):
        PESEL = "pesel", "PESEL"
        NIP = "nip", "NIP"

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="prerequisite")
    state = models.CharField(_("stan"), max_length=20, choices=State.choices)
    person_first_name = models.CharField(_("imię osoby upoważnionej"), max_length=100, blank=True)
    person_last_name = models.CharField(
        _("nazwisko osoby upoważnionej"), max_length=100, blank=True
    )
    person_identifier_type = models.CharField(
        _("rodzaj identyfikatora"), max_length=5, choices=IdentifierType.choices, blank=True
    )
    person_identifier = models.CharField(_("PESEL lub NIP osoby"), max_length=11, blank=True)
    filed_on = models.DateField(_("data złożenia"), null=True, blank=True)
    tax_office = models.CharField(_("urząd skarbowy"), max_length=200, blank=True)
    confirmed_on = models.DateField(_("data potwierdzenia"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("wymóg ZAW-FA")
        verbose_name_plural = _("wymogi ZAW-FA")

    def __str__(self) -> str:
        return f"ZAW-FA {self.client}: {self.get_state_display()}"

    @property
    def audit_repr(self) -> str:
        return f"ZAW-FA {self.client}"  # the state is in the action and details

    @property
    def unlocks_credentials(self) -> bool:
        return self.state in (self.State.NOT_REQUIRED, self.State.CONFIRMED)
