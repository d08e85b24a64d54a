"""Permissions, KSeF certificates, auth sessions and limits through the client."""

from __future__ import annotations

import base64
from datetime import date, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from ksef.client import KsefClient
from ksef.models import Identifier, PersonSubjectDetails
from tests.ksef.keys import make_ec_key
from tests.ksef.test_client_contract_mocks import (
    BASE,
    NOW,
    ContractMock,
    Reply,
    ksef_mock,
    ref,
    ts,
)

__all__ = ["ksef_mock"]

ACCESS = "access-token"
OFFICE_NIP = "5265877635"
CLIENT_NIP = "6808208874"
PERMISSION_ID = "0b4f7d4c-4e7a-4d0a-9a65-6f1d7c0a9a11"
FINGERPRINT = "A" * 64


def test_an_office_is_granted_delegable_invoice_rights_by_its_client(
    ksef_mock: ContractMock,
) -> None:
    ksef_mock.on("POST", "/permissions/entities/grants", Reply(202, {"referenceNumber": ref("PO")}))

    reference = KsefClient(BASE).grant_entity_permissions(
        ACCESS,
        nip=OFFICE_NIP,
        permissions={"InvoiceRead": True, "InvoiceWrite": False},
        description="Biuro rachunkowe prowadzi księgi",
        full_name="Biuro Rachunkowe Test sp. z o.o.",
    )

    assert reference == ref("PO")
    (body,) = ksef_mock.bodies("/permissions/entities/grants")
    assert body["permissions"] == [
        {"type": "InvoiceRead", "canDelegate": True},
        {"type": "InvoiceWrite", "canDelegate": False},
    ]
    assert body["subjectDetails"] == {"fullName": "Biuro Rachunkowe Test sp. z o.o."}


def test_person_grants_always_carry_subject_details_in_each_variant(
    ksef_mock: ContractMock,
) -> None:
    ksef_mock.on("POST", "/permissions/persons/grants", Reply(202, {"referenceNumber": ref("PO")}))
    client = KsefClient(BASE)
    variants = [
        (Identifier("Pesel", "85031412345"), PersonSubjectDetails.by_identifier("Anna", "Nowak")),
        (
            Identifier("Fingerprint", FINGERPRINT),
            PersonSubjectDetails.for_fingerprint(
                "Jan", "Kowalski", identifier=Identifier("Nip", OFFICE_NIP)
            ),
        ),
        (
            Identifier("Fingerprint", FINGERPRINT),
            PersonSubjectDetails.for_fingerprint(
                "Hans",
                "Müller",
                birth_date=date(1980, 5, 1),
                id_document=("Passport", "C01X00T47", "DE"),
            ),
        ),
    ]

    for subject, details in variants:
        client.grant_person_permissions(
            ACCESS,
            subject=subject,
            permissions=["InvoiceRead", "InvoiceWrite"],
            description="Księgowa klienta",
            subject_details=details,
        )

    kinds = [
        b["subjectDetails"]["subjectDetailsType"]
        for b in ksef_mock.bodies("/permissions/persons/grants")
    ]
    assert kinds == [
        "PersonByIdentifier",
        "PersonByFingerprintWithIdentifier",
        "PersonByFingerprintWithoutIdentifier",
    ]


def test_indirect_grants_name_the_client_or_all_partners(ksef_mock: ContractMock) -> None:
    ksef_mock.on("POST", "/permissions/indirect/grants", Reply(202, {"referenceNumber": ref("PO")}))
    client = KsefClient(BASE)
    details = PersonSubjectDetails.by_identifier("Anna", "Nowak")

    for target in (Identifier("Nip", CLIENT_NIP), Identifier("AllPartners"), None):
        client.grant_indirect_permissions(
            ACCESS,
            subject=Identifier("Pesel", "85031412345"),
            permissions=["InvoiceRead"],
            description="Dostęp pracownika biura",
            subject_details=details,
            target=target,
        )

    targets = [b.get("targetIdentifier") for b in ksef_mock.bodies("/permissions/indirect/grants")]
    assert targets == [{"type": "Nip", "value": CLIENT_NIP}, {"type": "AllPartners"}, None]


def test_revocation_and_operation_status_use_the_common_grants_path(
    ksef_mock: ContractMock,
) -> None:
    ksef_mock.on(
        "DELETE",
        f"/permissions/common/grants/{PERMISSION_ID}",
        Reply(202, {"referenceNumber": ref("PR")}),
    )
    ksef_mock.on(
        "DELETE",
        f"/permissions/authorizations/grants/{PERMISSION_ID}",
        Reply(202, {"referenceNumber": ref("PA")}),
    )
    ksef_mock.on(
        "GET",
        f"/permissions/operations/{ref('PR')}",
        Reply(
            200,
            {
                "status": {
                    "code": 420,
                    "description": "Użyte poświadczenia nie mają uprawnień",
                }
            },
        ),
    )
    client = KsefClient(BASE)

    assert client.revoke_permission(ACCESS, PERMISSION_ID) == ref("PR")
    assert client.revoke_authorization(ACCESS, PERMISSION_ID) == ref("PA")
    assert client.get_permission_operation_status(ACCESS, ref("PR")).code == 420


def test_an_office_lists_the_clients_that_granted_it_rights(ksef_mock: ContractMock) -> None:
    ksef_mock.on(
        "POST",
        "/permissions/query/entities/grants",
        Reply(
            200,
            {
                "hasMore": False,
                "permissions": [
                    {
                        "id": PERMISSION_ID,
                        "contextIdentifier": {"type": "Nip", "value": CLIENT_NIP},
                        "permissionScope": "InvoiceRead",
                        "description": "Biuro rachunkowe prowadzi księgi",
                        "startDate": ts(NOW),
                        "canDelegate": True,
                    }
                ],
            },
        ),
    )

    page = KsefClient(BASE).query_entity_grants(ACCESS, page_size=10)

    (grant,) = page.items
    assert grant.context_identifier == Identifier("Nip", CLIENT_NIP)
    assert (grant.scope, grant.can_delegate, page.has_more) == ("InvoiceRead", True, False)
    assert ksef_mock.sent[-1].url.params["pageSize"] == "10"


def test_person_grant_queries_send_the_required_query_type(ksef_mock: ContractMock) -> None:
    ksef_mock.on(
        "POST",
        "/permissions/query/persons/grants",
        Reply(
            200,
            {
                "hasMore": True,
                "permissions": [
                    {
                        "id": PERMISSION_ID,
                        "authorizedIdentifier": {"type": "Pesel", "value": "85031412345"},
                        "authorIdentifier": {"type": "Nip", "value": OFFICE_NIP},
                        "permissionScope": "InvoiceRead",
                        "description": "Dostęp pracownika biura",
                        "permissionState": "Active",
                        "startDate": ts(NOW),
                        "canDelegate": False,
                        "subjectPersonDetails": {
                            "subjectDetailsType": "PersonByIdentifier",
                            "firstName": "Anna",
                            "lastName": "Nowak",
                        },
                    }
                ],
            },
        ),
    )
    ksef_mock.on(
        "POST",
        "/permissions/query/personal/grants",
        Reply(200, {"hasMore": False, "permissions": []}),
    )
    client = KsefClient(BASE)

    page = client.query_person_grants(ACCESS, permission_types=["InvoiceRead"], state="Active")
    mine = client.query_personal_grants(ACCESS, context=Identifier("Nip", CLIENT_NIP))

    assert (
        ksef_mock.bodies("/permissions/query/persons/grants")[0]["queryType"]
        == "PermissionsGrantedInCurrentContext"
    )
    assert page.items[0].subject_name == "Anna Nowak" and page.has_more
    assert page.items[0].author_identifier == Identifier("Nip", OFFICE_NIP)
    assert mine.items == ()


def make_csr() -> bytes:
    key = make_ec_key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Jan Kowalski"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, f"TINPL-{OFFICE_NIP}"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PL"),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.DER)


def test_a_certificate_is_enrolled_tracked_and_retrieved(ksef_mock: ContractMock) -> None:
    serial = "01F20A5D352AE590"
    ksef_mock.on(
        "GET",
        "/certificates/enrollments/data",
        Reply(
            200,
            {
                "commonName": "Jan Kowalski",
                "countryName": "PL",
                "serialNumber": f"TINPL-{OFFICE_NIP}",
                "givenName": "Jan",
                "surname": "Kowalski",
            },
        ),
    )
    ksef_mock.on(
        "POST",
        "/certificates/enrollments",
        Reply(202, {"referenceNumber": ref("EC"), "timestamp": ts(NOW)}),
    )
    ksef_mock.on(
        "GET",
        f"/certificates/enrollments/{ref('EC')}",
        Reply(
            200,
            {
                "requestDate": ts(NOW),
                "status": {
                    "code": 200,
                    "description": "Żądanie certyfikacyjne zakończone sukcesem",
                },
                "certificateSerialNumber": serial,
            },
        ),
    )
    ksef_mock.on(
        "POST",
        "/certificates/retrieve",
        Reply(
            200,
            {
                "certificates": [
                    {
                        "certificate": base64.b64encode(b"\x30\x82der").decode(),
                        "certificateName": "Pieczęć biura",
                        "certificateSerialNumber": serial,
                        "certificateType": "Authentication",
                    }
                ]
            },
        ),
    )
    ksef_mock.on("POST", f"/certificates/{serial}/revoke", Reply(204))
    client = KsefClient(BASE)
    csr = make_csr()

    data = client.get_certificate_enrollment_data(ACCESS)
    enrollment = client.enroll_certificate(
        ACCESS,
        name="Pieczęć biura",
        certificate_type="Authentication",
        csr_der=csr,
        valid_from=NOW + timedelta(days=1),
    )
    state = client.get_certificate_enrollment_status(ACCESS, enrollment.reference_number)
    (certificate,) = client.retrieve_certificates(ACCESS, [serial])
    client.revoke_certificate(ACCESS, serial, reason="Superseded")

    assert data.serial_number == f"TINPL-{OFFICE_NIP}"
    (body,) = ksef_mock.bodies("/certificates/enrollments")
    assert base64.b64decode(body["csr"]) == csr
    assert state.certificate_serial_number == serial
    assert certificate.certificate_der == b"\x30\x82der"
    assert ksef_mock.bodies(f"/certificates/{serial}/revoke") == [
        {"revocationReason": "Superseded"}
    ]


def test_limits_and_active_auth_sessions_are_typed(ksef_mock: ContractMock) -> None:
    values = {"perSecond": 8, "perMinute": 16, "perHour": 20}
    groups = [
        "onlineSession",
        "batchSession",
        "invoiceSend",
        "invoiceStatus",
        "sessionList",
        "sessionInvoiceList",
        "sessionMisc",
        "invoiceMetadata",
        "invoiceExport",
        "invoiceExportStatus",
        "invoiceDownload",
        "other",
    ]
    ksef_mock.on("GET", "/rate-limits", Reply(200, {group: values for group in groups}))
    limits = {"maxInvoiceSizeInMB": 1, "maxInvoiceWithAttachmentSizeInMB": 3, "maxInvoices": 10000}
    ksef_mock.on(
        "GET", "/limits/context", Reply(200, {"onlineSession": limits, "batchSession": limits})
    )
    ksef_mock.on(
        "GET",
        "/limits/subject",
        Reply(
            200, {"enrollment": {"maxEnrollments": 300}, "certificate": {"maxCertificates": 100}}
        ),
    )
    ksef_mock.on(
        "GET",
        "/auth/sessions",
        Reply(
            200,
            {
                "continuationToken": "next-page",
                "items": [
                    {
                        "referenceNumber": ref("AU"),
                        "startDate": ts(NOW),
                        "authenticationMethod": "Token",
                        "authenticationMethodInfo": {
                            "category": "Token",
                            "code": "token.ksef",
                            "displayName": "Token KSeF",
                        },
                        "status": {
                            "code": 200,
                            "description": "Uwierzytelnianie zakończone sukcesem",
                        },
                        "isCurrent": True,
                        "refreshTokenValidUntil": ts(NOW + timedelta(days=7)),
                    }
                ],
            },
        ),
    )
    ksef_mock.on("DELETE", f"/auth/sessions/{ref('AU')}", Reply(204))
    client = KsefClient(BASE)

    assert client.get_rate_limits(ACCESS)["invoiceMetadata"].per_hour == 20
    assert client.get_context_limits(ACCESS).online_session.max_invoices == 10000
    assert client.get_subject_limits(ACCESS).max_certificates == 100
    sessions = client.list_auth_sessions(ACCESS, page_size=10, continuation_token="prev")
    client.revoke_auth_session(ACCESS, ref("AU"))

    assert sessions.items[0].is_current and sessions.continuation_token == "next-page"
    assert ksef_mock.sent[-2].headers["x-continuation-token"] == "prev"
