"""The AuthTokenRequest and its XAdES signature, verified by signxml and python-xmlsec."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree
from signxml.exceptions import InvalidDigest, InvalidSignature
from signxml.verifier import SignatureConfiguration
from signxml.xades.xades import XAdESVerifier

from ksef.certificates import KeyMismatchError, PrivateKey
from ksef.schemas import schema_dir
from ksef.xades import (
    AUTH_NAMESPACE,
    DS_NAMESPACE,
    XADES_NAMESPACE,
    AllowedIps,
    XadesError,
    build_auth_token_request,
    sign_auth_token_request,
)
from tests.ksef.keys import der, make_certificate, make_ec_key, make_rsa_key, pem

CHALLENGE = "20250604-CR-461EA5B000-537A6BA15D-D7"
NS = {"ds": DS_NAMESPACE, "xades": XADES_NAMESPACE, "a": AUTH_NAMESPACE}


def _schema(*, strip_anchors: bool = False) -> etree.XMLSchema:
    text = (schema_dir("auth") / "schemat_auth_v2-1.xsd").read_bytes()
    if strip_anchors:
        # XSD regexes are implicitly anchored and treat ^ and $ as literal characters; the
        # 2.1 schema's TNipVatUE and TPeppolId patterns carry them anyway, so no real value
        # validates in a strict processor (libxml2). Validate against the intended patterns.
        text = text.replace(b'value="^P[A-Z]{2}[0-9]{6}$"', b'value="P[A-Z]{2}[0-9]{6}"')
        text = text.replace(b"(\\d{3}))))$", b"(\\d{3}))))")
    return etree.XMLSchema(etree.fromstring(text))


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return _schema()


def _assert_valid(schema: etree.XMLSchema, document: bytes) -> None:
    tree = etree.fromstring(document)
    assert schema.validate(tree), schema.error_log


def _without_signature(signed: bytes) -> bytes:
    tree = etree.fromstring(signed)
    for signature in tree.findall("ds:Signature", NS):
        tree.remove(signature)
    serialised: bytes = etree.tostring(tree)
    return serialised


# --- the unsigned request -----------------------------------------------------------------


@pytest.mark.parametrize("subject_type", ["certificateSubject", "certificateFingerprint"])
@pytest.mark.parametrize(
    ("context_type", "value"), [("Nip", "5265877635"), ("InternalId", "6824515772-12343")]
)
def test_it_builds_a_request_that_validates_against_the_2_1_schema(
    schema: etree.XMLSchema, context_type: str, value: str, subject_type: str
) -> None:
    document = build_auth_token_request(CHALLENGE, context_type, value, subject_type)  # type: ignore[arg-type]
    assert document.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    _assert_valid(schema, document)
    root = etree.fromstring(document)
    assert root.findtext(f"a:ContextIdentifier/a:{context_type}", namespaces=NS) == value
    assert root.findtext("a:SubjectIdentifierType", namespaces=NS) == subject_type


@pytest.mark.parametrize(
    ("context_type", "value"), [("NipVatUe", "5265877635-ATU12345678"), ("PeppolId", "PPL123456")]
)
def test_it_builds_eu_and_peppol_contexts_matching_the_schemas_intended_patterns(
    context_type: str, value: str
) -> None:
    document = build_auth_token_request(CHALLENGE, context_type, value)  # type: ignore[arg-type]
    _assert_valid(_schema(strip_anchors=True), document)


def test_it_writes_the_ip_policy_in_schema_order(schema: etree.XMLSchema) -> None:
    policy = AllowedIps(
        ip4_masks=["172.16.0.0/16"],
        ip4_ranges=["10.0.0.1-10.0.0.254"],
        ip4_addresses=["192.168.0.1", "192.168.0.2"],
    )
    document = build_auth_token_request(CHALLENGE, "Nip", "5265877635", allowed_ips=policy)
    _assert_valid(schema, document)
    ips = etree.fromstring(document).find("a:AuthorizationPolicy/a:AllowedIps", NS)
    assert ips is not None
    assert [(etree.QName(e).localname, e.text) for e in ips] == [
        ("Ip4Address", "192.168.0.1"),
        ("Ip4Address", "192.168.0.2"),
        ("Ip4Range", "10.0.0.1-10.0.0.254"),
        ("Ip4Mask", "172.16.0.0/16"),
    ]


def test_it_leaves_out_an_empty_ip_policy() -> None:
    document = build_auth_token_request(CHALLENGE, "Nip", "5265877635", allowed_ips=AllowedIps())
    assert b"AuthorizationPolicy" not in document


@pytest.mark.parametrize(
    "sample",
    [
        "AuthTokenRequest-context-identifier-nip.xml",
        "AuthTokenRequest-context-identifier-nip-vat-ue.xml",
        "AuthTokenRequest-subject-identifier-type-certificate-fingerprint.xml",
        "AuthTokenRequest-subject-identifier-type-certificate-subject.xml",
    ],
)
def test_it_says_what_the_official_samples_say(ksef_data: Path, sample: str) -> None:
    official = etree.parse(str(ksef_data / "samples/auth" / sample)).getroot()
    context = official.find("{*}ContextIdentifier")
    assert context is not None
    kind = etree.QName(context[0]).localname
    ours = etree.fromstring(
        build_auth_token_request(
            official.findtext("{*}Challenge"),
            kind,
            context[0].text,
            official.findtext("{*}SubjectIdentifierType"),
        )
    )

    def content(root: etree._Element) -> list[tuple[str, str]]:
        return [(etree.QName(e).localname, (e.text or "").strip()) for e in root.iter()]

    assert content(ours) == content(official)


def test_it_refuses_the_official_internal_id_sample_whose_check_digit_is_wrong(
    ksef_data: Path,
) -> None:
    # The docs' sample predates InternalId checksum validation (since 2.0.0):
    # 5265877635-1234 needs check digit 6, the sample says 5.
    sample = ksef_data / "samples/auth/AuthTokenRequest-context-identifier-internal-id.xml"
    official = etree.parse(str(sample)).getroot()
    value = official.findtext("{*}ContextIdentifier/{*}InternalId")
    assert value == "5265877635-12345"
    with pytest.raises(XadesError, match="InternalId"):
        build_auth_token_request(CHALLENGE, "InternalId", value)
    build_auth_token_request(CHALLENGE, "InternalId", "5265877635-12346")


@pytest.mark.parametrize(
    ("challenge", "context_type", "value", "subject_type"),
    [
        ("20250604-CR-461ea5b000-537A6BA15D-D7", "Nip", "5265877635", "certificateSubject"),
        (CHALLENGE, "Nip", "0265877635", "certificateSubject"),
        (CHALLENGE, "Pesel", "30112206276", "certificateSubject"),
        (CHALLENGE, "InternalId", "6824515772-12344", "certificateSubject"),
        (CHALLENGE, "NipVatUe", "5265877635-PL1234567890", "certificateSubject"),
        (CHALLENGE, "PeppolId", "XPL123456", "certificateSubject"),
        (CHALLENGE, "Nip", "5265877635", "certificateSerial"),
    ],
)
def test_it_refuses_values_the_schema_would_reject(
    challenge: str, context_type: str, value: str, subject_type: str
) -> None:
    with pytest.raises(XadesError):
        build_auth_token_request(challenge, context_type, value, subject_type)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "policy",
    [
        {"ip4_addresses": [f"10.0.0.{i}" for i in range(11)]},
        {"ip4_addresses": ["256.0.0.1"]},
        {"ip4_addresses": "10.0.0.1"},
        {"ip4_ranges": ["10.0.0.9-10.0.0.1"]},
        {"ip4_ranges": ["10.0.0.1"]},
        {"ip4_masks": ["10.0.0.0/33"]},
        {"ip4_masks": ["10.0.0.0"]},
    ],
)
def test_it_refuses_an_ip_policy_the_schema_would_reject(policy: dict[str, object]) -> None:
    with pytest.raises(XadesError):
        AllowedIps(**policy)  # type: ignore[arg-type]


# --- signing ----------------------------------------------------------------------------

KEYS: dict[str, Callable[[], PrivateKey]] = {"rsa-2048": make_rsa_key, "ec-p256": make_ec_key}
IDENTITIES = {
    "person-tinpl": {"nip": "5265877635"},
    "seal-vatpl": {"nip": "5265877635", "organization": True},
}


@pytest.fixture(scope="module", params=list(KEYS))
def credential(request: pytest.FixtureRequest) -> tuple[PrivateKey, x509.Certificate]:
    key = KEYS[request.param]()
    return key, make_certificate(key, **IDENTITIES["person-tinpl"])  # type: ignore[arg-type]


def _verify_with_xmlsec(signed: bytes, certificate: x509.Certificate) -> None:
    root = etree.fromstring(signed)
    xmlsec.tree.add_ids(root, ["Id"])
    node = xmlsec.tree.find_node(root, xmlsec.constants.NodeSignature)
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(pem(certificate), xmlsec.constants.KeyDataFormatCertPem)
    context.verify(node)


def _verify_with_signxml(signed: bytes, certificate: x509.Certificate) -> None:
    results = XAdESVerifier().verify(
        signed,
        x509_cert=pem(certificate).decode(),
        expect_config=SignatureConfiguration(expect_references=2),
    )
    assert len(results) == 2


def _unsigned() -> bytes:
    return build_auth_token_request(CHALLENGE, "Nip", "5265877635")


@pytest.mark.parametrize("identity", list(IDENTITIES))
@pytest.mark.parametrize("key_kind", list(KEYS))
def test_our_signature_verifies_with_signxml_and_xmlsec_and_the_schema(
    schema: etree.XMLSchema, key_kind: str, identity: str
) -> None:
    key = KEYS[key_kind]()
    certificate = make_certificate(key, **IDENTITIES[identity])  # type: ignore[arg-type]
    signed = sign_auth_token_request(_unsigned(), certificate, key)
    _verify_with_xmlsec(signed, certificate)
    _verify_with_signxml(signed, certificate)
    # The schema has no slot for ds:Signature: KSeF validates what the signature covers.
    _assert_valid(schema, _without_signature(signed))


def test_it_follows_the_official_clients_recipe(
    credential: tuple[PrivateKey, x509.Certificate],
) -> None:
    key, certificate = credential
    before = datetime.now(UTC)
    signed = sign_auth_token_request(_unsigned(), certificate, key)
    root = etree.fromstring(signed)
    signature = root[-1]
    assert signature.tag == f"{{{DS_NAMESPACE}}}Signature"
    assert signature.get("Id") == "Signature"
    info = signature.find("ds:SignedInfo", NS)
    assert info is not None
    assert info.find("ds:CanonicalizationMethod", NS).get("Algorithm") == (
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    )
    method = info.find("ds:SignatureMethod", NS).get("Algorithm")
    expected_method = (
        "ecdsa-sha256" if isinstance(key, ec.EllipticCurvePrivateKey) else "rsa-sha256"
    )
    assert method == f"http://www.w3.org/2001/04/xmldsig-more#{expected_method}"
    document_ref, properties_ref = info.findall("ds:Reference", NS)
    assert document_ref.get("URI") == "" and document_ref.get("Type") is None
    assert [
        t.get("Algorithm") for t in document_ref.iterfind("ds:Transforms/ds:Transform", NS)
    ] == [
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/2001/10/xml-exc-c14n#",
    ]
    assert properties_ref.get("URI") == "#SignedProperties"
    assert properties_ref.get("Type") == "http://uri.etsi.org/01903#SignedProperties"
    for reference in (document_ref, properties_ref):
        assert reference.find("ds:DigestMethod", NS).get("Algorithm") == (
            "http://www.w3.org/2001/04/xmlenc#sha256"
        )
    key_certificate = signature.findtext("ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS)
    assert base64.b64decode(key_certificate) == der(certificate)
    qualifying = signature.find("ds:Object/xades:QualifyingProperties", NS)
    assert qualifying is not None and qualifying.get("Target") == "#Signature"
    signed_props = qualifying.find("xades:SignedProperties/xades:SignedSignatureProperties", NS)
    assert signed_props is not None
    signing_time = datetime.strptime(
        signed_props.findtext("xades:SigningTime", namespaces=NS),
        "%Y-%m-%dT%H:%M:%SZ",
    ).replace(tzinfo=UTC)
    assert before - timedelta(seconds=62) <= signing_time <= before - timedelta(seconds=58)
    cert = signed_props.find("xades:SigningCertificate/xades:Cert", NS)
    assert cert is not None
    assert (
        cert.findtext("xades:CertDigest/ds:DigestValue", namespaces=NS)
        == base64.b64encode(hashlib.sha256(der(certificate)).digest()).decode()
    )
    assert cert.findtext("xades:IssuerSerial/ds:X509SerialNumber", namespaces=NS) == str(
        certificate.serial_number
    )
    assert "SERIALNUMBER=TINPL-5265877635" in cert.findtext(
        "xades:IssuerSerial/ds:X509IssuerName", namespaces=NS
    )


def test_an_ecdsa_signature_value_is_raw_r_and_s() -> None:
    key = make_ec_key()
    certificate = make_certificate(key, nip="5265877635")
    signed = sign_auth_token_request(_unsigned(), certificate, key)
    root = etree.fromstring(signed)
    value = base64.b64decode(root.findtext("ds:Signature/ds:SignatureValue", namespaces=NS))
    assert len(value) == 64
    signed_info = root.find("ds:Signature/ds:SignedInfo", NS)
    canonical = etree.tostring(signed_info, method="c14n", exclusive=False)
    r, s = int.from_bytes(value[:32], "big"), int.from_bytes(value[32:], "big")
    key.public_key().verify(encode_dss_signature(r, s), canonical, ec.ECDSA(hashes.SHA256()))


def test_it_signs_with_an_ec_p384_key_too() -> None:
    key = make_ec_key("P-384")
    certificate = make_certificate(key, pesel="30112206276")
    signed = sign_auth_token_request(_unsigned(), certificate, key)
    _verify_with_xmlsec(signed, certificate)
    _verify_with_signxml(signed, certificate)


def test_it_uses_the_given_signing_time_and_is_deterministic_with_rsa() -> None:
    key = make_rsa_key()
    certificate = make_certificate(key, nip="5265877635")
    moment = datetime(2026, 3, 16, 9, 30, 15, 999, tzinfo=UTC)
    first = sign_auth_token_request(_unsigned(), certificate, key, signing_time=moment)
    second = sign_auth_token_request(_unsigned(), certificate, key, signing_time=moment)
    assert b"<xades:SigningTime>2026-03-16T09:30:15Z</xades:SigningTime>" in first
    assert first == second
    with pytest.raises(XadesError):
        sign_auth_token_request(_unsigned(), certificate, key, signing_time=datetime(2026, 3, 16))


def test_it_keeps_the_document_bytes_as_built_apart_from_the_signature(
    credential: tuple[PrivateKey, x509.Certificate],
) -> None:
    key, certificate = credential
    unsigned = build_auth_token_request(
        CHALLENGE, "Nip", "5265877635", allowed_ips=AllowedIps(["192.168.0.1"])
    )
    signed = sign_auth_token_request(unsigned, certificate, key)
    start = signed.index(b"<ds:Signature")
    end = signed.index(b"</ds:Signature>") + len(b"</ds:Signature>")
    assert signed[:start] + signed[end:] == unsigned
    assert b"\n  " not in signed  # serialised once, never pretty-printed


def test_it_signs_a_hand_written_document_with_whitespace_and_a_comment(
    credential: tuple[PrivateKey, x509.Certificate],
) -> None:
    key, certificate = credential
    unsigned = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<!-- prepared by hand -->\n'
        b'<AuthTokenRequest xmlns="http://ksef.mf.gov.pl/auth/token/2.1">\n'
        b"  <Challenge>20250604-CR-461EA5B000-537A6BA15D-D7</Challenge>\n"
        b"  <ContextIdentifier>\n    <Nip>5265877635</Nip>\n  </ContextIdentifier>\n"
        b"  <SubjectIdentifierType>certificateSubject</SubjectIdentifierType>\n"
        b"</AuthTokenRequest>\n"
    )
    signed = sign_auth_token_request(unsigned, certificate, key)
    _verify_with_xmlsec(signed, certificate)
    _verify_with_signxml(signed, certificate)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"<Nip>5265877635</Nip>", b"<Nip>7980332920</Nip>"),
        (b"certificateSubject", b"certificateFingerprint"),
        (b"<xades:SigningTime>2026", b"<xades:SigningTime>2025"),
    ],
    ids=["context", "subject-type", "signing-time"],
)
def test_tampering_with_a_signed_document_breaks_verification(
    credential: tuple[PrivateKey, x509.Certificate], old: bytes, new: bytes
) -> None:
    key, certificate = credential
    signed = sign_auth_token_request(
        _unsigned(), certificate, key, signing_time=datetime(2026, 3, 16, 9, 30, tzinfo=UTC)
    )
    assert old in signed
    tampered = signed.replace(old, new, 1)
    with pytest.raises(xmlsec.Error):
        _verify_with_xmlsec(tampered, certificate)
    with pytest.raises((InvalidDigest, InvalidSignature)):
        _verify_with_signxml(tampered, certificate)


def test_a_forged_signature_value_does_not_verify(
    credential: tuple[PrivateKey, x509.Certificate],
) -> None:
    key, certificate = credential
    signed = sign_auth_token_request(_unsigned(), certificate, key)
    value = re.search(rb"<ds:SignatureValue>([^<]+)</ds:SignatureValue>", signed)
    assert value is not None
    raw = bytearray(base64.b64decode(value.group(1)))
    raw[5] ^= 0x01
    forged = signed.replace(value.group(1), base64.b64encode(bytes(raw)))
    with pytest.raises(xmlsec.Error):
        _verify_with_xmlsec(forged, certificate)
    with pytest.raises(InvalidSignature):
        _verify_with_signxml(forged, certificate)


def test_a_signature_does_not_verify_with_another_certificate(
    credential: tuple[PrivateKey, x509.Certificate],
) -> None:
    key, certificate = credential
    signed = sign_auth_token_request(_unsigned(), certificate, key)
    stranger_key = make_ec_key()
    with pytest.raises(xmlsec.Error):
        _verify_with_xmlsec(signed, make_certificate(stranger_key, nip="5265877635"))


def test_it_refuses_a_key_that_does_not_match_the_certificate(
    credential: tuple[PrivateKey, x509.Certificate],
) -> None:
    _, certificate = credential
    with pytest.raises(KeyMismatchError):
        sign_auth_token_request(_unsigned(), certificate, make_ec_key())


def test_it_refuses_to_sign_twice_or_to_sign_a_doctype(
    credential: tuple[PrivateKey, x509.Certificate],
) -> None:
    key, certificate = credential
    signed = sign_auth_token_request(_unsigned(), certificate, key)
    with pytest.raises(XadesError, match="already signed"):
        sign_auth_token_request(signed, certificate, key)
    with_doctype = b'<!DOCTYPE x [<!ENTITY e "boom">]>' + _unsigned().split(b"\n", 1)[1]
    with pytest.raises(XadesError):
        sign_auth_token_request(with_doctype, certificate, key)
    with pytest.raises(XadesError):
        sign_auth_token_request(b"<not-closed>", certificate, key)
