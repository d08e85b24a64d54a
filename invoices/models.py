"""Invoices fetched from KSeF, stored once and linked to every client they concern, and the
state of the sync engine that fetches them (invoices/sync/).

An invoice is identified by its KSeF number. The original XML is kept byte for byte (its
SHA-256 is KSeF's `invoiceHash`), next to the metadata KSeF returned for it, copied into
columns the lists filter and sort on. A client's role in an invoice is the subject type
KSeF filtered on when the invoice came in: an invoice between two clients of the office is
one row here and two links, Subject1 for the seller and Subject2 for the buyer.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_cryptography.fields import encrypt

from clients.models import Client
from portal.models import Membership, Office


class SubjectType(models.TextChoices):
    """KSeF's `subjectType` values: the side of the invoice the client's context is on."""

    SUBJECT1 = "Subject1", _("Sprzedaż (Podmiot1)")
    SUBJECT2 = "Subject2", _("Zakupy (Podmiot2)")
    SUBJECT3 = "Subject3", _("Podmiot trzeci (Podmiot3)")
    SUBJECT_AUTHORIZED = "SubjectAuthorized", _("Podmiot upoważniony")


DEFAULT_SUBJECT_TYPES = [SubjectType.SUBJECT1.value, SubjectType.SUBJECT2.value]
# KSeF became mandatory on 1 February 2026; nothing older is in it to fetch by default.
DEFAULT_BACKFILL_FROM = date(2026, 2, 1)


class Invoice(models.Model):
    ksef_number = models.CharField(_("numer KSeF"), max_length=40, unique=True)
    invoice_number = models.CharField(_("numer faktury"), max_length=256)
    form_code = models.CharField(_("schemat"), max_length=20)  # systemCode: "FA (3)", ...
    invoice_type = models.CharField(_("rodzaj"), max_length=10)  # Vat, Kor, Zal, VatRr...
    invoicing_mode = models.CharField(_("tryb"), max_length=10)  # Online / Offline
    issue_date = models.DateField(_("data wystawienia"))
    invoicing_date = models.DateTimeField(_("data przyjęcia w KSeF"))
    acquisition_date = models.DateTimeField(_("data nadania numeru KSeF"))
    permanent_storage_date = models.DateTimeField(_("data trwałego zapisu"))
    seller_nip = models.CharField(_("NIP sprzedawcy"), max_length=10)
    seller_name = models.CharField(_("sprzedawca"), max_length=512, blank=True)
    buyer_identifier_type = models.CharField(max_length=10, blank=True)  # Nip, VatUe, Other
    buyer_identifier = models.CharField(_("identyfikator nabywcy"), max_length=50, blank=True)
    buyer_name = models.CharField(_("nabywca"), max_length=512, blank=True)
    net_amount = models.DecimalField(_("netto"), max_digits=18, decimal_places=2)
    vat_amount = models.DecimalField(_("VAT"), max_digits=18, decimal_places=2)
    gross_amount = models.DecimalField(_("brutto"), max_digits=18, decimal_places=2)
    currency = models.CharField(_("waluta"), max_length=3)
    is_self_invoicing = models.BooleanField(default=False)
    has_attachment = models.BooleanField(default=False)
    invoice_hash = models.CharField(max_length=44)  # base64 SHA-256 of `xml`
    hash_of_corrected_invoice = models.CharField(max_length=44, blank=True)
    # The metadata entry exactly as KSeF returned it (third subjects, authorised subject...).
    metadata = models.JSONField(default=dict)
    xml = models.BinaryField()
    size = models.PositiveIntegerField()
    stored_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("faktura")
        verbose_name_plural = _("faktury")
        indexes = [
            models.Index(fields=["seller_nip", "issue_date"], name="invoice_seller_issue_idx"),
            models.Index(fields=["issue_date"], name="invoice_issue_idx"),
            # The invoice lists' amount ranges and sorts, and the KSeF date filter (on
            # PostgreSQL also trigram indexes for search: migration 0006).
            models.Index(fields=["gross_amount"], name="invoice_gross_idx"),
            models.Index(fields=["net_amount"], name="invoice_net_idx"),
            models.Index(fields=["invoicing_date"], name="invoice_invoicing_date_idx"),
            models.Index(fields=["buyer_identifier"], name="invoice_buyer_identifier_idx"),
            models.Index(fields=["invoice_type"], name="invoice_type_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_number} ({self.ksef_number})"


# The columns a link copies from its invoice (link column: invoice column), for the lists'
# filters, sorts and counts (invoices.browse.filters), which then need no join with the
# invoice. A KSeF invoice never changes once stored, so the copies never go stale. The
# counterparty is copied separately: it depends on the link's side (`counterparty_of`).
LINK_COPIED_COLUMNS = {
    "issue_date": "issue_date",
    "invoicing_date": "invoicing_date",
    "net_amount": "net_amount",
    "vat_amount": "vat_amount",
    "gross_amount": "gross_amount",
    "currency": "currency",
    "invoice_type": "invoice_type",
    "form_code": "form_code",
    "invoicing_mode": "invoicing_mode",
    "has_attachment": "has_attachment",
}


def counterparty_of(invoice: Invoice, subject_type: str) -> tuple[str, str]:
    """(NIP or other identifier, name) of the other party than the client: the buyer of a
    sale (Subject1), the seller otherwise. A third party's or an authorised subject's
    counterparty is the seller: the one who issued the invoice and always has a NIP (the
    buyer may have none); the lists show, filter and search it as the counterparty."""
    if subject_type == SubjectType.SUBJECT1:
        return invoice.buyer_identifier, invoice.buyer_name
    return invoice.seller_nip, invoice.seller_name


class ClientInvoice(models.Model):
    """One client's role in one invoice, with copies of the invoice columns the lists
    filter and sort on (`LINK_COPIED_COLUMNS`, the counterparty): build it with `of`."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="invoice_links")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="client_links")
    subject_type = models.CharField(max_length=20, choices=SubjectType.choices)
    # Copied from the invoice: the lists of one client page through it by month.
    issue_date = models.DateField()
    stored_at = models.DateTimeField(auto_now_add=True)
    # Copied from the invoice (see LINK_COPIED_COLUMNS and counterparty_of).
    counterparty_nip = models.CharField(max_length=50, blank=True)
    counterparty_name = models.CharField(max_length=512, blank=True)
    invoicing_date = models.DateTimeField()
    net_amount = models.DecimalField(max_digits=18, decimal_places=2)
    vat_amount = models.DecimalField(max_digits=18, decimal_places=2)
    gross_amount = models.DecimalField(max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=3)
    invoice_type = models.CharField(max_length=10)
    form_code = models.CharField(max_length=20)
    invoicing_mode = models.CharField(max_length=10)
    has_attachment = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("faktura klienta")
        verbose_name_plural = _("faktury klientów")
        constraints = [
            models.UniqueConstraint(
                fields=["client", "invoice", "subject_type"], name="client_invoice_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["client", "subject_type", "-issue_date"], name="client_invoice_list_idx"
            ),
            # The office-wide list, newest first, and its "new since I last looked".
            models.Index(fields=["-issue_date", "-id"], name="client_invoice_newest_idx"),
            models.Index(fields=["stored_at"], name="client_invoice_stored_idx"),
            # The wide filters and sorts on the copied columns (migration 0007; on
            # PostgreSQL also trigram indexes for the counterparty's name and NIP).
            models.Index(
                fields=["counterparty_nip", "client"], name="client_invoice_party_nip_idx"
            ),
            models.Index(fields=["gross_amount"], name="client_invoice_gross_idx"),
            models.Index(fields=["net_amount"], name="client_invoice_net_idx"),
            models.Index(fields=["invoicing_date"], name="client_invoice_ksef_date_idx"),
            models.Index(fields=["invoice_type", "subject_type"], name="client_invoice_type_idx"),
            # The FA_RR and PEF groups' `form_code LIKE 'FA_RR%'` (opclass: PostgreSQL's
            # prefix LIKE under a non-C collation; ignored elsewhere).
            models.Index(
                fields=["form_code"],
                name="client_invoice_form_idx",
                opclasses=["varchar_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_id}/{self.subject_type}/{self.invoice_id}"

    @classmethod
    def of(cls, invoice: Invoice, *, client_id: int, subject_type: str) -> ClientInvoice:
        """The link of a client to an invoice (stored or not: `invoice_id` is the invoice's
        pk, which the caller may set on the link instead), its copied columns filled."""
        nip, name = counterparty_of(invoice, subject_type)
        return cls(
            client_id=client_id,
            invoice_id=invoice.pk,
            subject_type=subject_type,
            counterparty_nip=nip,
            counterparty_name=name,
            **{field: getattr(invoice, column) for field, column in LINK_COPIED_COLUMNS.items()},
        )


class OfficeSyncSettings(models.Model):
    """How an office syncs its clients' invoices (admins and managers change it)."""

    office = models.OneToOneField(Office, on_delete=models.CASCADE, related_name="sync_settings")
    subject_types = models.JSONField(_("rodzaje faktur"), default=list)
    backfill_from = models.DateField(_("pobieraj historię od"), default=DEFAULT_BACKFILL_FROM)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("ustawienia synchronizacji biura")
        verbose_name_plural = _("ustawienia synchronizacji biur")

    def __str__(self) -> str:
        return f"sync settings {self.office}"


class InvoiceSyncState(models.Model):
    """Per client: the summary the client list shows, and the client's own sync choices."""

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="sync_state")
    last_success_at = models.DateTimeField(
        _("ostatnia udana synchronizacja"), null=True, blank=True
    )
    # Stored outcome: a code and its parameters, rendered in the reader's language.
    last_error_code = models.CharField(max_length=40, blank=True)
    last_error_params = models.JSONField(default=dict, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    paused = models.BooleanField(_("wstrzymana"), default=False)
    # None: the office's default (OfficeSyncSettings.backfill_from).
    backfill_from = models.DateField(_("pobieraj historię od"), null=True, blank=True)

    class Meta:
        verbose_name = _("stan synchronizacji")
        verbose_name_plural = _("stany synchronizacji")

    def __str__(self) -> str:
        return f"sync {self.client}"

    @staticmethod
    def error_text(code: str, params: dict[str, object] | None = None) -> str:
        """The message of a stored error code in the active language ("" for no error)."""
        from invoices.sync.messages import error_message

        return error_message(code, params or {}) if code else ""


class SyncCursor(models.Model):
    """Where the sync of one client's invoices of one subject type stands.

    Incremental: `high_water_mark` is the next `from` of KSeF's official algorithm (dates
    of type PermanentStorage, restricted to KSeF's high-water mark): everything stored in
    KSeF before it is here. It moves only in the transaction that stores a package.

    Backfill: the history before `backfill_until` (where the incremental sync began) back
    to `backfill_from`, in windows of at most 90 days, newest first. `backfill_next_to` is
    the upper end of the next window to fetch; `backfill_window_from` is where the window
    being fetched resumes (a truncated package continues from its last date).

    A step of the engine claims the row (`lease_until`, `lease_token`) with a conditional
    update, so duplicate task deliveries and parallel workers do each piece of work once;
    an export KSeF is preparing is remembered (`export_*`, its key encrypted) so a crash
    costs a download, never a lost or doubled package.
    """

    class State(models.TextChoices):
        IDLE = "idle", _("Aktualna")
        SYNCING = "syncing", _("Synchronizacja")
        BACKFILLING = "backfilling", _("Pobieranie historii")
        WAITING = "waiting", _("Czeka na limity KSeF")
        FAILING = "failing", _("Błąd")

    class Phase(models.TextChoices):
        INCREMENTAL = "incremental", _("bieżąca")
        BACKFILL = "backfill", _("historia")

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="sync_cursors")
    subject_type = models.CharField(max_length=20, choices=SubjectType.choices)
    state = models.CharField(max_length=12, choices=State.choices, default=State.IDLE)
    high_water_mark = models.DateTimeField(null=True, blank=True)
    backfill_from = models.DateTimeField(null=True, blank=True)
    backfill_until = models.DateTimeField(null=True, blank=True)
    backfill_next_to = models.DateTimeField(null=True, blank=True)
    backfill_window_from = models.DateTimeField(null=True, blank=True)
    backfill_windows_total = models.PositiveIntegerField(default=0)
    backfill_windows_done = models.PositiveIntegerField(default=0)
    backfill_invoices_stored = models.PositiveIntegerField(default=0)
    invoices_stored = models.PositiveIntegerField(default=0)
    # The export KSeF is preparing for this cursor, if any.
    export_reference = models.CharField(max_length=64, blank=True)
    export_phase = models.CharField(max_length=12, choices=Phase.choices, blank=True)
    export_from = models.DateTimeField(null=True, blank=True)
    export_to = models.DateTimeField(null=True, blank=True)
    export_started_at = models.DateTimeField(null=True, blank=True)
    export_key = encrypt(models.BinaryField(default=b"", blank=True))  # AES key + IV
    # Scheduling and claims.
    next_cycle_at = models.DateTimeField(null=True, blank=True)  # next incremental; None: now
    next_run_at = models.DateTimeField(null=True, blank=True)  # the next step is due
    waiting_until = models.DateTimeField(null=True, blank=True)  # KSeF limits
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    cycle_started_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveSmallIntegerField(default=0)  # consecutive
    last_error_code = models.CharField(max_length=40, blank=True)
    last_error_params = models.JSONField(default=dict, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("kursor synchronizacji")
        verbose_name_plural = _("kursory synchronizacji")
        constraints = [
            models.UniqueConstraint(fields=["client", "subject_type"], name="sync_cursor_once")
        ]
        indexes = [models.Index(fields=["next_run_at"], name="sync_cursor_due_idx")]

    def __str__(self) -> str:
        return f"{self.client_id}/{self.subject_type}: {self.state}"

    @property
    def backfill_done(self) -> bool:
        return (
            self.backfill_next_to is None
            or self.backfill_from is None
            or self.backfill_next_to <= self.backfill_from
        )


class InvoiceListVisit(models.Model):
    """When one member last looked at one invoice list: "new since I last looked".

    A scope is a client's tab (`client` and `role`: purchases, sales, third) or the office-wide
    list (no client, role ""). `last_seen_at` moves on every view of the scope. A view after
    a pause of more than `invoices.browse.services.SESSION_GAP` starts a new look: `baseline`
    becomes the previous `last_seen_at`, and an invoice is new when the portal stored its
    link after `baseline`. Within one look (filtering, paging, reloading) the baseline
    stays put, so the new rows do not vanish while the member works through them.
    """

    membership = models.ForeignKey(
        "portal.Membership", on_delete=models.CASCADE, related_name="invoice_list_visits"
    )
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    role = models.CharField(max_length=10, blank=True)
    baseline = models.DateTimeField(null=True, blank=True)  # None: never looked before
    last_seen_at = models.DateTimeField()

    class Meta:
        verbose_name = _("ostatnie przejrzenie listy faktur")
        verbose_name_plural = _("ostatnie przejrzenia list faktur")
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "client", "role"],
                condition=models.Q(client__isnull=False),
                name="invoice_list_visit_client_once",
            ),
            models.UniqueConstraint(
                fields=["membership", "role"],
                condition=models.Q(client__isnull=True),
                name="invoice_list_visit_office_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.membership_id}/{self.client_id or 'office'}/{self.role}"


class InvoiceCorrection(models.Model):
    """One invoice a correction invoice corrects, as the correction names it
    (`DaneFaKorygowanej` of FA/FA_RR, `BillingReference` of PEF).

    Kept by KSeF number, not as a foreign key: the corrected invoice may reach the portal
    after its correction, or never (issued outside KSeF, or for a client the office does
    not serve), and the link appears by itself when it does. Filled by
    `invoices.documents.corrections.corrections_index`.
    """

    correction = models.ForeignKey(
        Invoice, on_delete=models.CASCADE, related_name="corrected_references"
    )
    position = models.PositiveSmallIntegerField()  # 1, 2... in the correction's order
    corrected_ksef_number = models.CharField(
        _("numer KSeF faktury korygowanej"), max_length=40, blank=True
    )
    corrected_number = models.CharField(_("numer faktury korygowanej"), max_length=256, blank=True)
    corrected_issue_date = models.DateField(
        _("data wystawienia faktury korygowanej"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("faktura korygowana")
        verbose_name_plural = _("faktury korygowane")
        constraints = [
            models.UniqueConstraint(
                fields=["correction", "position"], name="invoice_correction_once"
            )
        ]
        indexes = [
            models.Index(fields=["corrected_ksef_number"], name="invoice_corrected_ksef_idx")
        ]

    def __str__(self) -> str:
        return f"{self.correction_id} -> {self.corrected_ksef_number or self.corrected_number}"


class ExportJob(models.Model):
    """A bulk download of a filtered invoice list, prepared in the background.

    The list's query parameters (and the client, for a client's list) are stored as they
    were, and the selection is made again by the task through the same filter the list uses,
    in the scope of the member who asked — so an accountant's export holds only the clients
    assigned to them when it runs. Only that member sees the job and downloads its file.
    A task claims the job with a conditional UPDATE (`claim_token`), so a task delivered
    twice writes the file once. Outcomes are codes (`error_code` + `error_params`), rendered
    in the reader's language by `invoices.exports.messages`.
    """

    class Kind(models.TextChoices):
        ZIP = "zip", _("Archiwum ZIP (XML i PDF)")
        CSV = "csv", _("Rejestr CSV")
        XLSX = "xlsx", _("Rejestr XLSX")

    class State(models.TextChoices):
        QUEUED = "queued", _("W kolejce")
        RUNNING = "running", _("W przygotowaniu")
        DONE = "done", _("Gotowy")
        FAILED = "failed", _("Nieudany")

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="invoice_exports")
    requested_by = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="invoice_exports"
    )
    # None: the office-wide list ("Faktury").
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, null=True, blank=True, related_name="invoice_exports"
    )
    kind = models.CharField(_("rodzaj"), max_length=8, choices=Kind.choices)
    params = models.JSONField(default=dict, blank=True)  # {"name": ["value", ...]}
    # The language of the member who asked: the register's column names and words use it.
    language = models.CharField(max_length=10, default="pl")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    # Relative to settings.EXPORTS_ROOT; empty until the file is complete.
    file_name = models.CharField(max_length=200, blank=True)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_params = models.JSONField(default=dict, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("eksport faktur")
        verbose_name_plural = _("eksporty faktur")
        indexes = [
            models.Index(fields=["requested_by", "-created_at"], name="export_job_member_idx"),
            models.Index(fields=["state", "created_at"], name="export_job_state_idx"),
        ]

    def __str__(self) -> str:
        return f"export #{self.pk} {self.kind} {self.state}"

    @property
    def finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        return min(99, self.done * 100 // self.total) if self.total else 0

    @property
    def error_text(self) -> str:
        """The stored outcome's message in the active language ("" for none)."""
        from invoices.exports.messages import error_message

        return error_message(self.error_code, self.error_params) if self.error_code else ""


class InvoiceDigestSubscription(models.Model):
    """A member's choice of the daily e-mail about new purchase invoices (off by default)."""

    membership = models.OneToOneField(
        Membership, on_delete=models.CASCADE, related_name="invoice_digest"
    )
    daily_purchases = models.BooleanField(
        _("codzienny e-mail o nowych fakturach zakupowych moich klientów"), default=False
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("powiadomienie o fakturach")
        verbose_name_plural = _("powiadomienia o fakturach")

    def __str__(self) -> str:
        return f"digest of member #{self.membership_id}: {self.daily_purchases}"


class InvoiceDigestSent(models.Model):
    """The exactly-once ledger of the daily e-mail: one row per member and day.

    The row is created ("claimed") in its own committed transaction before the e-mail goes
    out and marked "sent" after the SMTP server accepted it; the unique constraint on
    (membership, day) is what stops a second run, or a second worker, from sending it again.
    """

    class Status(models.TextChoices):
        CLAIMED = "claimed", _("W trakcie wysyłki")
        SENT = "sent", _("Wysłano")
        FAILED = "failed", _("Nie udało się wysłać (ponowimy)")

    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="invoice_digests_sent"
    )
    day = models.DateField()  # the Polish calendar day the e-mail is for
    status = models.CharField(max_length=10, choices=Status.choices)
    claim_token = models.CharField(max_length=32)
    claimed_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    invoice_count = models.PositiveIntegerField(default=0)
    client_count = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("wysłany e-mail o fakturach")
        verbose_name_plural = _("wysłane e-maile o fakturach")
        constraints = [
            models.UniqueConstraint(fields=["membership", "day"], name="invoice_digest_once")
        ]

    def __str__(self) -> str:
        return f"digest {self.membership_id}/{self.day}: {self.status}"


class SendJob(models.Model):
    """One upload of a client's FA(3) files by one member (or `manage.py send_invoices`).

    The files that passed the checks become `OutgoingInvoice` rows; those that did not are
    kept here (`refusals`: file name and its problems as stored messages), so the job page
    shows every file of the upload. A job's invoices go to KSeF in an online session or
    in batch sessions (`session_kind`, chosen by invoices/sending/batch.py's
    `choose_session_kind`; the batch sessions are `SendSession` rows).
    """

    class State(models.TextChoices):
        CHECKED = "checked", _("Sprawdzone, czeka na wysłanie")
        QUEUED = "queued", _("W kolejce")
        SENDING = "sending", _("Wysyłanie")
        DONE = "done", _("Zakończone")
        FAILED = "failed", _("Niepowodzenie")
        CANCELLED = "cancelled", _("Anulowane")

    class SessionKind(models.TextChoices):
        ONLINE = "online", _("Sesja interaktywna")
        BATCH = "batch", _("Sesja wsadowa")

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="send_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.CHECKED)
    session_kind = models.CharField(
        max_length=10, choices=SessionKind.choices, default=SessionKind.ONLINE
    )
    file_count = models.PositiveIntegerField(default=0)  # every file of the upload
    refused_count = models.PositiveIntegerField(default=0)  # refused by the checks
    sent_count = models.PositiveIntegerField(default=0)  # given a KSeF number
    rejected_count = models.PositiveIntegerField(default=0)  # rejected by KSeF
    # [{"name": "faktury.zip/FV-1.xml", "problems": [<portal.messages data>...],
    #   "duplicate_of": <Invoice pk or None>}]
    refusals = models.JSONField(default=list, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_params = models.JSONField(default=dict, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("wysyłka faktur")
        verbose_name_plural = _("wysyłki faktur")
        indexes = [models.Index(fields=["client", "-created_at"], name="send_job_client_idx")]

    def __str__(self) -> str:
        return f"send job {self.pk} ({self.client_id})"

    @property
    def busy(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.SENDING)


class OutgoingInvoice(models.Model):
    """One invoice file on its way to KSeF, kept byte for byte, and what KSeF answered.

    `state` moves queued -> sending -> sent | rejected. "sending" is written (and
    committed) with the session's reference BEFORE the invoice is posted, so after a
    timeout, a 5xx or a killed worker the sender looks the session's invoices up by hash
    before it sends anything again: an invoice never gets two KSeF numbers. The same bytes
    cannot be queued twice for a client unless KSeF rejected them.
    """

    class State(models.TextChoices):
        DRAFT = "draft", _("Sprawdzona, nie wysłana")
        QUEUED = "queued", _("W kolejce")
        SENDING = "sending", _("Wysyłanie")
        SENT = "sent", _("Wysłana")
        REJECTED = "rejected", _("Odrzucona przez KSeF")

    class Mode(models.TextChoices):
        ONLINE = "online", _("Online")
        OFFLINE24 = "offline24", _("Offline24")
        OFFLINE = "offline", _("Offline (niedostępność KSeF)")
        EMERGENCY = "emergency", _("Awaria KSeF")

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="outgoing_invoices")
    job = models.ForeignKey(SendJob, on_delete=models.CASCADE, related_name="invoices")
    position = models.PositiveIntegerField(default=0)  # order in the upload
    file_name = models.CharField(max_length=500)
    xml = models.BinaryField()
    invoice_hash = models.CharField(max_length=44)  # base64 SHA-256 of `xml`
    size = models.PositiveIntegerField(default=0)
    invoice_number = models.CharField(_("numer faktury"), max_length=256, blank=True)
    issue_date = models.DateField(_("data wystawienia"), null=True, blank=True)
    buyer_name = models.CharField(_("nabywca"), max_length=512, blank=True)
    gross_amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    invoicing_mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.ONLINE)
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    session_reference = models.CharField(max_length=64, blank=True)
    ksef_reference = models.CharField(max_length=64, blank=True)  # the invoice in the session
    ksef_number = models.CharField(_("numer KSeF"), max_length=40, blank=True)
    acquisition_date = models.DateTimeField(null=True, blank=True)
    upo_xml = models.BinaryField(null=True, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    status_description = models.CharField(max_length=500, blank=True)
    status_details = models.JSONField(default=list, blank=True)
    invoice = models.ForeignKey(
        Invoice, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attempted_at = models.DateTimeField(null=True, blank=True)  # the last POST began
    updated_at = models.DateTimeField(auto_now=True)
    # --- offline issuance (invoicing_mode != online; digest §7) ---------------------------
    # When the portal accepted the invoice offline and gave it KOD II; the invoice is then
    # issued (it may be handed to the buyer) and waits for KSeF with `offlineMode: true`.
    issued_offline_at = models.DateTimeField(null=True, blank=True)
    # The last day (inclusive, Polish calendar) the invoice may reach KSeF; null while the
    # outage it was issued in has not ended (the deadline counts from the end).
    offline_deadline = models.DateField(_("termin wysłania do KSeF"), null=True, blank=True)
    # KOD II: the certificate verification link, signed with the client's offline
    # certificate (the signature is in the link; nothing secret is stored).
    certificate_url = models.CharField(max_length=1000, blank=True)
    offline_credential = models.ForeignKey(
        "certificates.Credential",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    outage = models.ForeignKey(
        "invoices.KsefOutage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invoices",
    )
    deadline_reminded_at = models.DateTimeField(null=True, blank=True)
    # --- batch sessions (invoices/sending/batch.py) -----------------------------------------
    # The batch session the invoice was put in; set (committed) BEFORE the session is
    # opened, so a run that dies before KSeF's answer is stored leaves a trace.
    send_session = models.ForeignKey(
        "invoices.SendSession",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invoices",
    )
    # The session UPO page that lists the invoice (batch: no per-invoice UPO is fetched).
    upo_page = models.ForeignKey(
        "invoices.SessionUpoPage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("faktura wysyłana")
        verbose_name_plural = _("faktury wysyłane")
        ordering = ["job", "position"]
        constraints = [
            # The last line of defence against sending the same file twice.
            models.UniqueConstraint(
                fields=["client", "invoice_hash"],
                condition=models.Q(state__in=["queued", "sending", "sent"]),
                name="outgoing_invoice_once",
            )
        ]
        indexes = [
            models.Index(fields=["client", "invoice_number"], name="outgoing_number_idx"),
            models.Index(fields=["session_reference"], name="outgoing_session_idx"),
            models.Index(fields=["state", "offline_deadline"], name="outgoing_deadline_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.state})"


class SendSession(models.Model):
    """One KSeF session a send job opened for a batch of its invoices (digest §5.4).

    The row is written BEFORE `POST /sessions/batch` (state `opening`, no reference) with
    the invoices it will carry, and gets KSeF's reference as soon as the open returns; the
    sender (invoices/sending/batch.py) takes every unfinished row up again on its next run:
    nothing of a session is ever re-sent before KSeF's state of it is known.
    """

    class Kind(models.TextChoices):
        ONLINE = "online", _("Sesja interaktywna")
        BATCH = "batch", _("Sesja wsadowa")

    class State(models.TextChoices):
        OPENING = "opening", _("Otwieranie")
        OPEN = "open", _("Otwarta (przesyłanie części)")
        CLOSED = "closed", _("Zamknięta, przetwarzana przez KSeF")
        DONE = "done", _("Przetworzona")
        ABANDONED = "abandoned", _("Porzucona (nic nie przesłano)")
        CANCELLED = "cancelled", _("Anulowana przez KSeF")
        FAILED = "failed", _("Zakończona błędem sesji")

    job = models.ForeignKey(SendJob, on_delete=models.CASCADE, related_name="sessions")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.BATCH)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPENING)
    reference = models.CharField(max_length=64, blank=True)
    opened_at = models.DateTimeField()  # just before the open was sent
    invoice_count = models.PositiveIntegerField(default=0)
    part_count = models.PositiveIntegerField(default=0)
    package_bytes = models.PositiveBigIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    status_description = models.CharField(max_length=500, blank=True)
    status_details = models.JSONField(default=list, blank=True)
    # References of sessions KSeF opened for an open whose answer was lost (found by
    # GET /sessions); nothing was uploaded into them, KSeF cancels them (440).
    orphans = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("sesja wysyłki")
        verbose_name_plural = _("sesje wysyłki")
        ordering = ["job", "opened_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["reference"],
                condition=~models.Q(reference=""),
                name="send_session_reference_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} session {self.reference or '(opening)'} ({self.state})"


class SessionUpoPage(models.Model):
    """One page of a session's UPO (≤ 10,000 invoices each), stored once as KSeF gave it:
    a batch invoice's UPO is the page that lists its KSeF number."""

    session = models.ForeignKey(SendSession, on_delete=models.CASCADE, related_name="upo_pages")
    number = models.PositiveIntegerField()  # 1-based, in KSeF's order
    reference = models.CharField(max_length=64)
    xml = models.BinaryField()
    downloaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("strona UPO sesji")
        verbose_name_plural = _("strony UPO sesji")
        ordering = ["session", "number"]
        constraints = [
            models.UniqueConstraint(fields=["session", "number"], name="session_upo_page_once")
        ]

    def __str__(self) -> str:
        return f"UPO {self.reference} ({self.number})"


class KsefOutage(models.Model):
    """A period in which KSeF does not take invoices, as the portal knows it (digest §7.1).

    Detected when every call fails with 5xx/unreachable (`source=detected`) or declared by
    an operator after a Ministry announcement (`source=declared`). `kind` decides the
    deadline of the invoices issued offline in it: unavailability (`offline`) — the next
    business day after it ends; a failure (`emergency`) — 7 business days after it ends.
    `ended_at` is null while it lasts.
    """

    class Kind(models.TextChoices):
        UNAVAILABLE = "offline", _("Niedostępność KSeF")
        EMERGENCY = "emergency", _("Awaria KSeF")

    class Source(models.TextChoices):
        DETECTED = "detected", _("Wykryta przez portal")
        DECLARED = "declared", _("Ogłoszona (wpisana przez operatora)")

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.UNAVAILABLE)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.DETECTED)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("niedostępność KSeF")
        verbose_name_plural = _("niedostępności KSeF")
        ordering = ["-started_at"]
        constraints = [
            # At most one outage lasts at a time: two workers that find KSeF down at
            # once record one row (invoices/sending/offline.py outage_begin).
            models.UniqueConstraint(
                models.Value(1),
                condition=models.Q(ended_at__isnull=True),
                name="ksef_outage_one_ongoing",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def ongoing(self) -> bool:
        return self.ended_at is None
