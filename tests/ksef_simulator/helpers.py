"""Test helpers for the simulator: contract-checking client hooks, credentials, logins.

Everything cryptographic here is written with `cryptography` + `lxml` directly — never
with our `ksef/` package, whose own tests run against the simulator.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from lxml import etree

from tests.contract import ContractViolation, contract, validate_schema


class SimTransport(httpx.WSGITransport):
    """WSGITransport that reports a dropped connection as httpx does over a socket."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except ConnectionAbortedError as exc:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from exc


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    items = []
    for template in contract()["paths"]:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        items.append((re.compile(pattern), template))
    # Literal segments win over placeholders: /sessions/X/invoices/failed is not an invoice.
    items.sort(key=lambda item: item[1].count("{"))
    return items


def operation_for(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    for pattern, template in _templates():
        item = contract()["paths"][template]
        if pattern.match(path) and method.lower() in item:
            return template, item[method.lower()]
    return None


def error_codes(response: httpx.Response) -> list[int]:
    """Exception codes of a 400 in either official shape."""
    data = response.json()
    if "exception" in data:
        return [d["exceptionCode"] for d in data["exception"]["exceptionDetailList"]]
    return [e["code"] for e in data.get("errors", [])]


def is_outage_page(response: httpx.Response) -> bool:
    """The simulator's outage answer (503, the front proxy's HTML page, Retry-After) — the
    one 5xx with a body that is not a crash."""
    return (
        response.status_code == 503
        and "Retry-After" in response.headers
        and b"<title>503 Service Unavailable</title>" in response.content
    )


class ContractCheckingHooks:
    """httpx event hooks: every /v2 request and response is held to the contract."""

    def on_request(self, request: httpx.Request) -> None:
        path = request.url.path
        if not path.startswith("/v2/"):
            return
        found = operation_for(request.method, path[3:])
        if found is None:
            raise ContractViolation(f"{request.method} {path[3:]} is not in the contract")
        template, op = found
        request.extensions["ksef_template"] = template
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type != "application/json" or not request.content:
            return
        media = op.get("requestBody", {}).get("content", {}).get("application/json")
        if media is None:
            return
        try:
            validate_schema(json.loads(request.content), media["schema"])
        except (ContractViolation, ValueError) as exc:
            request.extensions["ksef_invalid_request"] = str(exc)

    def on_response(self, response: httpx.Response) -> None:
        request = response.request
        template = request.extensions.get("ksef_template")
        if template is None:
            return
        response.read()
        status = response.status_code
        if status >= 500 and response.content and not is_outage_page(response):
            raise ContractViolation(f"server error: {response.text[:500]}")
        if status >= 500 or (status == 415 and template == "/auth/xades-signature"):
            return  # fault injection / media-type rejection: the contract declares no body
        invalid = request.extensions.get("ksef_invalid_request")
        if invalid and status not in (400, 401, 403, 429):
            raise ContractViolation(f"request violated the contract but got {status}: {invalid}")
        if invalid and status == 400 and 21405 not in error_codes(response):
            raise ContractViolation(f"invalid request answered without 21405: {response.text}")
        op = contract()["paths"][template][request.method.lower()]
        declared = op["responses"].get(str(status))
        if declared is None:
            raise ContractViolation(f"{request.method} {template} declares no {status} response")
        content = declared.get("content")
        if content is None:
            if response.content:
                raise ContractViolation(f"{request.method} {template} {status} declares no body")
            return
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        media = content.get(media_type)
        if media is None:
            raise ContractViolation(
                f"{request.method} {template} {status} declares no {media_type} body"
            )
        if media_type.endswith("json"):
            validate_schema(
                response.json(), media["schema"], f"{request.method} {template} {status}"
            )
        if status == 429 and "Retry-After" not in response.headers:
            raise ContractViolation("429 without Retry-After")


# -- credentials ------------------------------------------------------------------------------


PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@cache
def _shared_key(kind: str, slot: int) -> PrivateKey:
    # Key generation dominates test time; credentials differ by certificate, and a few
    # slots give distinct keys where a test needs them ("signed by another key").
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class Credential:
    key: PrivateKey
    certificate: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.der).hexdigest().upper()


def make_credential(
    *,
    nip: str | None = None,
    pesel: str | None = None,
    seal: bool | None = None,
    kind: str = "ec",
    slot: int = 0,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    name: str = "Jan Kowalski",
) -> Credential:
    """A self-signed certificate like the ones TEST accepts.

    nip + seal (default when only nip is given): organisation seal, organizationIdentifier
    VATPL-<nip>; pesel: person with serialNumber PNOPL-<pesel>; nip + seal=False: person
    with serialNumber TINPL-<nip>; neither: CN only (log in by fingerprint).
    """
    key = _shared_key(kind, slot)
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "PL")]
    if nip and (seal or (seal is None and not pesel)):
        attributes += [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"Firma {nip} sp. z o.o."),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"VATPL-{nip}"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Firma {nip}"),
        ]
    elif pesel or nip:
        given, _, surname = name.partition(" ")
        attributes += [
            x509.NameAttribute(NameOID.GIVEN_NAME, given),
            x509.NameAttribute(NameOID.SURNAME, surname or "Nowak"),
            x509.NameAttribute(
                NameOID.SERIAL_NUMBER, f"PNOPL-{pesel}" if pesel else f"TINPL-{nip}"
            ),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    else:
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, name))
    subject = x509.Name(attributes)
    start = not_before or datetime.now(UTC) - timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(not_after or start + timedelta(days=730))
        .sign(key, hashes.SHA256())
    )
    return Credential(key=key, certificate=cert)


# -- XAdES signing (hand-written with lxml + cryptography, the official .NET recipe) -------------

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
AUTH_NS = "http://ksef.mf.gov.pl/auth/token/2.1"


def auth_token_request(
    challenge: str,
    context: tuple[str, str],
    subject_type: str = "certificateSubject",
    namespace: str = AUTH_NS,
    allowed_ips: list[str] | None = None,
) -> bytes:
    policy = ""
    if allowed_ips is not None:
        ips = "".join(f"<Ip4Address>{ip}</Ip4Address>" for ip in allowed_ips)
        policy = f"<AuthorizationPolicy><AllowedIps>{ips}</AllowedIps></AuthorizationPolicy>"
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<AuthTokenRequest xmlns="{namespace}">'
        f"<Challenge>{challenge}</Challenge>"
        f"<ContextIdentifier><{context[0]}>{context[1]}</{context[0]}></ContextIdentifier>"
        f"<SubjectIdentifierType>{subject_type}</SubjectIdentifierType>{policy}"
        "</AuthTokenRequest>"
    ).encode()


def _c14n(element: etree._Element) -> bytes:
    return bytes(etree.tostring(element, method="c14n", exclusive=True, with_comments=False))


def _digest(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _sub(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> Any:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def sign_xades(
    document: bytes,
    credential: Credential,
    *,
    signing_key: PrivateKey | None = None,
    der_ecdsa: bool = False,
    signed_properties: bool = True,
    detached_uri: str | None = None,
    cert_digest_of: x509.Certificate | None = None,
) -> bytes:
    """Enveloped XAdES-BES; the keyword arguments produce the defects the tests need."""
    root = etree.fromstring(document)
    key = signing_key or credential.key
    is_ec = isinstance(key, ec.EllipticCurvePrivateKey)
    signature = _sub(root, DS, "Signature", Id="Signature")
    signed_info = _sub(signature, DS, "SignedInfo")
    _sub(signed_info, DS, "CanonicalizationMethod", Algorithm=EXC_C14N)
    method = "ecdsa-sha256" if is_ec else "rsa-sha256"
    ns_method = "http://www.w3.org/2001/04/xmldsig-more#" + method
    _sub(signed_info, DS, "SignatureMethod", Algorithm=ns_method)
    doc_ref = _sub(signed_info, DS, "Reference", URI=detached_uri or "")
    transforms = _sub(doc_ref, DS, "Transforms")
    if detached_uri is None:
        _sub(transforms, DS, "Transform", Algorithm=ENVELOPED)
    _sub(transforms, DS, "Transform", Algorithm=EXC_C14N)
    _sub(doc_ref, DS, "DigestMethod", Algorithm=SHA256)
    doc_digest = _sub(doc_ref, DS, "DigestValue")
    props_digest = None
    if signed_properties:
        props_ref = _sub(
            signed_info,
            DS,
            "Reference",
            URI="#SignedProperties",
            Type="http://uri.etsi.org/01903#SignedProperties",
        )
        _sub(_sub(props_ref, DS, "Transforms"), DS, "Transform", Algorithm=EXC_C14N)
        _sub(props_ref, DS, "DigestMethod", Algorithm=SHA256)
        props_digest = _sub(props_ref, DS, "DigestValue")
    value = _sub(signature, DS, "SignatureValue")
    key_info = _sub(signature, DS, "KeyInfo")
    _sub(
        _sub(key_info, DS, "X509Data"),
        DS,
        "X509Certificate",
        base64.b64encode(credential.der).decode(),
    )
    props = None
    if signed_properties:
        obj = _sub(signature, DS, "Object")
        qualifying = _sub(obj, XADES, "QualifyingProperties", Target="#Signature")
        props = _sub(qualifying, XADES, "SignedProperties", Id="SignedProperties")
        ssp = _sub(props, XADES, "SignedSignatureProperties")
        signing_time = datetime.now(UTC) - timedelta(minutes=1)
        _sub(ssp, XADES, "SigningTime", signing_time.strftime("%Y-%m-%dT%H:%M:%SZ"))
        cert = _sub(_sub(ssp, XADES, "SigningCertificate"), XADES, "Cert")
        cert_digest = _sub(cert, XADES, "CertDigest")
        _sub(cert_digest, DS, "DigestMethod", Algorithm=SHA256)
        digest_source = cert_digest_of or credential.certificate
        _sub(
            cert_digest,
            DS,
            "DigestValue",
            _digest(digest_source.public_bytes(serialization.Encoding.DER)),
        )
        issuer_serial = _sub(cert, XADES, "IssuerSerial")
        _sub(issuer_serial, DS, "X509IssuerName", credential.certificate.issuer.rfc4514_string())
        _sub(issuer_serial, DS, "X509SerialNumber", str(credential.certificate.serial_number))
    # Reference digests, then the signature over the canonical SignedInfo.
    unsigned = etree.fromstring(etree.tostring(root))
    for sig in unsigned.findall(f"{{{DS}}}Signature"):
        unsigned.remove(sig)
    doc_digest.text = _digest(_c14n(unsigned))
    if props is not None and props_digest is not None:
        props_digest.text = _digest(_c14n(props))
    data = _c14n(signed_info)
    if is_ec:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        der = key.sign(data, ec.ECDSA(hashes.SHA256()))
        if der_ecdsa:
            raw = der
        else:
            r, s = decode_dss_signature(der)
            raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        assert isinstance(key, rsa.RSAPrivateKey)
        raw = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    value.text = base64.b64encode(raw).decode()
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


# -- test data and logins -----------------------------------------------------------------------


@dataclass
class Tokens:
    access: str
    refresh: str
    reference_number: str
    authentication_token: str


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def add_subject(sim: httpx.Client, nip: str, subject_type: str = "VatGroup") -> None:
    response = sim.post(
        "/testdata/subject",
        json={"subjectNip": nip, "subjectType": subject_type, "description": f"Podmiot {nip}"},
    )
    assert response.status_code == 200, response.text


def add_person(sim: httpx.Client, nip: str, pesel: str, *, is_deceased: bool = False) -> None:
    response = sim.post(
        "/testdata/person",
        json={
            "nip": nip,
            "pesel": pesel,
            "isBailiff": False,
            "isDeceased": is_deceased,
            "description": f"Osoba {pesel}",
        },
    )
    assert response.status_code == 200, response.text


def grant_testdata(
    sim: httpx.Client, context_nip: str, authorized: tuple[str, str], permissions: list[str]
) -> None:
    response = sim.post(
        "/testdata/permissions",
        json={
            "contextIdentifier": {"type": "Nip", "value": context_nip},
            "authorizedIdentifier": {"type": authorized[0], "value": authorized[1]},
            "permissions": [
                {"permissionType": p, "description": f"Nadane {p}"} for p in permissions
            ],
        },
    )
    assert response.status_code == 200, response.text


def get_challenge(sim: httpx.Client) -> dict[str, Any]:
    response = sim.post("/auth/challenge")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def submit_xades(
    sim: httpx.Client,
    credential: Credential,
    context: tuple[str, str],
    subject_type: str = "certificateSubject",
    **sign_options: Any,
) -> httpx.Response:
    challenge = get_challenge(sim)["challenge"]
    document = auth_token_request(challenge, context, subject_type)
    return sim.post(
        "/auth/xades-signature",
        content=sign_xades(document, credential, **sign_options),
        headers={"Content-Type": "application/xml"},
    )


def auth_status(sim: httpx.Client, init: dict[str, Any]) -> dict[str, Any]:
    response = sim.get(
        f"/auth/{init['referenceNumber']}", headers=bearer(init["authenticationToken"]["token"])
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def redeem(sim: httpx.Client, init: dict[str, Any]) -> Tokens:
    status = auth_status(sim, init)
    assert status["status"]["code"] == 200, status
    response = sim.post("/auth/token/redeem", headers=bearer(init["authenticationToken"]["token"]))
    assert response.status_code == 200, response.text
    data = response.json()
    return Tokens(
        access=data["accessToken"]["token"],
        refresh=data["refreshToken"]["token"],
        reference_number=init["referenceNumber"],
        authentication_token=init["authenticationToken"]["token"],
    )


def login_xades(
    sim: httpx.Client,
    credential: Credential,
    context_nip: str | None = None,
    *,
    context: tuple[str, str] | None = None,
    subject_type: str = "certificateSubject",
) -> Tokens:
    target = context or ("Nip", str(context_nip))
    response = submit_xades(sim, credential, target, subject_type)
    assert response.status_code == 202, response.text
    return redeem(sim, response.json())


def owner_login(sim: httpx.Client, nip: str) -> Tokens:
    """Log in as the owner of NIP (company seal): every right in that context."""
    return login_xades(sim, make_credential(nip=nip), nip)


def encrypt_token(sim: httpx.Client, ksef_token: str, timestamp_ms: int) -> tuple[str, str]:
    """(encryptedToken, publicKeyId): RSA-OAEP SHA-256/MGF1-SHA-256 with the token key."""
    keys = sim.get("/security/public-key-certificates").json()
    item = next(k for k in keys if "KsefTokenEncryption" in k["usage"])
    cert = x509.load_der_x509_certificate(base64.b64decode(item["certificate"]))
    public_key = cert.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    ciphertext = public_key.encrypt(
        f"{ksef_token}|{timestamp_ms}".encode(),
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )
    return base64.b64encode(ciphertext).decode(), item["publicKeyId"]


def submit_token(
    sim: httpx.Client, ksef_token: str, context_nip: str, *, timestamp_shift_ms: int = 0
) -> httpx.Response:
    challenge = get_challenge(sim)
    encrypted, key_id = encrypt_token(
        sim, ksef_token, challenge["timestampMs"] + timestamp_shift_ms
    )
    return sim.post(
        "/auth/ksef-token",
        json={
            "challenge": challenge["challenge"],
            "contextIdentifier": {"type": "Nip", "value": context_nip},
            "encryptedToken": encrypted,
            "publicKeyId": key_id,
        },
    )


def login_token(sim: httpx.Client, ksef_token: str, context_nip: str) -> Tokens:
    response = submit_token(sim, ksef_token, context_nip)
    assert response.status_code == 202, response.text
    return redeem(sim, response.json())
