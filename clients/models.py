"""Clients of the office, their ZAW-FA prerequisite and the KSeF permission grants."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
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
    def unlocks_credentials(self) -> bool:
        return self.state in (self.State.NOT_REQUIRED, self.State.CONFIRMED)


class PermissionGrant(models.Model):
    """A KSeF permission grant the portal requested, or discovered while verifying."""

    class GranteeKind(models.TextChoices):
        PERSON = "person", _("Pracownik (osoba)")
        ENTITY = "entity", _("Biuro (podmiot)")

    class Mode(models.TextChoices):
        DIRECT = "direct", _("Bezpośrednie (w kontekście klienta)")
        INDIRECT = "indirect", _("Pośrednie (od biura)")

    class State(models.TextChoices):
        REQUESTED = "requested", _("Zlecone")
        GRANTED = "granted", _("Nadane")
        FAILED = "failed", _("Niepowodzenie")
        REVOKING = "revoking", _("Odbieranie")
        REVOKED = "revoked", _("Odebrane")

    class Verification(models.TextChoices):
        UNVERIFIED = "", _("Nie sprawdzono")
        VERIFIED = "verified", _("Potwierdzone w KSeF")
        MISSING = "missing", _("Brak w KSeF")
        REVOKED_OUTSIDE = "revoked_outside", _("Odebrane poza portalem")

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="grants")
    grantee_kind = models.CharField(max_length=10, choices=GranteeKind.choices)
    grantee_membership = models.ForeignKey(
        Membership, on_delete=models.SET_NULL, null=True, blank=True, related_name="grants"
    )
    grantee_identifier_type = models.CharField(max_length=10)  # "Pesel" / "Nip" as in KSeF
    grantee_identifier = models.CharField(max_length=64)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.DIRECT)
    permissions = models.JSONField(default=list)  # e.g. ["InvoiceWrite", "InvoiceRead"]
    can_delegate = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=State.choices, default=State.REQUESTED)
    operation_reference = models.CharField(max_length=64, blank=True)
    revoke_operation_reference = models.CharField(max_length=64, blank=True)
    ksef_permission_ids = models.JSONField(default=dict, blank=True)  # scope -> permissionId
    failure_code = models.CharField(max_length=20, blank=True)
    failure_message = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    verification = models.CharField(
        max_length=20, choices=Verification.choices, default=Verification.UNVERIFIED, blank=True
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    missing_notified_at = models.DateTimeField(null=True, blank=True)
    # Grant and revoke POSTs are not idempotent (clients.grants): a worker claims the row
    # before sending, and `submission_uncertain` stays set until KSeF's answer is recorded,
    # so after a timeout, a 5xx or a crash the next attempt looks the grant up first.
    submission_claimed_at = models.DateTimeField(null=True, blank=True)
    submission_uncertain = models.BooleanField(default=False)
    submission_attempts = models.PositiveSmallIntegerField(default=0)
    revoke_operation_references = models.JSONField(default=dict, blank=True)  # id -> ref
    # A temporary problem while the work goes on ("KSeF nie odpowiada, ponowimy...").
    progress_note = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("uprawnienie KSeF")
        verbose_name_plural = _("uprawnienia KSeF")
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["client", "state"])]

    def __str__(self) -> str:
        return f"{', '.join(self.permissions)} → {self.grantee_identifier} ({self.client.nip})"


class GrantsCheck(models.Model):
    """One live look-up of a client's grants in KSeF (scheduled, or "Sprawdź teraz")."""

    class State(models.TextChoices):
        QUEUED = "queued", _("W kolejce")
        RUNNING = "running", _("Sprawdzanie")
        DONE = "done", _("Sprawdzono")
        FAILED = "failed", _("Nie udało się sprawdzić")

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="grants_checks")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Queued by the daily run: the office's side may come from the run's OfficeGrantsSnapshot
    # instead of two queries per client in the office's context ("Sprawdź teraz" reads live).
    scheduled = models.BooleanField(default=False)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("sprawdzenie uprawnień")
        verbose_name_plural = _("sprawdzenia uprawnień")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["client", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.client}: {self.get_state_display()}"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)


class OfficeGrantsSnapshot(models.Model):
    """What the office's own KSeF context showed at one moment, for the daily check run.

    KSeF counts requests per context: the permission queries allow 30 a minute and 120 an
    hour in the office's context, shared by all its clients. Reading, per client, what that
    client granted the office and which indirect grants the office passed on would take two
    queries per client — an office with a thousand clients would run out of budget before
    the 61st. So the daily run reads both lists once, whole (100 items a page), and each
    client's scheduled check picks its rows from here. Items keep the fields the check
    compares (see clients.office_snapshot); nothing secret is stored.
    """

    office = models.OneToOneField(Office, on_delete=models.CASCADE, related_name="grants_snapshot")
    taken_at = models.DateTimeField()
    entity_grants = models.JSONField(default=list)  # what clients granted the office
    indirect_grants = models.JSONField(default=list)  # what the office passed on to persons

    class Meta:
        verbose_name = _("odczyt uprawnień w kontekście biura")
        verbose_name_plural = _("odczyty uprawnień w kontekście biura")

    def __str__(self) -> str:
        return f"{self.office}: {self.taken_at:%Y-%m-%d %H:%M}"


class StaffDepartureJob(models.Model):
    """Revoking, at every client, the KSeF grants of a staff member who leaves.

    `results` holds one entry per client: {"client_id", "client_name", "outcome", "message"}
    with outcome "revoked", "failed" or "pending".

    A worker that dies mid-way leaves the job "running" with the clients done so far in
    `results`; once its heartbeat is stale, the task's redelivery or the resume sweep takes
    the job over and carries on with the grants still live (see grant_checks).
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("W kolejce")
        RUNNING = "running", _("W toku")
        DONE = "done", _("Zakończone")

    office = models.ForeignKey(Office, on_delete=models.PROTECT, related_name="departure_jobs")
    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="departure_jobs"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # One client's revocations take seconds (minutes while KSeF is busy); a running job
    # silent for this long has lost its worker.
    STALE_AFTER = timedelta(minutes=15)

    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    results = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Touched after each client: a running job whose heartbeat is older than
    # STALE_AFTER lost its worker and may be taken over (clients.grant_checks).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("odebranie uprawnień odchodzącego pracownika")
        verbose_name_plural = _("odebrania uprawnień odchodzących pracowników")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.membership}: {self.get_state_display()}"

    @property
    def is_finished(self) -> bool:
        return self.state == self.State.DONE

    @property
    def is_stale(self) -> bool:
        """Running, but its worker has been silent too long: it will be taken over."""
        return (
            self.state == self.State.RUNNING
            and self.heartbeat_at is not None
            and self.heartbeat_at < timezone.now() - self.STALE_AFTER
        )
