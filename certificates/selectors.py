"""Reads of credentials, live checks, custody log and upload links — always office-scoped.

Nothing here decrypts a secret: the querysets never touch `CredentialSecret`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.http import Http404

from certificates.models import Credential, CredentialCheck, UploadLink
from clients.models import AccessModel, Client, LegalForm, Prerequisite
from clients.selectors import client_get, clients_visible_to
from portal.access import ALL_ROLES, require_role
from portal.models import AuditEvent, Membership, Office

CREDENTIAL_LABEL = Credential._meta.label
CLIENT_LABEL = Client._meta.label
CUSTODY_ACTIONS_ON_CLIENT = (
    "client.access_model_set",
    "upload_link.created",
    "upload_link.used",
    "upload_link.revoked",
    "upload_link.attempt_refused",
)

_KIND_PREFERENCE = Case(
    When(kind=Credential.Kind.AUTHENTICATION, then=Value(0)),
    When(kind=Credential.Kind.TOKEN, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def credentials_of_client(client: Client) -> QuerySet[Credential]:
    """Every credential the client ever had (history included), newest first."""
    return Credential.objects.filter(client=client).select_related("uploaded_by", "replaced_by")


def active_credentials_of_client(client: Client) -> QuerySet[Credential]:
    return credentials_of_client(client).filter(status=Credential.Status.ACTIVE)


def office_credentials(office: Office) -> QuerySet[Credential]:
    return Credential.objects.filter(office=office, client__isnull=True).select_related(
        "uploaded_by"
    )


def office_credential(office: Office) -> Credential | None:
    """The office's active authentication certificate (office model), if any."""
    return (
        office_credentials(office)
        .filter(status=Credential.Status.ACTIVE, kind=Credential.Kind.AUTHENTICATION)
        .first()
    )


def login_credential_for(client: Client) -> Credential | None:
    """The credential a login into this client's context uses under its access model."""
    if client.access_model == AccessModel.OFFICE:
        return office_credential(client.office)
    return (
        active_credentials_of_client(client)
        .exclude(kind=Credential.Kind.OFFLINE)
        .order_by(_KIND_PREFERENCE)
        .first()
    )


def credential_get(
    membership: Membership, pk: int, *, roles: Iterable[str] = ALL_ROLES
) -> Credential:
    """One credential of the member's office (404 otherwise; a client's credential also needs
    the client to be visible to the member), then the role check (403)."""
    credential = (
        Credential.objects.filter(office=membership.office, pk=pk)
        .select_related("client", "office")
        .first()
    )
    if credential is None:
        raise Http404
    if credential.client_id is not None:
        client_get(membership, credential.client_id)
    require_role(membership, roles)
    return credential


def check_get(membership: Membership, pk: int) -> CredentialCheck:
    check = (
        CredentialCheck.objects.filter(credential__office=membership.office, pk=pk)
        .select_related("credential", "client")
        .first()
    )
    if check is None or not clients_visible_to(membership).filter(pk=check.client_id).exists():
        raise Http404
    return check


def latest_check(credential: Credential, client: Client) -> CredentialCheck | None:
    return CredentialCheck.objects.filter(credential=credential, client=client).first()


def credential_custody_log(credential: Credential) -> QuerySet[AuditEvent]:
    """Every audit event about one credential: uploaded, consented, used, checked, retired."""
    return AuditEvent.objects.filter(
        office=credential.office, object_type=CREDENTIAL_LABEL, object_id=str(credential.pk)
    ).select_related("actor")


def client_custody_log(client: Client) -> QuerySet[AuditEvent]:
    """The custody log a manager shows an auditor: the client's credentials and links."""
    credential_ids = [
        str(pk) for pk in Credential.objects.filter(client=client).values_list("pk", flat=True)
    ]
    return AuditEvent.objects.filter(
        Q(object_type=CREDENTIAL_LABEL, object_id__in=credential_ids)
        | Q(
            object_type=CLIENT_LABEL, object_id=str(client.pk), action__in=CUSTODY_ACTIONS_ON_CLIENT
        ),
        office=client.office,
    ).select_related("actor")


def upload_links_of_client(client: Client) -> QuerySet[UploadLink]:
    return UploadLink.objects.filter(client=client).select_related("created_by")


def upload_link_for_token(raw_token: str) -> UploadLink | None:
    """The link whose token hashes to the stored hash, or None (unknown, never existed)."""
    from certificates.services import upload_link_token_hash

    if not raw_token or len(raw_token) > 128:
        return None
    return (
        UploadLink.objects.filter(token_hash=upload_link_token_hash(raw_token))
        .select_related("client", "office")
        .first()
    )


# --- health row ---------------------------------------------------------------------------


def credential_check_annotations() -> dict[str, Subquery]:
    """The latest live test login into each client's context, whichever credential it used.

    ``credential_check_state`` (a ``CredentialCheck.State`` value or None),
    ``credential_checked_at`` (when it finished), ``credential_check_code`` (KSeF status
    code such as "415", or "network"; empty on success) and ``credential_check_message``
    (the plain-Polish result). For `Client` querysets: ``clients.annotate(**...)``.
    """
    checks = CredentialCheck.objects.filter(client=OuterRef("pk")).order_by("-requested_at", "-id")
    return {
        "credential_check_state": Subquery(checks.values("state")[:1]),
        "credential_checked_at": Subquery(checks.values("finished_at")[:1]),
        "credential_check_code": Subquery(checks.values("error_code")[:1]),
        "credential_check_message": Subquery(checks.values("message")[:1]),
    }


def annotate_credential_health(clients: QuerySet[Client]) -> QuerySet[Client]:
    """Add the credential columns of the client list's health row, in one query.

    * ``credential_kind`` / ``credential_valid_to`` — the credential a login would use:
      the office's authentication certificate for the office model, otherwise the client's
      own (authentication certificate preferred over a token); None when there is none.
    * the live-check columns of `credential_check_annotations`.
    """
    own = (
        Credential.objects.filter(client=OuterRef("pk"), status=Credential.Status.ACTIVE)
        .exclude(kind=Credential.Kind.OFFLINE)
        .order_by(_KIND_PREFERENCE)
    )
    office_own = Credential.objects.filter(
        office=OuterRef("office"),
        client__isnull=True,
        status=Credential.Status.ACTIVE,
        kind=Credential.Kind.AUTHENTICATION,
    )
    is_office_model = Q(access_model=AccessModel.OFFICE)
    return clients.annotate(
        credential_kind=Case(
            When(is_office_model, then=Subquery(office_own.values("kind")[:1])),
            default=Subquery(own.values("kind")[:1]),
        ),
        credential_valid_to=Case(
            When(is_office_model, then=Subquery(office_own.values("valid_to")[:1])),
            default=Subquery(own.values("valid_to")[:1]),
        ),
        **credential_check_annotations(),
    )


@dataclass(frozen=True)
class CredentialHealth:
    """The credential part of one client's health row (for pages showing one client)."""

    credential: Credential | None
    last_check: CredentialCheck | None

    @property
    def kind_label(self) -> str:
        return self.credential.get_kind_display() if self.credential else ""

    @property
    def valid_to(self) -> datetime | None:
        return self.credential.valid_to if self.credential else None

    @property
    def check_ok(self) -> bool | None:
        if self.last_check is None or not self.last_check.is_finished:
            return None
        return self.last_check.state == CredentialCheck.State.SUCCEEDED


def client_credential_health(client: Client) -> CredentialHealth:
    return CredentialHealth(
        credential=login_credential_for(client),
        last_check=CredentialCheck.objects.filter(client=client).first(),
    )


@dataclass(frozen=True)
class ExpectedOwner:
    """One identity a certificate for a slot may name — what `validation._check_owner`
    accepts — so the upload page can say it before anyone picks a file."""

    role: str  # "office", "client", "authorised_person" or "owner" (of a sole proprietorship)
    identifier_type: str  # "nip" or "pesel"
    identifier: str
    name: str

    @property
    def is_pesel(self) -> bool:
        return self.identifier_type == "pesel"

    @property
    def is_person(self) -> bool:
        return self.role in ("authorised_person", "owner")

    @property
    def identifier_end(self) -> str:
        """The last four digits: enough for a client to recognise a person's PESEL or NIP
        on the public link page, which a forwarded e-mail could show to someone else."""
        return self.identifier[-4:]


def expected_owners(office: Office, client: Client | None) -> list[ExpectedOwner]:
    """Whose certificate the slot accepts: the office's NIP for the office's own slot; the
    client's NIP, or the person recorded in the ZAW-FA step (a company's authorised person,
    a sole proprietor's owner) for a client's."""
    if client is None:
        return [ExpectedOwner("office", "nip", office.nip, office.name)]
    owners = [ExpectedOwner("client", "nip", client.nip, client.name)]
    prerequisite = Prerequisite.objects.filter(client=client).first()
    if prerequisite is not None and prerequisite.person_identifier:
        identifier = prerequisite.person_identifier
        kind = prerequisite.person_identifier_type or ("pesel" if len(identifier) == 11 else "nip")
        name = f"{prerequisite.person_first_name} {prerequisite.person_last_name}".strip()
        role = (
            "owner" if client.legal_form == LegalForm.SOLE_PROPRIETORSHIP else "authorised_person"
        )
        owners.append(ExpectedOwner(role, kind, identifier, name))
    return owners
