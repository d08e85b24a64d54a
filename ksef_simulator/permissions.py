"""Permission grants, revocations, their asynchronous operations and the queries (§4).

Every grant or revocation creates an operation polled at /permissions/operations/{ref};
its effect starts when the operation reaches 200 (`Grant.start_date` / `revoked_at` are
set to that moment), so a token issued before then does not carry it (Gotcha 9).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify

from ksef_simulator.contract import body, validated_body
from ksef_simulator.errors import gone, utc_timestamp, validation_error
from ksef_simulator.identifiers import nip_valid, permission_id, reference_number
from ksef_simulator.paging import page_offset, page_size
from ksef_simulator.rights import active_grants, delegable_from, nips_of_subject, owner_permissions
from ksef_simulator.security import AccessContext, access_context, require_access
from ksef_simulator.state import AsyncOperation, Grant, Identifier, State, current_state

bp = Blueprint("permissions", __name__)

RETENTION = timedelta(days=30)
OPERATION_DESCRIPTIONS = {
    100: "Operacja przyjęta do realizacji",
    200: "Operacja zakończona sukcesem",
    400: "Operacja zakończona niepowodzeniem",
    410: "Podane identyfikatory są niezgodne lub pozostają w niewłaściwej relacji",
    420: "Użyte poświadczenia nie mają uprawnień do wykonania tej operacji",
    430: "Kontekst identyfikatora nie odpowiada wymaganej roli lub uprawnieniom",
    440: "Operacja niedozwolona dla wskazanych powiązań identyfikatorów",
    450: "Operacja niedozwolona dla wskazanego identyfikatora lub jego typu",
}


# -- operations ---------------------------------------------------------------------------------


def _operation(
    state: State, code: int = 200, details: list[str] | None = None
) -> tuple[AsyncOperation, datetime]:
    now = state.now()
    ready = now + timedelta(seconds=state.config.permission_processing_seconds)
    operation = AsyncOperation(
        reference_number=reference_number("OP", now),
        created=now,
        ready_at=ready,
        final_code=code,
        final_description=OPERATION_DESCRIPTIONS[code],
        final_details=details,
        owner=access_context().context.key,
    )
    state.permission_operations[operation.reference_number] = operation
    return operation, ready


def _accepted(operation: AsyncOperation) -> tuple[Response, int]:
    return jsonify({"referenceNumber": operation.reference_number}), 202


def _failed(state: State, code: int, detail: str) -> tuple[Response, int]:
    operation, _ = _operation(state, code, [detail])
    return _accepted(operation)


@bp.get("/permissions/operations/<referenceNumber>")
@require_access()
def operation_status(referenceNumber: str) -> Response:
    state = current_state()
    operation = state.permission_operations.get(referenceNumber)
    if operation is None or operation.owner != access_context().context.key:
        validation_error(f"Operacja {referenceNumber} nie istnieje.")
    if state.now() > operation.created + RETENTION:
        gone("Status operacji jest przechowywany 30 dni.")
    if state.now() < operation.ready_at:
        return jsonify({"status": {"code": 100, "description": OPERATION_DESCRIPTIONS[100]}})
    status: dict[str, Any] = {
        "code": operation.final_code,
        "description": operation.final_description,
    }
    if operation.final_details:
        status["details"] = operation.final_details
    return jsonify({"status": status})


def _add_grants(
    state: State,
    ctx: AccessContext,
    *,
    kind: str,
    authorized: Identifier,
    permissions: list[tuple[str, bool]],
    description: str,
    subject_details: dict[str, Any] | None,
    target: Identifier | None = None,
) -> tuple[Response, int]:
    operation, ready = _operation(state)
    now = state.now()
    for permission, can_delegate in permissions:
        existing = next(
            (
                g
                for g in state.grants.values()
                if g.kind == kind
                and g.context.key == ctx.context.key
                and g.authorized.key == authorized.key
                and g.permission == permission
                and (g.target.key if g.target else None) == (target.key if target else None)
                and (g.revoked_at is None or g.revoked_at > now)
            ),
            None,
        )
        if existing is not None:
            existing.can_delegate = can_delegate
            continue
        grant = Grant(
            id=permission_id(),
            kind=kind,
            context=ctx.context,
            authorized=authorized,
            permission=permission,
            description=description,
            author=ctx.subject,
            start_date=ready,
            can_delegate=can_delegate,
            target=target,
            subject_details=subject_details,
        )
        state.grants[grant.id] = grant
    return _accepted(operation)


def _check_identifier(identifier: Identifier) -> None:
    if identifier.type == "Nip" and not nip_valid(identifier.value):
        validation_error(f"subjectIdentifier.value: nieprawidłowy NIP {identifier.value}")


def _check_person_details(details: dict[str, Any]) -> None:
    needed = {
        "PersonByIdentifier": "personById",
        "PersonByFingerprintWithIdentifier": "personByFpWithId",
        "PersonByFingerprintWithoutIdentifier": "personByFpNoId",
    }[details["subjectDetailsType"]]
    if not details.get(needed):
        validation_error(f"subjectDetails.{needed}: wymagane dla {details['subjectDetailsType']}")


# -- grants -------------------------------------------------------------------------------------


@bp.post("/permissions/persons/grants")
@require_access("CredentialsManage")
@validated_body()
def grant_to_person() -> tuple[Response, int]:
    data = body()
    state = current_state()
    ctx = access_context()
    subject = Identifier(data["subjectIdentifier"]["type"], data["subjectIdentifier"]["value"])
    _check_identifier(subject)
    _check_person_details(data["subjectDetails"])
    permissions = list(dict.fromkeys(data["permissions"]))
    if not permissions:
        validation_error("permissions: wymagane co najmniej jedno uprawnienie")
    if "EnforcementOperations" in permissions and "EnforcementOperations" not in owner_permissions(
        state, ctx.context
    ):
        return _failed(state, 430, "EnforcementOperations wymaga roli organu egzekucyjnego.")
    return _add_grants(
        state,
        ctx,
        kind="person",
        authorized=subject,
        permissions=[(p, False) for p in permissions],
        description=data["description"],
        subject_details=data["subjectDetails"],
    )


@bp.post("/permissions/entities/grants")
@require_access("CredentialsManage")
@validated_body()
def grant_to_entity() -> tuple[Response, int]:
    data = body()
    state = current_state()
    ctx = access_context()
    subject = Identifier("Nip", data["subjectIdentifier"]["value"])
    _check_identifier(subject)
    if subject.value == ctx.context.value:
        return _failed(state, 410, "Podmiot nie może nadać uprawnień samemu sobie.")
    permissions = [(p["type"], bool(p.get("canDelegate", False))) for p in data["permissions"]]
    if not permissions:
        validation_error("permissions: wymagane co najmniej jedno uprawnienie")
    return _add_grants(
        state,
        ctx,
        kind="entity",
        authorized=subject,
        permissions=permissions,
        description=data["description"],
        subject_details={"subjectDetailsType": "EntityByIdentifier", **data["subjectDetails"]},
    )


@bp.post("/permissions/authorizations/grants")
@require_access("CredentialsManage")
@validated_body()
def grant_authorization() -> tuple[Response, int]:
    data = body()
    state = current_state()
    ctx = access_context()
    subject = Identifier(data["subjectIdentifier"]["type"], data["subjectIdentifier"]["value"])
    _check_identifier(subject)
    if subject.value == ctx.context.value:
        return _failed(state, 410, "Podmiot nie może nadać uprawnień samemu sobie.")
    return _add_grants(
        state,
        ctx,
        kind="authorization",
        authorized=subject,
        permissions=[(data["permission"], False)],
        description=data["description"],
        subject_details={"subjectDetailsType": "EntityByIdentifier", **data["subjectDetails"]},
    )


@bp.post("/permissions/indirect/grants")
@require_access("CredentialsManage")
@validated_body()
def grant_indirect() -> tuple[Response, int]:
    """An intermediary (office) lets its staff act in its clients' contexts (Pattern A)."""
    data = body()
    state = current_state()
    ctx = access_context()
    subject = Identifier(data["subjectIdentifier"]["type"], data["subjectIdentifier"]["value"])
    _check_identifier(subject)
    _check_person_details(data["subjectDetails"])
    raw_target = data.get("targetIdentifier") or {"type": "AllPartners"}
    target = Identifier(raw_target["type"], raw_target.get("value") or "")
    if target.type != "AllPartners" and not target.value:
        validation_error("targetIdentifier.value: wymagane dla typu " + target.type)
    permissions = list(dict.fromkeys(data["permissions"]))
    if not permissions:
        validation_error("permissions: wymagane co najmniej jedno uprawnienie")
    if ctx.context.type != "Nip":
        return _failed(state, 450, "Uprawnienia pośrednie nadaje pośrednik w kontekście NIP.")
    if target.type != "AllPartners":
        client = Identifier(target.type, target.value)
        missing = set(permissions) - delegable_from(state, client, ctx.context.value)
        if missing:
            return _failed(
                state,
                440,
                f"Klient {target.value} nie nadał pośrednikowi z prawem delegowania: "
                + ", ".join(sorted(missing)),
            )
    return _add_grants(
        state,
        ctx,
        kind="indirect",
        authorized=subject,
        permissions=[(p, False) for p in permissions],
        description=data["description"],
        subject_details=data["subjectDetails"],
        target=target,
    )


# -- revocations ---------------------------------------------------------------------------------


def _revoke(permission_id_: str, kinds: tuple[str, ...]) -> tuple[Response, int]:
    state = current_state()
    ctx = access_context()
    grant = state.grants.get(permission_id_)
    now = state.now()
    if (
        grant is None
        or grant.kind not in kinds
        or grant.context.key != ctx.context.key
        or (grant.revoked_at is not None and grant.revoked_at <= now)
    ):
        validation_error(f"Uprawnienie {permission_id_} nie istnieje w bieżącym kontekście.")
    operation, ready = _operation(state)
    grant.revoked_at = ready
    return _accepted(operation)


@bp.delete("/permissions/common/grants/<permissionId>")
@require_access("CredentialsManage", "VatUeManage", "SubunitManage")
def revoke_common(permissionId: str) -> tuple[Response, int]:
    return _revoke(permissionId, ("person", "entity", "indirect", "testdata", "subunit"))


@bp.delete("/permissions/authorizations/grants/<permissionId>")
@require_access("CredentialsManage")
def revoke_authorization(permissionId: str) -> tuple[Response, int]:
    return _revoke(permissionId, ("authorization",))


# -- queries -------------------------------------------------------------------------------------


def _page(items: list[dict[str, Any]], key: str) -> Response:
    size = page_size(10, 100)
    offset = page_offset() * size
    return jsonify({key: items[offset : offset + size], "hasMore": offset + size < len(items)})


def _sorted(grants: list[Grant]) -> list[Grant]:
    return sorted(grants, key=lambda g: (-g.start_date.timestamp(), g.id))


def _author_json(author: Identifier) -> dict[str, Any]:
    return {"type": "System"} if author.type == "System" else author.as_json()


def _target_json(target: Identifier | None) -> dict[str, Any] | None:
    if target is None:
        return None
    return {"type": target.type} if target.type == "AllPartners" else target.as_json()


def _details_json(grant: Grant) -> dict[str, Any]:
    details = grant.subject_details or {}
    result: dict[str, Any] = {}
    if details.get("subjectDetailsType") == "EntityByIdentifier":
        result["subjectEntityDetails"] = {
            "subjectDetailsType": "EntityByIdentifier",
            "fullName": details["fullName"],
        }
    elif details:
        person = (
            details.get("personById")
            or details.get("personByFpWithId")
            or details.get("personByFpNoId")
            or {}
        )
        result["subjectPersonDetails"] = {
            "subjectDetailsType": details["subjectDetailsType"],
            "firstName": person["firstName"],
            "lastName": person["lastName"],
        }
    return result


def _matches(grant: Grant, filters: dict[str, Any], state: State) -> bool:
    if filters.get("permissionTypes") and grant.permission not in filters["permissionTypes"]:
        return False
    state_filter = filters.get("permissionState")
    if state_filter and state_filter != "Active":
        return False
    for name, value in (
        ("contextIdentifier", grant.context),
        ("authorizedIdentifier", grant.authorized),
    ):
        wanted = filters.get(name)
        if wanted and (wanted["type"], wanted["value"]) != value.key:
            return False
    author = filters.get("authorIdentifier")
    if author and (
        author["type"] != grant.author.type or author.get("value") not in (None, grant.author.value)
    ):
        return False
    target = filters.get("targetIdentifier")
    if target:
        if grant.target is None or target["type"] != grant.target.type:
            return False
        if target.get("value") and target["value"] != grant.target.value:
            return False
    return True


@bp.post("/permissions/query/personal/grants")
@require_access()
@validated_body(optional=True)
def query_personal() -> Response:
    state = current_state()
    ctx = access_context()
    own_nips = nips_of_subject(state, ctx.subject)
    grants = [
        g
        for g in active_grants(state, state.now())
        if (g.authorized.key == ctx.subject.key and g.kind != "entity")
        or (g.kind in ("entity", "authorization") and g.authorized.value in own_nips)
    ]
    filters = body()
    items = []
    for g in _sorted([g for g in grants if _matches(g, filters, state)]):
        item: dict[str, Any] = {
            "id": g.id,
            "contextIdentifier": g.context.as_json(),
            "authorizedIdentifier": g.authorized.as_json(),
            "permissionScope": g.permission,
            "description": g.description,
            "permissionState": "Active",
            "startDate": utc_timestamp(g.start_date),
            "canDelegate": g.can_delegate,
            **_details_json(g),
        }
        if g.target is not None:
            item["targetIdentifier"] = _target_json(g.target)
        items.append(item)
    return _page(items, "permissions")


@bp.post("/permissions/query/persons/grants")
@require_access("CredentialsManage", "CredentialsRead", "SubunitManage")
@validated_body()
def query_persons() -> Response:
    state = current_state()
    ctx = access_context()
    filters = body()
    here = ctx.context.key
    if filters["queryType"] == "PermissionsGrantedInCurrentContext":
        # "Granted in the current context by the authenticated client" (contract): its own
        # direct grants to work here, and the indirect grants for the context's clients.
        def listed(g: Grant) -> bool:
            return g.context.key == here and (
                g.kind == "indirect" or (g.kind == "person" and g.author.key == ctx.subject.key)
            )
    else:
        # "Persons and entities that may work in the current context" (contract): direct
        # grants to persons, the entity grants this context gave (e.g. to its accounting
        # office), and indirect grants an intermediary made with this context as target.
        def listed(g: Grant) -> bool:
            if g.kind == "indirect":
                return g.target is not None and g.target.value == ctx.context.value
            return g.kind in ("person", "testdata", "entity") and g.context.key == here

    grants = [
        g for g in active_grants(state, state.now()) if listed(g) and _matches(g, filters, state)
    ]
    items = []
    for g in _sorted(grants):
        item: dict[str, Any] = {
            "id": g.id,
            "authorizedIdentifier": g.authorized.as_json(),
            "contextIdentifier": g.context.as_json(),
            "authorIdentifier": _author_json(g.author),
            "permissionScope": g.permission,
            "description": g.description,
            "permissionState": "Active",
            "startDate": utc_timestamp(g.start_date),
            "canDelegate": g.can_delegate,
            **_details_json(g),
        }
        if g.target is not None:
            item["targetIdentifier"] = _target_json(g.target)
        items.append(item)
    return _page(items, "permissions")


@bp.post("/permissions/query/entities/grants")
@require_access("CredentialsManage", "CredentialsRead")
@validated_body(optional=True)
def query_entities() -> Response:
    """Invoice permissions the current context received from other entities (its clients)."""
    state = current_state()
    ctx = access_context()
    wanted = (body() or {}).get("contextIdentifier")
    grants = [
        g
        for g in active_grants(state, state.now())
        if g.kind == "entity"
        and g.authorized.value == ctx.context.value
        and (not wanted or (wanted["type"], wanted["value"]) == g.context.key)
    ]
    items = [
        {
            "id": g.id,
            "contextIdentifier": g.context.as_json(),
            "permissionScope": g.permission,
            "description": g.description,
            "startDate": utc_timestamp(g.start_date),
            "canDelegate": g.can_delegate,
        }
        for g in _sorted(grants)
    ]
    return _page(items, "permissions")


@bp.get("/permissions/query/entities/roles")
@require_access("CredentialsManage", "CredentialsRead")
def query_roles() -> Response:
    state = current_state()
    subject = state.subjects.get(access_context().context.value)
    roles = []
    if subject is not None:
        roles = [
            {
                "role": role,
                "description": subject.description,
                "startDate": utc_timestamp(subject.created),
            }
            for role in subject.roles
        ]
    bailiffs = [
        p
        for p in state.persons.values()
        if p.nip == access_context().context.value and p.is_bailiff
    ]
    roles += [
        {
            "role": "CourtBailiff",
            "description": p.description,
            "startDate": utc_timestamp(p.created),
        }
        for p in bailiffs
    ]
    size = page_size(10, 100)
    offset = page_offset() * size
    return jsonify({"roles": roles[offset : offset + size], "hasMore": offset + size < len(roles)})


@bp.get("/permissions/attachments/status")
@require_access("CredentialsManage", "CredentialsRead")
def attachments_status() -> Response:
    subject = current_state().subjects.get(access_context().context.value)
    result: dict[str, Any] = {"isAttachmentAllowed": bool(subject and subject.attachments_allowed)}
    if subject is not None and subject.attachments_revoked:
        result["revokedDate"] = subject.attachments_revoked + "T00:00:00+00:00"
    return jsonify(result)
