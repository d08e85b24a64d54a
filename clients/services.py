"""Writes of the client register and the ZAW-FA prerequisite.

Each service owns its transaction and records an audit event. Who may call which service
is decided by the views (see `clients.views`); the services check only what must hold
whoever calls them (same office, accountants only as assignees, valid state transitions).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from clients.forms import duplicate_nip_error, nip_taken_by
from clients.models import Client, LegalForm, Prerequisite
from clients.prerequisite import prerequisite_decide, prerequisite_reevaluated_state
from portal.audit import audit_record
from portal.models import Membership, Office

Actor = AbstractBaseUser | AnonymousUser | None
State = Prerequisite.State


def _check_accountants(
    office: Office, accountants: Iterable[Membership], *, already: Iterable[int] = ()
) -> list[Membership]:
    """The new opiekunowie: accountants of the office, active unless already assigned."""
    members, kept = list(accountants), set(already)
    for member in members:
        if member.office_id != office.pk or member.role != Membership.Role.ACCOUNTANT:
            raise ValidationError(
                _("Opiekunem klienta może być tylko księgowy tego biura."), code="bad_assignee"
            )
        if not member.user.is_active and member.pk not in kept:
            raise ValidationError(
                _("%(name)s ma nieaktywne konto i nie może zostać opiekunem klienta.")
                % {"name": member.display_name},
                code="inactive_assignee",
            )
    return members


@transaction.atomic
def client_create(
    *,
    office: Office,
    actor: Actor,
    nip: str,
    name: str,
    legal_form: str,
    has_qualified_seal: bool,
    contact_emails: Sequence[str],
    assigned_accountants: Iterable[Membership] = (),
) -> Client:
    """Register a client and its ZAW-FA prerequisite, evaluated from the legal form and seal."""
    accountants = _check_accountants(office, assigned_accountants)
    existing = nip_taken_by(office, nip)
    if existing is not None:
        raise duplicate_nip_error(existing)
    client = Client(
        office=office,
        nip=nip,
        name=name,
        legal_form=legal_form,
        has_qualified_seal=has_qualified_seal,
        contact_emails=list(contact_emails),
    )
    client.full_clean(exclude=["assigned_accountants"], validate_constraints=False)
    try:
        with transaction.atomic():
            client.save()
    except IntegrityError as exc:  # registered by someone else a moment ago
        raise ValidationError(_("Klient z tym NIP jest już w rejestrze biura.")) from exc
    client.assigned_accountants.set(accountants)
    decision = prerequisite_decide(legal_form=legal_form, has_qualified_seal=has_qualified_seal)
    Prerequisite.objects.create(client=client, state=decision.state)
    audit_record(
        office=office,
        actor=actor,
        action="client.created",
        obj=client,
        details={
            "nip": nip,
            "legal_form": legal_form,
            "has_qualified_seal": has_qualified_seal,
            "assigned": [m.pk for m in accountants],
            "prerequisite": decision.state.value,
        },
    )
    return client


_UNCHANGED: Any = object()


@transaction.atomic
def client_update(
    *,
    client: Client,
    actor: Actor,
    nip: str = _UNCHANGED,
    name: str = _UNCHANGED,
    legal_form: str = _UNCHANGED,
    has_qualified_seal: bool = _UNCHANGED,
    contact_emails: Sequence[str] = _UNCHANGED,
    assigned_accountants: Iterable[Membership] = _UNCHANGED,
    is_archived: bool = _UNCHANGED,
) -> Client:
    """Change the given fields (others stay); a new legal form or seal answer re-evaluates
    the ZAW-FA prerequisite and records that as its own audit event."""
    changes: dict[str, Any] = {}
    scalar = {
        "nip": nip,
        "name": name,
        "legal_form": legal_form,
        "has_qualified_seal": has_qualified_seal,
        "is_archived": is_archived,
        "contact_emails": list(contact_emails) if contact_emails is not _UNCHANGED else _UNCHANGED,
    }
    for field_name, value in scalar.items():
        if value is not _UNCHANGED and getattr(client, field_name) != value:
            changes[field_name] = [getattr(client, field_name), value]
            setattr(client, field_name, value)
    if "nip" in changes:
        existing = nip_taken_by(client.office, client.nip, exclude_pk=client.pk)
        if existing is not None:
            raise duplicate_nip_error(existing)
    if changes:
        # Only what changed is validated: an old record never blocks a contact update.
        unchanged = [f.name for f in Client._meta.get_fields() if f.name not in changes]
        client.full_clean(exclude=unchanged, validate_constraints=False)
        client.save()
    if assigned_accountants is not _UNCHANGED:
        before = set(client.assigned_accountants.values_list("pk", flat=True))
        accountants = _check_accountants(client.office, assigned_accountants, already=before)
        after = {m.pk for m in accountants}
        if before != after:
            client.assigned_accountants.set(accountants)
            changes["assigned_accountants"] = [sorted(before), sorted(after)]
    if changes:
        audit_record(
            office=client.office,
            actor=actor,
            action="client.updated",
            obj=client,
            details={"changes": changes},
        )
    if "legal_form" in changes or "has_qualified_seal" in changes:
        _prerequisite_reevaluate(client=client, actor=actor, cause=sorted(changes))
    return client


def _prerequisite_reevaluate(*, client: Client, actor: Actor, cause: list[str]) -> None:
    decision = prerequisite_decide(
        legal_form=client.legal_form, has_qualified_seal=client.has_qualified_seal
    )
    prerequisite, _created = Prerequisite.objects.get_or_create(
        client=client, defaults={"state": decision.state}
    )
    before = None if _created else prerequisite.state
    after = prerequisite_reevaluated_state(current=before, decision=decision)
    if before == after:
        return
    prerequisite.state = after
    prerequisite.save(update_fields=["state", "updated_at"])
    audit_record(
        office=client.office,
        actor=actor,
        action="prerequisite.reevaluated",
        obj=prerequisite,
        details={"from": before, "to": after.value, "cause": cause},
    )


@transaction.atomic
def client_archive(*, client: Client, actor: Actor) -> Client:
    """Hide a client from the everyday list; its data, grants and history stay."""
    if client.is_archived:
        return client
    client.is_archived = True
    client.save(update_fields=["is_archived", "updated_at"])
    audit_record(office=client.office, actor=actor, action="client.archived", obj=client)
    return client


# --- ZAW-FA wizard ------------------------------------------------------------------------


def _prerequisite_of(client: Client) -> Prerequisite:
    prerequisite, _created = Prerequisite.objects.select_for_update().get_or_create(
        client=client,
        defaults={
            "state": prerequisite_decide(
                legal_form=client.legal_form, has_qualified_seal=client.has_qualified_seal
            ).state
        },
    )
    return prerequisite


@transaction.atomic
def prerequisite_answer_seal(*, client: Client, actor: Actor, has_qualified_seal: bool) -> Client:
    """The wizard's question: record the seal answer on the client and re-evaluate."""
    _prerequisite_of(client)
    client_update(client=client, actor=actor, has_qualified_seal=has_qualified_seal)
    # Also when the answer is unchanged: it confirms (or repairs) the recorded state.
    _prerequisite_reevaluate(client=client, actor=actor, cause=["has_qualified_seal"])
    return client


def _require_state(prerequisite: Prerequisite, *allowed: State) -> None:
    if prerequisite.state not in allowed:
        raise ValidationError(
            _("Tego kroku nie można wykonać, gdy ZAW-FA ma stan „%(state)s”."),
            code="bad_state",
            params={"state": prerequisite.get_state_display()},
        )


@transaction.atomic
def prerequisite_person_set(
    *,
    client: Client,
    actor: Actor,
    first_name: str,
    last_name: str,
    identifier_type: str,
    identifier: str,
) -> Prerequisite:
    """Record the natural person the client names in ZAW-FA (before or after filing).

    For a sole proprietor (no ZAW-FA) the same fields hold the owner: a KSeF certificate the
    owner generated after logging in with Profil Zaufany carries their PESEL, not the firm's
    NIP, and the credential upload accepts it only when it matches the recorded owner."""
    prerequisite = _prerequisite_of(client)
    sole_proprietor = client.legal_form == LegalForm.SOLE_PROPRIETORSHIP
    if sole_proprietor:
        _require_state(prerequisite, State.NOT_REQUIRED)
    else:
        _require_state(prerequisite, State.TO_FILE, State.FILED)
    prerequisite.person_first_name = first_name
    prerequisite.person_last_name = last_name
    prerequisite.person_identifier_type = identifier_type
    prerequisite.person_identifier = identifier
    prerequisite.full_clean()
    prerequisite.save()
    # The identifier is personal data: the log says who was named, not their PESEL.
    audit_record(
        office=client.office,
        actor=actor,
        action="prerequisite.owner_set" if sole_proprietor else "prerequisite.person_set",
        obj=prerequisite,
        details={"person": f"{first_name} {last_name}", "identifier_type": identifier_type},
    )
    return prerequisite


@transaction.atomic
def prerequisite_file(
    *, client: Client, actor: Actor, filed_on: datetime.date, tax_office: str
) -> Prerequisite:
    """ZAW-FA was filed at the tax office: to_file → filed (or a correction while filed)."""
    prerequisite = _prerequisite_of(client)
    _require_state(prerequisite, State.TO_FILE, State.FILED)
    if not prerequisite.person_identifier:
        raise ValidationError(_("Najpierw wpisz osobę wskazaną w ZAW-FA."), code="person_missing")
    prerequisite.filed_on = filed_on
    prerequisite.tax_office = tax_office
    prerequisite.state = State.FILED
    prerequisite.save()
    audit_record(
        office=client.office,
        actor=actor,
        action="prerequisite.filed",
        obj=prerequisite,
        details={"filed_on": filed_on.isoformat(), "tax_office": tax_office},
    )
    return prerequisite


@transaction.atomic
def prerequisite_confirm(
    *, client: Client, actor: Actor, confirmed_on: datetime.date
) -> Prerequisite:
    """The tax office accepted ZAW-FA: filed → confirmed, which unlocks the credentials."""
    prerequisite = _prerequisite_of(client)
    _require_state(prerequisite, State.FILED)
    if prerequisite.filed_on and confirmed_on < prerequisite.filed_on:
        raise ValidationError(
            _("Potwierdzenie nie może być wcześniejsze niż złożenie."), code="before_filing"
        )
    prerequisite.confirmed_on = confirmed_on
    prerequisite.state = State.CONFIRMED
    prerequisite.save()
    audit_record(
        office=client.office,
        actor=actor,
        action="prerequisite.confirmed",
        obj=prerequisite,
        details={"confirmed_on": confirmed_on.isoformat()},
    )
    return prerequisite


# --- CSV import ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientRow:
    """One validated row of an import, JSON-friendly so a preview can keep it in the session."""

    line: int
    nip: str
    name: str
    legal_form: str
    has_qualified_seal: bool
    contact_emails: tuple[str, ...]
    accountant_username: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "contact_emails": list(self.contact_emails)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClientRow:
        return cls(**{**data, "contact_emails": tuple(data["contact_emails"])})


@dataclass
class ImportSummary:
    created: list[Client] = field(default_factory=list)
    already_registered: list[ClientRow] = field(default_factory=list)


@transaction.atomic
def client_import(
    *, office: Office, actor: Actor, rows: Sequence[ClientRow], source: str = ""
) -> ImportSummary:
    """Create the clients of validated rows, all or nothing.

    Rows are re-checked against the register inside the transaction: a NIP registered since
    the preview (or by a previous import of the same file) is reported, never duplicated.
    """
    summary = ImportSummary()
    registered = set(
        Client.objects.filter(office=office, nip__in=[r.nip for r in rows]).values_list(
            "nip", flat=True
        )
    )
    accountants = {m.user.get_username(): m for m in _office_accountants(office)}
    new_clients: list[tuple[Client, Membership | None]] = []
    for row in rows:
        if row.nip in registered:
            summary.already_registered.append(row)
            continue
        registered.add(row.nip)
        assignee = accountants.get(row.accountant_username) if row.accountant_username else None
        if row.accountant_username and assignee is None:
            raise ValidationError(
                _("Wiersz %(line)d: %(username)s nie jest już księgowym biura."),
                params={"line": row.line, "username": row.accountant_username},
            )
        client = Client(
            office=office,
            nip=row.nip,
            name=row.name,
            legal_form=row.legal_form,
            has_qualified_seal=row.has_qualified_seal,
            contact_emails=list(row.contact_emails),
        )
        new_clients.append((client, assignee))
    # Bulk inserts: an office's first import may hold thousands of rows (one transaction).
    summary.created = Client.objects.bulk_create([client for client, _a in new_clients])
    Prerequisite.objects.bulk_create(
        Prerequisite(
            client=client,
            state=prerequisite_decide(
                legal_form=client.legal_form, has_qualified_seal=client.has_qualified_seal
            ).state,
        )
        for client in summary.created
    )
    Assignment = Client.assigned_accountants.through
    Assignment.objects.bulk_create(
        Assignment(client=client, membership=assignee)
        for client, assignee in new_clients
        if assignee is not None
    )
    audit_record(
        office=office,
        actor=actor,
        action="client.imported",
        details={
            "source": source[:200],
            "created": [c.nip for c in summary.created],
            "already_registered": [r.nip for r in summary.already_registered],
        },
    )
    return summary


def _office_accountants(office: Office) -> Iterable[Membership]:
    return Membership.objects.filter(
        office=office, role=Membership.Role.ACCOUNTANT, user__is_active=True
    ).select_related("user")
