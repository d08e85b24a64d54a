"""The XAdES-signed ``AuthTokenRequest`` for ``POST /auth/xades-signature`` (digest §2.5).

:func:`build_auth_token_request` writes the document in namespace 2.1;
:func:`sign_auth_token_request` adds an enveloped XAdES-BES signature following the recipe
of the official .NET client (accepted by the strict checks on DEMO/PRD since 16.03.2026):

* ``ds:Signature/@Id="Signature"``, ``SignedInfo`` canonicalised with C14N 1.0;
* ``rsa-sha256`` (PKCS#1 v1.5) or ``ecdsa-sha256`` with a raw ``R||S`` value (XMLDSig 1.1);
* reference ``URI=""``: enveloped-signature + exclusive C14N, SHA-256;
* reference ``URI="#SignedProperties"`` with ``Type=http://uri.etsi.org/01903#SignedProperties``:
  exclusive C14N, SHA-256;
* ``KeyInfo/X509Data/X509Certificate``;
* ``xades:QualifyingProperties`` (v1.3.2, ``Target="#Signature"``) with ``SigningTime``
  (UTC, one minute in the past to absorb clock skew) and ``SigningCertificate`` (SHA-256
  ``CertDigest`` + ``IssuerSerial``).

Digests are computed over canonical bytes of the very tree that is then serialised once;
the result must be sent byte for byte (pretty-printing it breaks the signature).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree

from ksef.certificates import PrivateKey, check_key_matches_certificate, check_supported_key
from ksef.identifiers import CONTEXT_IDENTIFIER_TYPES, is_valid_context_identifier

__all__ = [
    "AUTH_NAMESPACE",
    "DS_NAMESPACE",
    "XADES_NAMESPACE",
    "AllowedIps",
    "ContextType",
    "SubjectIdentifierType",
    "XadesError",
    "build_auth_token_request",
    "sign_auth_token_request",
]

AUTH_NAMESPACE = "http://ksef.mf.gov.pl/auth/token/2.1"
DS_NAMESPACE = "http://www.w3.org/2000/09/xmldsig#"
XADES_NAMESPACE = "http://uri.etsi.org/01903/v1.3.2#"

C14N_1_0 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED_SIGNATURE = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"

SIGNATURE_ID = "Signature"
SIGNED_PROPERTIES_ID = "SignedProperties"
SIGNING_TIME_SKEW = timedelta(minutes=1)

ContextType = Literal["Nip", "InternalId", "NipVatUe", "PeppolId"]
SubjectIdentifierType = Literal["certificateSubject", "certificateFingerprint"]

_CHALLENGE = re.compile(r"\d{8}-CR-[A-F0-9]{10}-[A-F0-9]{10}-[A-F0-9]{2}")
_SUBJECT_TYPES = ("certificateSubject", "certificateFingerprint")
MAX_IPS_PER_LIST = 10

# Keywords the Java and .NET DN parsers understand; cryptography would print dotted OIDs.
_ISSUER_NAME_KEYWORDS = {
    x509.NameOID.SERIAL_NUMBER: "SERIALNUMBER",
    x509.NameOID.GIVEN_NAME: "GIVENNAME",
    x509.NameOID.SURNAME: "SURNAME",
    x509.NameOID.EMAIL_ADDRESS: "EMAILADDRESS",
}


class XadesError(ValueError):
    """The request cannot be built or signed as given."""


@dataclass(frozen=True, slots=True)
class AllowedIps:
    """``AuthorizationPolicy/AllowedIps``: up to 10 entries in each list.

    Addresses ``"192.168.0.1"``, ranges ``"10.0.0.1-10.0.0.254"``, masks ``"172.16.0.0/16"``.
    """

    ip4_addresses: Sequence[str] = ()
    ip4_ranges: Sequence[str] = ()
    ip4_masks: Sequence[str] = ()

    def __post_init__(self) -> None:
        for name, values in (
            ("ip4_addresses", self.ip4_addresses),
            ("ip4_ranges", self.ip4_ranges),
            ("ip4_masks", self.ip4_masks),
        ):
            if isinstance(values, str):
                raise XadesError(f"{name} must be a list of strings, not one string")
            if len(values) > MAX_IPS_PER_LIST:
                raise XadesError(f"{name} allows at most {MAX_IPS_PER_LIST} entries")
        for address in self.ip4_addresses:
            _ipv4(address)
        for ip_range in self.ip4_ranges:
            first, sep, last = ip_range.partition("-")
            if not sep or _ipv4(first) > _ipv4(last):
                raise XadesError(f"not an IPv4 range 'first-last': {ip_range!r}")
        for mask in self.ip4_masks:
            address, sep, bits = mask.partition("/")
            _ipv4(address)
            if not sep or not bits.isdigit() or int(bits) > 32 or str(int(bits)) != bits:
                raise XadesError(f"not an IPv4 mask 'address/bits': {mask!r}")

    def is_empty(self) -> bool:
        return not (self.ip4_addresses or self.ip4_ranges or self.ip4_masks)


def _ipv4(value: str) -> ipaddress.IPv4Address:
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        raise XadesError(f"not an IPv4 address: {value!r}") from None
    return address


def _auth(tag: str) -> str:
    return f"{{{AUTH_NAMESPACE}}}{tag}"


def build_auth_token_request(
    challenge: str,
    context_type: ContextType,
    context_value: str,
    subject_identifier_type: SubjectIdentifierType = "certificateSubject",
    allowed_ips: AllowedIps | None = None,
) -> bytes:
    """The unsigned ``AuthTokenRequest`` (namespace 2.1) as UTF-8 bytes with a declaration.

    Values are checked against the XSD's patterns (and the InternalId checksum) so a bad
    input fails here rather than as KSeF error 21401 after a signature.
    """
    if not _CHALLENGE.fullmatch(challenge):
        raise XadesError(f"not a KSeF challenge: {challenge!r}")
    if context_type not in CONTEXT_IDENTIFIER_TYPES:
        raise XadesError(f"unknown context type {context_type!r}")
    if not is_valid_context_identifier(context_type, context_value):
        raise XadesError(f"{context_value!r} is not a valid {context_type} context identifier")
    if subject_identifier_type not in _SUBJECT_TYPES:
        raise XadesError(f"unknown subject identifier type {subject_identifier_type!r}")

    root = etree.Element(_auth("AuthTokenRequest"), nsmap={None: AUTH_NAMESPACE})
    etree.SubElement(root, _auth("Challenge")).text = challenge
    context = etree.SubElement(root, _auth("ContextIdentifier"))
    etree.SubElement(context, _auth(context_type)).text = context_value
    etree.SubElement(root, _auth("SubjectIdentifierType")).text = subject_identifier_type
    if allowed_ips is not None and not allowed_ips.is_empty():
        policy = etree.SubElement(root, _auth("AuthorizationPolicy"))
        ips = etree.SubElement(policy, _auth("AllowedIps"))
        for tag, values in (
            ("Ip4Address", allowed_ips.ip4_addresses),
            ("Ip4Range", allowed_ips.ip4_ranges),
            ("Ip4Mask", allowed_ips.ip4_masks),
        ):
            for value in values:
                etree.SubElement(ips, _auth(tag)).text = value
    body: bytes = etree.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


# --- signing --------------------------------------------------------------------------


def _ds(tag: str) -> str:
    return f"{{{DS_NAMESPACE}}}{tag}"


def _xades(tag: str) -> str:
    return f"{{{XADES_NAMESPACE}}}{tag}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _parse(xml: bytes) -> etree._ElementTree:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, remove_blank_text=False, huge_tree=False
    )
    try:
        tree = etree.ElementTree(etree.fromstring(xml, parser))
    except etree.XMLSyntaxError as exc:
        raise XadesError(f"the document is not well-formed XML: {exc}") from None
    if tree.docinfo.doctype:
        raise XadesError("documents with a DOCTYPE are not signed")
    root = tree.getroot()
    if root.find(f".//{_ds('Signature')}") is not None:
        raise XadesError("the document is already signed (KSeF accepts exactly one signature)")
    return tree


def _exc_c14n_digest(node: etree._Element | etree._ElementTree) -> str:
    canonical: bytes = etree.tostring(node, method="c14n", exclusive=True, with_comments=False)
    return _b64(hashlib.sha256(canonical).digest())


def _signing_time(signing_time: datetime | None) -> str:
    moment = datetime.now(UTC) - SIGNING_TIME_SKEW if signing_time is None else signing_time
    if moment.tzinfo is None:
        raise XadesError("signing_time must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reference(
    parent: etree._Element,
    uri: str,
    transforms: Sequence[str],
    digest: str,
    reference_type: str | None = None,
) -> None:
    reference = etree.SubElement(parent, _ds("Reference"))
    if reference_type is not None:
        reference.set("Type", reference_type)
    reference.set("URI", uri)
    transforms_node = etree.SubElement(reference, _ds("Transforms"))
    for algorithm in transforms:
        etree.SubElement(transforms_node, _ds("Transform")).set("Algorithm", algorithm)
    etree.SubElement(reference, _ds("DigestMethod")).set("Algorithm", SHA256)
    etree.SubElement(reference, _ds("DigestValue")).text = digest


def _qualifying_properties(
    signature: etree._Element, certificate: x509.Certificate, signing_time: str
) -> etree._Element:
    obj = etree.SubElement(signature, _ds("Object"))
    qualifying = etree.SubElement(
        obj, _xades("QualifyingProperties"), nsmap={"xades": XADES_NAMESPACE}
    )
    qualifying.set("Target", f"#{SIGNATURE_ID}")
    signed_properties = etree.SubElement(qualifying, _xades("SignedProperties"))
    signed_properties.set("Id", SIGNED_PROPERTIES_ID)
    signature_properties = etree.SubElement(signed_properties, _xades("SignedSignatureProperties"))
    etree.SubElement(signature_properties, _xades("SigningTime")).text = signing_time
    cert = etree.SubElement(
        etree.SubElement(signature_properties, _xades("SigningCertificate")), _xades("Cert")
    )
    cert_digest = etree.SubElement(cert, _xades("CertDigest"))
    etree.SubElement(cert_digest, _ds("DigestMethod")).set("Algorithm", SHA256)
    certificate_der = certificate.public_bytes(serialization.Encoding.DER)
    etree.SubElement(cert_digest, _ds("DigestValue")).text = _b64(
        hashlib.sha256(certificate_der).digest()
    )
    issuer_serial = etree.SubElement(cert, _xades("IssuerSerial"))
    etree.SubElement(issuer_serial, _ds("X509IssuerName")).text = certificate.issuer.rfc4514_string(
        _ISSUER_NAME_KEYWORDS
    )
    etree.SubElement(issuer_serial, _ds("X509SerialNumber")).text = str(certificate.serial_number)
    return signed_properties


def _sign(private_key: PrivateKey, data: bytes) -> bytes:
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    der_signature = private_key.sign(data, ec.ECDSA(hashes.SHA256()))
    # XMLDSig 1.1 / RFC 4050: the value is R||S, each padded to the curve's byte size.
    r, s = decode_dss_signature(der_signature)
    size = (private_key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def sign_auth_token_request(
    xml: bytes,
    certificate: x509.Certificate,
    private_key: PrivateKey,
    signing_time: datetime | None = None,
) -> bytes:
    """``xml`` with an enveloped XAdES-BES ``ds:Signature`` as the root's last child.

    ``signing_time`` defaults to one minute before now (UTC). The key must match the
    certificate (:class:`ksef.certificates.KeyMismatchError` otherwise).
    """
    check_supported_key(private_key)
    check_key_matches_certificate(private_key, certificate)
    tree = _parse(xml)
    root = tree.getroot()
    # The enveloped-signature transform removes the Signature element only, so the
    # document digest can be taken now; the Signature gets no tail text to keep it so.
    document_digest = _exc_c14n_digest(tree)

    signature = etree.SubElement(root, _ds("Signature"), nsmap={"ds": DS_NAMESPACE})
    signature.set("Id", SIGNATURE_ID)
    signature.tail = None
    signed_info = etree.SubElement(signature, _ds("SignedInfo"))
    etree.SubElement(signed_info, _ds("CanonicalizationMethod")).set("Algorithm", C14N_1_0)
    method = RSA_SHA256 if isinstance(private_key, rsa.RSAPrivateKey) else ECDSA_SHA256
    etree.SubElement(signed_info, _ds("SignatureMethod")).set("Algorithm", method)
    _reference(signed_info, "", (ENVELOPED_SIGNATURE, EXC_C14N), document_digest)
    signature_value = etree.SubElement(signature, _ds("SignatureValue"))
    key_info = etree.SubElement(signature, _ds("KeyInfo"))
    etree.SubElement(
        etree.SubElement(key_info, _ds("X509Data")), _ds("X509Certificate")
    ).text = _b64(certificate.public_bytes(serialization.Encoding.DER))
    signed_properties = _qualifying_properties(signature, certificate, _signing_time(signing_time))
    _reference(
        signed_info,
        f"#{SIGNED_PROPERTIES_ID}",
        (EXC_C14N,),
        _exc_c14n_digest(signed_properties),
        reference_type=SIGNED_PROPERTIES_TYPE,
    )

    canonical_signed_info: bytes = etree.tostring(
        signed_info, method="c14n", exclusive=False, with_comments=False
    )
    signature_value.text = _b64(_sign(private_key, canonical_signed_info))
    signed: bytes = etree.tostring(tree, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + signed
