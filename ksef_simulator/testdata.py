"""TEST-only data endpoints: subjects, persons, ZAW-FA-style grants, attachments, blocks."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response

from ksef_simulator.contract import body, validated_body
from ksef_simulator.errors import bad_request, validation_error
from ksef_simulator.identifiers import nip_valid, permission_id
from ksef_simulator.state import Grant, Identifier, Person, Subject, current_state

bp = Blueprint("testdata", __name__)
SYSTEM = Identifier("System", "ZAW-FA")


def _created(value: str | None) -> datetime:
    state = current_state()
    if not value:
        return state.now()
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        validation_error(f"createdDate: nieprawidłowa data {value!r}")


def _check_nip(nip: str, field: str) -> None:
    if not nip_valid(nip):
        validation_error(f"{field}: nieprawidłowa suma kontrolna NIP {nip}")


@bp.post("/testdata/subject")
@validated_body()
def create_subject() -> Response:
    data = body()
    state = current_state()
    nip = data["subjectNip"]
    _check_nip(nip, "subjectNip")
    if nip in state.subjects:
        bad_request(30001, f"Podmiot {nip} już istnieje.")
    subunits = []
    for unit in data.get("subunits") or []:
        _check_nip(unit["subjectNip"], "subunits.subjectNip")
        subunits.append(dict(unit))
    roles = {
        "EnforcementAuthority": ["EnforcementAuthority"],
        "VatGroup": ["VatGroupUnit"],
        "JST": ["LocalGovernmentUnit"],
    }[data["subjectType"]]
    state.subjects[nip] = Subject(
        nip=nip,
        subject_type=data["subjectType"],
        description=data["description"],
        created=_created(data.get("createdDate")),
        subunits=subunits,
        roles=roles,
    )
    return Response(status=200)


@bp.post("/testdata/subject/remove")
@validated_body()
def remove_subject() -> Response:
    state = current_state()
    nip = body()["subjectNip"]
    state.subjects.pop(nip, None)
    _drop_grants_of_context(nip)
    return Response(status=200)


@bp.post("/testdata/person")
@validated_body()
def create_person() -> Response:
    data = body()
    state = current_state()
    _check_nip(data["nip"], "nip")
    if data["pesel"] in state.persons:
        bad_request(30001, f"Osoba o numerze PESEL {data['pesel']} już istnieje.")
    state.persons[data["pesel"]] = Person(
        nip=data["nip"],
        pesel=data["pesel"],
        is_bailiff=bool(data["isBailiff"]),
        is_deceased=bool(data.get("isDeceased", False)),
        description=data["description"],
        created=_created(data.get("createdDate")),
    )
    return Response(status=200)


@bp.post("/testdata/person/remove")
@validated_body()
def remove_person() -> Response:
    state = current_state()
    nip = body()["nip"]
    for pesel in [p.pesel for p in state.persons.values() if p.nip == nip]:
        del state.persons[pesel]
    return Response(status=200)


@bp.post("/testdata/permissions")
@validated_body()
def grant_permissions() -> Response:
    """Emulates grants filed on paper (ZAW-FA): author `System`, no canDelegate."""
    data = body()
    state = current_state()
    context = Identifier(data["contextIdentifier"]["type"], data["contextIdentifier"]["value"])
    _check_nip(context.value, "contextIdentifier.value")
    authorized = Identifier(
        data["authorizedIdentifier"]["type"], data["authorizedIdentifier"]["value"]
    )
    held = {
        g.permission
        for g in state.grants.values()
        if g.kind == "testdata"
        and g.context.key == context.key
        and g.authorized.key == authorized.key
    }
    for item in data["permissions"]:
        if item["permissionType"] in held:
            continue
        grant = Grant(
            id=permission_id(),
            kind="testdata",
            context=context,
            authorized=authorized,
            permission=item["permissionType"],
            description=item["description"],
            author=SYSTEM,
            start_date=state.now(),
        )
        state.grants[grant.id] = grant
    return Response(status=200)


@bp.post("/testdata/permissions/revoke")
@validated_body()
def revoke_permissions() -> Response:
    data = body()
    state = current_state()
    context = (data["contextIdentifier"]["type"], data["contextIdentifier"]["value"])
    authorized = (data["authorizedIdentifier"]["type"], data["authorizedIdentifier"]["value"])
    for grant_id in [
        g.id
        for g in state.grants.values()
        if g.kind == "testdata" and g.context.key == context and g.authorized.key == authorized
    ]:
        del state.grants[grant_id]
    return Response(status=200)


@bp.post("/testdata/attachment")
@validated_body()
def allow_attachments() -> Response:
    subject = _subject_for(body()["nip"])
    subject.attachments_allowed = True
    subject.attachments_revoked = None
    return Response(status=200)


@bp.post("/testdata/attachment/revoke")
@validated_body()
def revoke_attachments() -> Response:
    data = body()
    subject = _subject_for(data["nip"])
    subject.attachments_allowed = False
    end = data.get("expectedEndDate")
    subject.attachments_revoked = end or current_state().now().date().isoformat()
    return Response(status=200)


@bp.post("/testdata/context/block")
@validated_body()
def block_context() -> Response:
    context = body().get("contextIdentifier")
    if not context:
        validation_error("contextIdentifier: wymagany")
    current_state().blocked_contexts.add((context["type"], context["value"]))
    return Response(status=200)


@bp.post("/testdata/context/unblock")
@validated_body()
def unblock_context() -> Response:
    context = body().get("contextIdentifier")
    if not context:
        validation_error("contextIdentifier: wymagany")
    current_state().blocked_contexts.discard((context["type"], context["value"]))
    return Response(status=200)


def context_blocked(context: Identifier) -> bool:
    return context.key in current_state().blocked_contexts


def _subject_for(nip: str) -> Subject:
    """The registered subject, or an implicit one for a NIP known only as a person's."""
    _check_nip(nip, "nip")
    state = current_state()
    subject = state.subjects.get(nip)
    if subject is None:
        subject = Subject(
            nip=nip, subject_type="Person", description="(implicit)", created=state.now()
        )
        state.subjects[nip] = subject
    return subject


def _drop_grants_of_context(nip: str) -> None:
    state = current_state()
    for grant_id in [g.id for g in state.grants.values() if g.context.value == nip]:
        del state.grants[grant_id]
