"""Permission operations of :class:`ksef.client.KsefClient` (``/permissions``, digest §4).

Grants and revocations are asynchronous: they return an operation reference whose status
:meth:`PermissionOperations.get_permission_operation_status` reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ksef._http import AccessToken, KsefTransport, drop_none, read_json
from ksef.models import (
    EntityPermissionGrant,
    Identifier,
    PermissionGrant,
    PermissionPage,
    PersonSubjectDetails,
    StatusInfo,
)

__all__ = ["PermissionOperations"]


class PermissionOperations(KsefTransport):
    def grant_person_permissions(
        self,
        access_token: AccessToken,
        *,
        subject: Identifier,
        permissions: Sequence[str],
        description: str,
        subject_details: PersonSubjectDetails,
    ) -> str:
        """``POST /permissions/persons/grants`` → operation reference (poll its status)."""
        body = {
            "subjectIdentifier": subject.to_json(),
            "permissions": list(permissions),
            "description": description,
            "subjectDetails": subject_details.to_json(),
        }
        return self._operation("/permissions/persons/grants", access_token, body)

    def grant_entity_permissions(
        self,
        access_token: AccessToken,
        *,
        nip: str,
        permissions: Mapping[str, bool],
        description: str,
        full_name: str,
    ) -> str:
        """``POST /permissions/entities/grants``; ``permissions`` maps type → ``canDelegate``
        (``{"InvoiceRead": True}`` lets an office re-delegate to its staff, §4.4)."""
        body = {
            "subjectIdentifier": {"type": "Nip", "value": nip},
            "permissions": [
                {"type": kind, "canDelegate": can_delegate}
                for kind, can_delegate in permissions.items()
            ],
            "description": description,
            "subjectDetails": {"fullName": full_name},
        }
        return self._operation("/permissions/entities/grants", access_token, body)

    def grant_indirect_permissions(
        self,
        access_token: AccessToken,
        *,
        subject: Identifier,
        permissions: Sequence[str],
        description: str,
        subject_details: PersonSubjectDetails,
        target: Identifier | None = None,
    ) -> str:
        """``POST /permissions/indirect/grants``; ``target`` None or AllPartners = general."""
        body: dict[str, Any] = {
            "subjectIdentifier": subject.to_json(),
            "permissions": list(permissions),
            "description": description,
            "subjectDetails": subject_details.to_json(),
        }
        if target is not None:
            body["targetIdentifier"] = target.to_json()
        return self._operation("/permissions/indirect/grants", access_token, body)

    def grant_authorization(
        self,
        access_token: AccessToken,
        *,
        subject: Identifier,
        permission: str,
        description: str,
        full_name: str,
    ) -> str:
        """``POST /permissions/authorizations/grants`` (SelfInvoicing, TaxRepresentative...)."""
        body = {
            "subjectIdentifier": subject.to_json(),
            "permission": permission,
            "description": description,
            "subjectDetails": {"fullName": full_name},
        }
        return self._operation("/permissions/authorizations/grants", access_token, body)

    def _operation(self, path: str, token: AccessToken, body: Any) -> str:
        return str(self._post(path, token, body, idempotent=False)["referenceNumber"])

    def revoke_permission(self, access_token: AccessToken, permission_id: str) -> str:
        """``DELETE /permissions/common/grants/{id}`` → operation reference."""
        response = self._send(
            "DELETE",
            f"/permissions/common/grants/{permission_id}",
            idempotent=False,
            token=access_token,
        )
        return str(read_json(response)["referenceNumber"])

    def revoke_authorization(self, access_token: AccessToken, permission_id: str) -> str:
        """``DELETE /permissions/authorizations/grants/{id}`` → operation reference."""
        response = self._send(
            "DELETE",
            f"/permissions/authorizations/grants/{permission_id}",
            idempotent=False,
            token=access_token,
        )
        return str(read_json(response)["referenceNumber"])

    def get_permission_operation_status(
        self, access_token: AccessToken, reference_number: str
    ) -> StatusInfo:
        """``GET /permissions/operations/{ref}``: 100 pending, 200 effective, else failed."""
        data = self._get(f"/permissions/operations/{reference_number}", access_token)
        return StatusInfo.from_json(data["status"])

    def get_attachment_permission_status(self, access_token: AccessToken) -> bool:
        data = self._get("/permissions/attachments/status", access_token)
        return bool(data.get("isAttachmentAllowed"))

    def query_personal_grants(
        self,
        access_token: AccessToken,
        *,
        context: Identifier | None = None,
        target: Identifier | None = None,
        permission_types: Sequence[str] = (),
        state: str | None = None,
        page_offset: int = 0,
        page_size: int = 100,
    ) -> PermissionPage[PermissionGrant]:
        """``POST /permissions/query/personal/grants`` — my own permissions in this context."""
        body = drop_none(
            {
                "contextIdentifier": context.to_json() if context else None,
                "targetIdentifier": target.to_json() if target else None,
                "permissionTypes": list(permission_types) or None,
                "permissionState": state,
            }
        )
        data = self._query(
            "/permissions/query/personal/grants", access_token, body, page_offset, page_size
        )
        return PermissionPage(
            tuple(PermissionGrant.from_json(i) for i in data["permissions"]), bool(data["hasMore"])
        )

    def query_person_grants(
        self,
        access_token: AccessToken,
        *,
        query_type: str = "PermissionsGrantedInCurrentContext",
        author: Identifier | None = None,
        authorized: Identifier | None = None,
        context: Identifier | None = None,
        target: Identifier | None = None,
        permission_types: Sequence[str] = (),
        state: str | None = None,
        page_offset: int = 0,
        page_size: int = 100,
    ) -> PermissionPage[PermissionGrant]:
        """``POST /permissions/query/persons/grants``; ``query_type`` is required by KSeF."""
        body = drop_none(
            {
                "queryType": query_type,
                "authorIdentifier": author.to_json() if author else None,
                "authorizedIdentifier": authorized.to_json() if authorized else None,
                "contextIdentifier": context.to_json() if context else None,
                "targetIdentifier": target.to_json() if target else None,
                "permissionTypes": list(permission_types) or None,
                "permissionState": state,
            }
        )
        data = self._query(
            "/permissions/query/persons/grants", access_token, body, page_offset, page_size
        )
        return PermissionPage(
            tuple(PermissionGrant.from_json(i) for i in data["permissions"]), bool(data["hasMore"])
        )

    def query_entity_grants(
        self,
        access_token: AccessToken,
        *,
        context: Identifier | None = None,
        page_offset: int = 0,
        page_size: int = 100,
    ) -> PermissionPage[EntityPermissionGrant]:
        """``POST /permissions/query/entities/grants`` — which clients granted this context
        invoice rights (how an office discovers its clients, §4.4)."""
        body = drop_none({"contextIdentifier": context.to_json() if context else None})
        data = self._query(
            "/permissions/query/entities/grants", access_token, body, page_offset, page_size
        )
        return PermissionPage(
            tuple(EntityPermissionGrant.from_json(i) for i in data["permissions"]),
            bool(data["hasMore"]),
        )

    def _query(
        self, path: str, token: AccessToken, body: Any, page_offset: int, page_size: int
    ) -> Any:
        params = {"pageOffset": page_offset, "pageSize": page_size}
        return self._post(path, token, body, idempotent=True, params=params)
