"""KSeF permission grants the portal requested or verified, the live checks of them, the
office's grant snapshot and staff departure jobs.

These models were first created by the `clients` app; they moved here with their tables
(`SeparateDatabaseAndState` in migration 0001), so they keep the tables' original names:
renaming live tables would buy nothing and cost a lock on every office's grants.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clients.models import Client
from portal.messages import render
from portal.models import Membership, Office


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
    failure_message = models.TextField(blank=True)  # as written, for the admin
    # The failure as a code and parameters (portal.messages), shown in the reader's language.
    failure_data = models.JSONField(default=dict, blank=True)
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
    # Grant and revoke POSTs are not idempotent (grants.services): a worker claims the row
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
        db_table = "clients_permissiongrant"
        indexes = [models.Index(fields=["client", "state"], name="clients_per_client__d1a0f6_idx")]

    def __str__(self) -> str:
        return f"{', '.join(self.permissions)} → {self.grantee_identifier} ({self.client.nip})"

    @property
    def audit_repr(self) -> str:
        # No API codes ("InvoiceWrite"): the permissions are in the details, in words.
        return f"{self.grantee_identifier} → {self.client.name} (NIP {self.client.nip})"

    @property
    def failure_text(self) -> str:
        """Why it failed, in the reader's language (older rows: the text as written)."""
        return render(self.failure_data) if self.failure_data else self.failure_message

    @property
    def verification_text(self) -> str:
        """The "W KSeF" column: what is true now, not the last check before a revocation."""
        if self.state == self.State.REVOKED:
            return str(_("Nieaktywne — odebrane w KSeF"))
        if self.state == self.State.FAILED:
            return str(_("Nie nadano w KSeF"))
        return str(self.get_verification_display())

    @property
    def verification_tone(self) -> str:
        if self.state in (self.State.REVOKED, self.State.FAILED):
            return "none"
        if self.verification == self.Verification.VERIFIED:
            return "ok"
        return "bad" if self.verification else "none"

    @property
    def verification_is_current(self) -> bool:
        """The last check's time says something only while the grant should exist."""
        return self.state not in (self.State.REVOKED, self.State.FAILED)


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
    message = models.TextField(blank=True)  # as written, for the admin
    message_data = models.JSONField(default=dict, blank=True)  # see portal.messages
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("sprawdzenie uprawnień")
        verbose_name_plural = _("sprawdzenia uprawnień")
        ordering = ["-created_at", "-id"]
        db_table = "clients_grantscheck"
        indexes = [
            models.Index(fields=["client", "-created_at"], name="clients_gra_client__30bce5_idx")
        ]

    def __str__(self) -> str:
        return f"{self.client}: {self.get_state_display()}"

    @property
    def message_text(self) -> str:
        """The check's result in the reader's language (older rows: the text as written)."""
        return render(self.message_data) if self.message_data else self.message

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
    compares (see grants.office_snapshot); nothing secret is stored.
    """

    office = models.OneToOneField(Office, on_delete=models.CASCADE, related_name="grants_snapshot")
    taken_at = models.DateTimeField()
    entity_grants = models.JSONField(default=list)  # what clients granted the office
    indirect_grants = models.JSONField(default=list)  # what the office passed on to persons

    class Meta:
        verbose_name = _("odczyt uprawnień w kontekście biura")
        verbose_name_plural = _("odczyty uprawnień w kontekście biura")
        db_table = "clients_officegrantssnapshot"

    def __str__(self) -> str:
        return f"{self.office}: {self.taken_at:%Y-%m-%d %H:%M}"


class StaffDepartureJob(models.Model):
    """Revoking, at every client, the KSeF grants of a staff member who leaves.

    `results` holds one entry per client: {"client_id", "client_name", "outcome", "message"}
    with outcome "revoked", "failed" or "pending".

    A worker that dies mid-way leaves the job "running" with the clients done so far in
    `results`; once its heartbeat is stale, the task's redelivery or the resume sweep takes
    the job over and carries on with the grants still live (see grants.departure).
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
    # STALE_AFTER lost its worker and may be taken over (grants.departure).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("odebranie uprawnień odchodzącego pracownika")
        verbose_name_plural = _("odebrania uprawnień odchodzących pracowników")
        db_table = "clients_staffdeparturejob"
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
