"""Permission grants: the subject details a grant needs and the query results (digest §4)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from ksef.models._common import Identifier, _req_dt, _str

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PersonSubjectDetails:
    """``PersonPermissionSubjectDetails`` — mandatory on every person grant (Gotcha 11).

    Use :meth:`by_identifier` for a NIP/PESEL subject; :meth:`by_fingerprint` for a
    certificate fingerprint with (``identifier``) or without (``birth_date`` + ID document)
    a Polish identifier.
    """

    first_name: str
    last_name: str
    identifier: Identifier | None = None
    birth_date: date | None = None
    id_document_type: str | None = None
    id_document_number: str | None = None
    id_document_country: str | None = None
    by_fingerprint: bool = False

    @classmethod
    def by_identifier(cls, first_name: str, last_name: str) -> PersonSubjectDetails:
        return cls(first_name, last_name)

    @classmethod
    def for_fingerprint(
        cls,
        first_name: str,
        last_name: str,
        *,
        identifier: Identifier | None = None,
        birth_date: date | None = None,
        id_document: tuple[str, str, str] | None = None,
    ) -> PersonSubjectDetails:
        """``id_document`` is ``(type, number, ISO alpha-2 country)``."""
        doc_type, number, country = id_document or (None, None, None)
        return cls(
            first_name,
            last_name,
            identifier=identifier,
            birth_date=birth_date,
            id_document_type=doc_type,
            id_document_number=number,
            id_document_country=country,
            by_fingerprint=True,
        )

    def to_json(self) -> dict[str, Any]:
        names = {"firstName": self.first_name, "lastName": self.last_name}
        if not self.by_fingerprint:
            return {"subjectDetailsType": "PersonByIdentifier", "personById": names}
        if self.identifier is not None:
            return {
                "subjectDetailsType": "PersonByFingerprintWithIdentifier",
                "personByFpWithId": {**names, "identifier": self.identifier.to_json()},
            }
        if self.birth_date is None or self.id_document_number is None:
            raise ValueError("a fingerprint without identifier needs birth date and ID document")
        return {
            "subjectDetailsType": "PersonByFingerprintWithoutIdentifier",
            "personByFpNoId": {
                **names,
                "birthDate": self.birth_date.isoformat(),
                "idDocument": {
                    "type": self.id_document_type,
                    "number": self.id_document_number,
                    "country": self.id_document_country,
                },
            },
        }


def _subject_name(data: Mapping[str, Any]) -> str | None:
    person = data.get("subjectPersonDetails")
    if isinstance(person, dict):
        return f"{person.get('firstName', '')} {person.get('lastName', '')}".strip() or None
    entity = data.get("subjectEntityDetails")
    if isinstance(entity, dict):
        return _str(entity.get("fullName"))
    return None


@dataclass(frozen=True, slots=True)
class PermissionGrant:
    """An item of the personal / persons grant queries.

    ``author_identifier`` is ``None`` for personal grants (the contract has none there).
    """

    id: str
    scope: str
    description: str
    state: str
    start_date: datetime
    can_delegate: bool
    context_identifier: Identifier | None
    authorized_identifier: Identifier | None
    target_identifier: Identifier | None
    author_identifier: Identifier | None
    subject_name: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PermissionGrant:
        return cls(
            id=str(data["id"]),
            scope=str(data["permissionScope"]),
            description=str(data.get("description") or ""),
            state=str(data.get("permissionState") or ""),
            start_date=_req_dt(data, "startDate"),
            can_delegate=bool(data.get("canDelegate")),
            context_identifier=Identifier.from_json(data.get("contextIdentifier")),
            authorized_identifier=Identifier.from_json(data.get("authorizedIdentifier")),
            target_identifier=Identifier.from_json(data.get("targetIdentifier")),
            author_identifier=Identifier.from_json(data.get("authorIdentifier")),
            subject_name=_subject_name(data),
        )


@dataclass(frozen=True, slots=True)
class EntityPermissionGrant:
    """``POST /permissions/query/entities/grants``: a client (``context_identifier``) that
    granted the current context ``InvoiceRead``/``InvoiceWrite``."""

    id: str
    context_identifier: Identifier | None
    scope: str
    description: str
    start_date: datetime
    can_delegate: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EntityPermissionGrant:
        return cls(
            id=str(data["id"]),
            context_identifier=Identifier.from_json(data.get("contextIdentifier")),
            scope=str(data["permissionScope"]),
            description=str(data.get("description") or ""),
            start_date=_req_dt(data, "startDate"),
            can_delegate=bool(data.get("canDelegate")),
        )


@dataclass(frozen=True, slots=True)
class PermissionPage(Generic[T]):
    items: tuple[T, ...]
    has_more: bool
