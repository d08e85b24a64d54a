"""KSeF certificate requests and responses (``/certificates``, digest §3)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ksef.models._common import Identifier, StatusInfo, _dt, _list, _req_dt, _str


@dataclass(frozen=True, slots=True)
class Limit:
    remaining: int
    limit: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Limit:
        return cls(remaining=int(data["remaining"]), limit=int(data["limit"]))


@dataclass(frozen=True, slots=True)
class CertificateLimits:
    can_request: bool
    enrollment: Limit
    certificate: Limit

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CertificateLimits:
        return cls(
            can_request=bool(data["canRequest"]),
            enrollment=Limit.from_json(data["enrollment"]),
            certificate=Limit.from_json(data["certificate"]),
        )


@dataclass(frozen=True, slots=True)
class CertificateEnrollmentData:
    """The subject DN to put into the CSR, exactly as returned (Gotcha 7)."""

    common_name: str
    country_name: str
    given_name: str | None = None
    surname: str | None = None
    serial_number: str | None = None
    unique_identifier: str | None = None
    organization_name: str | None = None
    organization_identifier: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CertificateEnrollmentData:
        return cls(
            common_name=str(data["commonName"]),
            country_name=str(data["countryName"]),
            given_name=_str(data.get("givenName")),
            surname=_str(data.get("surname")),
            serial_number=_str(data.get("serialNumber")),
            unique_identifier=_str(data.get("uniqueIdentifier")),
            organization_name=_str(data.get("organizationName")),
            organization_identifier=_str(data.get("organizationIdentifier")),
        )

    def to_json(self) -> dict[str, str]:
        """The response's fields again (empty ones left out), as ``build_csr`` takes them."""
        fields = {
            "commonName": self.common_name,
            "countryName": self.country_name,
            "givenName": self.given_name,
            "surname": self.surname,
            "serialNumber": self.serial_number,
            "uniqueIdentifier": self.unique_identifier,
            "organizationName": self.organization_name,
            "organizationIdentifier": self.organization_identifier,
        }
        return {name: value for name, value in fields.items() if value}


@dataclass(frozen=True, slots=True)
class CertificateEnrollment:
    reference_number: str
    timestamp: datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CertificateEnrollment:
        return cls(str(data["referenceNumber"]), _req_dt(data, "timestamp"))


@dataclass(frozen=True, slots=True)
class CertificateEnrollmentStatus:
    request_date: datetime
    status: StatusInfo
    certificate_serial_number: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CertificateEnrollmentStatus:
        return cls(
            request_date=_req_dt(data, "requestDate"),
            status=StatusInfo.from_json(data["status"]),
            certificate_serial_number=_str(data.get("certificateSerialNumber")),
        )


@dataclass(frozen=True, slots=True)
class RetrievedCertificate:
    certificate_der: bytes = field(repr=False)
    name: str
    serial_number: str
    certificate_type: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RetrievedCertificate:
        return cls(
            certificate_der=base64.b64decode(data["certificate"], validate=True),
            name=str(data["certificateName"]),
            serial_number=str(data["certificateSerialNumber"]),
            certificate_type=str(data["certificateType"]),
        )


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """One item of ``POST /certificates/query``."""

    serial_number: str
    name: str
    type: str
    common_name: str
    status: str
    subject_identifier: Identifier | None
    valid_from: datetime
    valid_to: datetime
    last_use_date: datetime | None
    request_date: datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CertificateInfo:
        return cls(
            serial_number=str(data["certificateSerialNumber"]),
            name=str(data["name"]),
            type=str(data["type"]),
            common_name=str(data["commonName"]),
            status=str(data["status"]),
            subject_identifier=Identifier.from_json(data.get("subjectIdentifier")),
            valid_from=_req_dt(data, "validFrom"),
            valid_to=_req_dt(data, "validTo"),
            last_use_date=_dt(data.get("lastUseDate")),
            request_date=_req_dt(data, "requestDate"),
        )


@dataclass(frozen=True, slots=True)
class CertificatePage:
    certificates: tuple[CertificateInfo, ...]
    has_more: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CertificatePage:
        items = tuple(CertificateInfo.from_json(i) for i in _list(data.get("certificates")))
        return cls(items, bool(data.get("hasMore")))
