"""KSeF certificates: limits, enrollment data, CSR enrollment, retrieve, query, revoke.

Only XAdES-authenticated subjects may read enrollment data, enrol or revoke (25001 /
25002 for KSeF-token sessions, digest §3 and Gotcha 8). A certificate belongs to the
authenticated subject, not to the context of the access token.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from flask import Blueprint, Response, jsonify

from ksef_simulator.contract import body, validated_body
from ksef_simulator.errors import bad_request, forbidden, gone, utc_timestamp
from ksef_simulator.identifiers import reference_number
from ksef_simulator.limits import subject_limits
from ksef_simulator.paging import page_offset, page_size
from ksef_simulator.rights import nips_of_subject
from ksef_simulator.security import access_context, require_access
from ksef_simulator.state import AsyncOperation, Certificate, Identifier, State, current_state

bp = Blueprint("certificates", __name__)

RETENTION = timedelta(days=30)
VALIDITY = timedelta(days=730)  # observed on TEST: validFrom + 2 years
ALLOWED_CSR_HASHES = (hashes.SHA1, hashes.SHA256, hashes.SHA384, hashes.SHA512)
DN_FIELDS = {
    "commonName": NameOID.COMMON_NAME,
    "countryName": NameOID.COUNTRY_NAME,
    "givenName": NameOID.GIVEN_NAME,
    "surname": NameOID.SURNAME,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "uniqueIdentifier": NameOID.X500_UNIQUE_IDENTIFIER,
    "organizationName": NameOID.ORGANIZATION_NAME,
    "organizationIdentifier": NameOID.ORGANIZATION_IDENTIFIER,
}


def _is_xades(code: int) -> None:
    if access_context().auth_method != "xades":
        bad_request(code, "Zaloguj się podpisem XAdES (kwalifikowanym lub certyfikatem KSeF).")


def enrollment_data(state: State) -> dict[str, str]:
    """The DN the CSR must carry, in ETSI form (TINPL-/PNOPL-/VATPL-) like TEST returns."""
    ctx = access_context()
    operation = state.auth_operations.get(ctx.reference_number)
    source = (operation.certificate_subject if operation else None) or {}

    def attr(oid: x509.ObjectIdentifier) -> str | None:
        return source.get(oid.dotted_string)

    subject = ctx.subject
    data: dict[str, str | None] = {
        "commonName": attr(NameOID.COMMON_NAME) or f"{subject.type} {subject.value}",
        "countryName": attr(NameOID.COUNTRY_NAME) or "PL",
    }
    if subject.type == "Pesel":
        data |= {
            "givenName": attr(NameOID.GIVEN_NAME),
            "surname": attr(NameOID.SURNAME),
            "serialNumber": f"PNOPL-{subject.value}",
        }
    elif subject.type == "Nip" and attr(NameOID.ORGANIZATION_IDENTIFIER):
        data |= {
            "organizationName": attr(NameOID.ORGANIZATION_NAME) or data["commonName"],
            "organizationIdentifier": f"VATPL-{subject.value}",
        }
    elif subject.type == "Nip":
        data |= {
            "givenName": attr(NameOID.GIVEN_NAME),
            "surname": attr(NameOID.SURNAME),
            "serialNumber": f"TINPL-{subject.value}",
        }
    return {k: v for k, v in data.items() if v}


def _owned(state: State, subject: Identifier) -> list[Certificate]:
    """Certificates of the subject, including those of a PESEL linked to its NIP."""
    nips = nips_of_subject(state, subject)
    return [
        c
        for c in state.certificates.values()
        if c.owner.key == subject.key or (c.owner.type == "Nip" and c.owner.value in nips)
    ]


def _status(state: State, certificate: Certificate) -> str:
    if certificate.status == "Active" and certificate.valid_to < state.now():
        return "Expired"
    return certificate.status


def _counts(state: State, subject: Identifier) -> tuple[int, int]:
    enrollments = sum(
        1 for e in state.enrollments.values() if e.owner == subject.key and e.final_code != 400
    )
    active = sum(1 for c in _owned(state, subject) if _status(state, c) == "Active")
    return enrollments, active


@bp.get("/certificates/limits")
@require_access()
def limits() -> Response:
    state = current_state()
    subject = access_context().subject
    allowed = subject_limits(state, subject.key)
    enrollments, active = _counts(state, subject)
    enrollment_left = max(0, allowed["maxEnrollments"] - enrollments)
    certificate_left = max(0, allowed["maxCertificates"] - active)
    return jsonify(
        {
            "canRequest": enrollment_left > 0 and certificate_left > 0,
            "enrollment": {"remaining": enrollment_left, "limit": allowed["maxEnrollments"]},
            "certificate": {"remaining": certificate_left, "limit": allowed["maxCertificates"]},
        }
    )


@bp.get("/certificates/enrollments/data")
@require_access()
def get_enrollment_data() -> Response:
    _is_xades(25001)
    return jsonify(enrollment_data(current_state()))


@bp.post("/certificates/enrollments")
@require_access()
@validated_body()
def enroll() -> tuple[Response, int]:
    _is_xades(25002)
    data = body()
    state = current_state()
    subject = access_context().subject
    csr = _parse_csr(data["csr"])
    _check_csr_subject(csr, enrollment_data(state))
    allowed = subject_limits(state, subject.key)
    enrollments, active = _counts(state, subject)
    if enrollments >= allowed["maxEnrollments"]:
        bad_request(25006, f"Limit wniosków: {allowed['maxEnrollments']}.")
    if active >= allowed["maxCertificates"]:
        bad_request(25007, f"Limit certyfikatów: {allowed['maxCertificates']}.")
    now = state.now()
    ref = reference_number("EC", now)
    operation = AsyncOperation(
        reference_number=ref,
        created=now,
        ready_at=now + timedelta(seconds=state.config.enrollment_processing_seconds),
        final_code=200,
        final_description="Certyfikat wydany",
        owner=subject.key,
    )
    spki = csr.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if any(
        c.public_key_sha256 == hashlib.sha256(spki).hexdigest() and c.owner.key != subject.key
        for c in state.certificates.values()
    ):
        operation.final_code = 400
        operation.final_description = "Wniosek odrzucony"
        operation.final_details = ["Klucz publiczny został już certyfikowany dla innego podmiotu."]
    else:
        operation.data["serial"] = _issue(state, csr, data, subject, now)
    state.enrollments[ref] = operation
    return jsonify({"referenceNumber": ref, "timestamp": utc_timestamp(now)}), 202


def _parse_csr(encoded: str) -> x509.CertificateSigningRequest:
    try:
        csr = x509.load_der_x509_csr(base64.b64decode(encoded, validate=True))
    except ValueError as exc:
        bad_request(25004, f"Nieczytelny CSR (oczekiwano Base64 z DER PKCS#10): {exc}")
    if not csr.is_signature_valid:
        bad_request(25004, "Podpis CSR jest nieprawidłowy.")
    key = csr.public_key()
    rsa_ok = isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048
    ec_ok = isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    if not (rsa_ok or ec_ok):
        bad_request(25010, "Dozwolone klucze: RSA 2048 albo EC P-256.")
    algorithm = csr.signature_hash_algorithm
    if not isinstance(algorithm, ALLOWED_CSR_HASHES):
        bad_request(25011, "Dozwolone podpisy CSR: RSA/RSA-PSS/ECDSA z SHA-1/256/384/512.")
    return csr


def _check_csr_subject(csr: x509.CertificateSigningRequest, expected: dict[str, str]) -> None:
    wanted = {(DN_FIELDS[k].dotted_string, v) for k, v in expected.items()}
    present = {(a.oid.dotted_string, str(a.value)) for a in csr.subject}
    if wanted != present:
        missing = sorted(v for _, v in wanted - present)
        extra = sorted(v for _, v in present - wanted)
        bad_request(
            25003,
            f"DN w CSR musi być równy danym z /certificates/enrollments/data "
            f"(brakuje: {missing}, nadmiarowe: {extra}).",
        )


def _issue(
    state: State,
    csr: x509.CertificateSigningRequest,
    data: dict[str, Any],
    subject: Identifier,
    now: datetime,
) -> str:
    valid_from = datetime.fromisoformat(data["validFrom"]) if data.get("validFrom") else now
    serial, der = state.keys.issue_certificate(
        csr,
        certificate_type=data["certificateType"],
        valid_from=valid_from,
        valid_to=valid_from + VALIDITY,
    )
    common_name = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    certificate = Certificate(
        serial=serial,
        name=data["certificateName"],
        type=data["certificateType"],
        common_name=str(common_name[0].value) if common_name else "",
        owner=subject,
        der=der,
        valid_from=valid_from,
        valid_to=valid_from + VALIDITY,
        request_date=now,
        fingerprint=hashlib.sha256(der).hexdigest().upper(),
        public_key_sha256=hashlib.sha256(
            csr.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ).hexdigest(),
    )
    state.certificates[serial] = certificate
    return serial


@bp.get("/certificates/enrollments/<referenceNumber>")
@require_access()
def enrollment_status(referenceNumber: str) -> Response:
    state = current_state()
    operation = state.enrollments.get(referenceNumber)
    if operation is None or operation.owner != access_context().subject.key:
        bad_request(25005, f"Wniosek {referenceNumber} nie istnieje.")
    if state.now() > operation.created + RETENTION:
        gone("Status wniosku jest przechowywany 30 dni.")
    result: dict[str, Any] = {"requestDate": utc_timestamp(operation.created)}
    if state.now() < operation.ready_at:
        result["status"] = {"code": 100, "description": "Wniosek przyjęty do realizacji"}
        return jsonify(result)
    status: dict[str, Any] = {
        "code": operation.final_code,
        "description": operation.final_description,
    }
    if operation.final_details:
        status["details"] = operation.final_details
    result["status"] = status
    if operation.data.get("serial"):
        result["certificateSerialNumber"] = operation.data["serial"]
    return jsonify(result)


def _ready(state: State, serial: str) -> bool:
    return any(
        e.data.get("serial") == serial and state.now() >= e.ready_at
        for e in state.enrollments.values()
    )


@bp.post("/certificates/retrieve")
@require_access()
@validated_body()
def retrieve() -> Response:
    state = current_state()
    owned = {c.serial: c for c in _owned(state, access_context().subject)}
    items = []
    for serial in body()["certificateSerialNumbers"]:
        certificate = owned.get(serial)
        if certificate is None or not _ready(state, serial):
            bad_request(25008, f"Certyfikat {serial} nie istnieje.")
        items.append(
            {
                "certificate": base64.b64encode(certificate.der).decode(),
                "certificateName": certificate.name,
                "certificateSerialNumber": certificate.serial,
                "certificateType": certificate.type,
            }
        )
    return jsonify({"certificates": items})


@bp.post("/certificates/query")
@require_access()
@validated_body()
def query() -> Response:
    state = current_state()
    filters = body()
    found = []
    for c in _owned(state, access_context().subject):
        status = _status(state, c)
        if not _ready(state, c.serial):
            continue
        if filters.get("certificateSerialNumber") not in (None, c.serial):
            continue
        if filters.get("name") and filters["name"].lower() not in c.name.lower():
            continue
        if filters.get("type") not in (None, c.type) or filters.get("status") not in (None, status):
            continue
        if filters.get("expiresAfter") and c.valid_to <= datetime.fromisoformat(
            filters["expiresAfter"]
        ):
            continue
        found.append((c, status))
    found.sort(key=lambda item: item[0].request_date, reverse=True)
    size = page_size(10, 50)
    offset = page_offset() * size
    page = found[offset : offset + size]
    return jsonify(
        {
            "certificates": [_list_item(c, status) for c, status in page],
            "hasMore": offset + size < len(found),
        }
    )


def _list_item(c: Certificate, status: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "certificateSerialNumber": c.serial,
        "name": c.name,
        "type": c.type,
        "commonName": c.common_name,
        "status": status,
        "subjectIdentifier": c.owner.as_json(),
        "validFrom": utc_timestamp(c.valid_from),
        "validTo": utc_timestamp(c.valid_to),
        "requestDate": utc_timestamp(c.request_date),
    }
    if c.last_use:
        item["lastUseDate"] = utc_timestamp(c.last_use)
    return item


@bp.post("/certificates/<certificateSerialNumber>/revoke")
@require_access()
@validated_body(optional=True)
def revoke(certificateSerialNumber: str) -> Response:
    if access_context().auth_method != "xades":
        forbidden("auth-method-not-allowed", authenticationMethodCategory="Token")
    state = current_state()
    owned = {c.serial: c for c in _owned(state, access_context().subject)}
    certificate = owned.get(certificateSerialNumber)
    if certificate is None:
        bad_request(25008, f"Certyfikat {certificateSerialNumber} nie istnieje.")
    if _status(state, certificate) != "Active":
        bad_request(25009, f"Status certyfikatu: {_status(state, certificate)}.")
    certificate.status = "Revoked"
    certificate.revocation_reason = body().get("revocationReason") or "Unspecified"
    return Response(status=204)
