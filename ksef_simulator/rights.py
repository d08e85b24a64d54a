"""Who may do what in which context: ownership, direct, entity and indirect grants.

* Owner of a Nip context: the subject authenticating with that NIP, or with a PESEL that
  /testdata/person linked to it. Owners hold every right except VatUeManage.
* Direct grants (persons/grants, testdata/permissions) to the exact identifier.
* Entity grants (entities/grants) to a NIP are exercised by that NIP's owner.
* Indirect grants (indirect/grants, made by an intermediary office in its own context)
  work in a client's context only while the client's delegable entity grant to the
  office still exists (digest §4.4, Gotcha 10).
"""

from __future__ import annotations

from datetime import datetime

from ksef_simulator.identifiers import nip_of_context
from ksef_simulator.state import Grant, Identifier, State

OWNER_PERMISSIONS = frozenset(
    {
        "InvoiceRead",
        "InvoiceWrite",
        "CredentialsManage",
        "CredentialsRead",
        "Introspection",
        "SubunitManage",
    }
)
DIRECT_KINDS = ("person", "testdata", "subunit", "eu-admin", "eu-rep")


def nips_of_subject(state: State, subject: Identifier) -> set[str]:
    """The NIPs a subject acts as owner of (its own NIP, or its PESEL's linked NIP)."""
    if subject.type == "Nip":
        return {subject.value}
    if subject.type == "Pesel":
        person = state.persons.get(subject.value)
        return {person.nip} if person else set()
    return set()


def is_owner(state: State, context: Identifier, subject: Identifier) -> bool:
    nip = nip_of_context(context.type, context.value)
    if context.type not in ("Nip", "InternalId") or nip is None:
        return False
    return nip in nips_of_subject(state, subject)


def owner_permissions(state: State, context: Identifier) -> set[str]:
    permissions = set(OWNER_PERMISSIONS)
    subject = state.subjects.get(context.value)
    person_bailiff = any(p.is_bailiff and p.nip == context.value for p in state.persons.values())
    if person_bailiff or (subject and subject.subject_type == "EnforcementAuthority"):
        permissions.add("EnforcementOperations")
    return permissions


def active_grants(state: State, now: datetime) -> list[Grant]:
    return [g for g in state.grants.values() if g.active(now)]


def effective_permissions(state: State, context: Identifier, subject: Identifier) -> set[str]:
    """Every permission `subject` holds in `context` right now (empty = may not log in)."""
    permissions: set[str] = set()
    if is_owner(state, context, subject):
        permissions |= owner_permissions(state, context)
    own_nips = nips_of_subject(state, subject)
    now = state.now()
    for grant in active_grants(state, now):
        if grant.kind in DIRECT_KINDS:
            if grant.context.key == context.key and grant.authorized.key == subject.key:
                permissions.add(grant.permission)
        elif grant.kind in ("entity", "authorization"):
            if grant.context.key == context.key and grant.authorized.value in own_nips:
                permissions.add(grant.permission)
        elif (
            grant.kind == "indirect"
            and grant.authorized.key == subject.key
            and _indirect_applies(state, grant, context)
        ):
            permissions.add(grant.permission)
    return permissions


def _indirect_applies(state: State, grant: Grant, context: Identifier) -> bool:
    target = grant.target
    if target is not None and target.type != "AllPartners" and target.value != context.value:
        return False
    office_nip = grant.context.value
    return any(
        g.kind == "entity"
        and g.active(state.now())
        and g.context.key == context.key
        and g.authorized.value == office_nip
        and g.permission == grant.permission
        and g.can_delegate
        for g in state.grants.values()
    )


def delegable_from(state: State, client: Identifier, office_nip: str) -> set[str]:
    """Permissions the client gave the office with canDelegate=true."""
    return {
        g.permission
        for g in active_grants(state, state.now())
        if g.kind == "entity"
        and g.context.key == client.key
        and g.authorized.value == office_nip
        and g.can_delegate
    }
