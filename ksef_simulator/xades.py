"""Verification of a signed AuthTokenRequest under the strict KSeF XAdES profile.

Structure is checked here with lxml (one enveloped signature, SignedProperties referenced
with the right Type, raw R||S ECDSA values, key sizes, allowed transforms); the
cryptography (reference digests, SignatureValue, SigningCertificate digest against the
KeyInfo certificate) is checked by signxml's XAdESVerifier — independent of our client.
Each failure carries the exception code the docs give (digest §2.5).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidInput, InvalidSignature
from signxml.xades.xades import XAdESSignatureConfiguration, XAdESVerifier

from ksef.schemas import schema_dir

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES_NAMESPACES = ("http://uri.etsi.org/01903/v1.3.2#", "http://uri.etsi.org/01903/v1.4.1#")
SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"
AUTH_NAMESPACES = {
    "http://ksef.mf.gov.pl/auth/token/2.0": "schemat_auth_v2-0.xsd",
    "http://ksef.mf.gov.pl/auth/token/2.1": "schemat_auth_v2-1.xsd",
}
ALLOWED_TRANSFORMS = {
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/TR/1999/REC-xpath-19991116",
    "http://www.w3.org/2002/06/xmldsig-filter2",
    "http://www.w3.org/2000/09/xmldsig#base64",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2006/12/xml-c14n11",
    "http://www.w3.org/2006/12/xml-c14n11#WithComments",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
}
ENVELOPING_TRANSFORMS = {
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/TR/1999/REC-xpath-19991116",
    "http://www.w3.org/2002/06/xmldsig-filter2",
}
EC_SIZES = {"secp256r1": 32, "secp384r1": 48, "secp521r1": 66}


class AuthDocumentError(Exception):
    """Maps to a 400 with `code` at submission."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class AuthDocument:
    namespace: str
    challenge: str
    context_type: str
    context_value: str
    subject_identifier_type: str  # certificateSubject | certificateFingerprint
    ip_policy: dict[str, list[str]] | None
    certificate: x509.Certificate

    @property
    def fingerprint(self) -> str:
        from cryptography.hazmat.primitives import serialization

        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return hashlib.sha256(der).hexdigest().upper()


def verify_auth_document(raw: bytes, schemas_dir: Path | None = None) -> AuthDocument:
    """Check RAW as KSeF does; SCHEMAS_DIR defaults to the official auth XSDs we ship."""
    root = _parse(raw)
    namespace = etree.QName(root).namespace or ""
    if etree.QName(root).localname != "AuthTokenRequest" or namespace not in AUTH_NAMESPACES:
        raise AuthDocumentError(9101, "Element główny musi być AuthTokenRequest (2.0 lub 2.1).")
    signatures = root.findall(f".//{{{DS}}}Signature")
    if not signatures:
        raise AuthDocumentError(9102, "Dokument nie zawiera podpisu.")
    if len(signatures) > 1:
        raise AuthDocumentError(
            9103, f"Dokument zawiera {len(signatures)} podpisy; dozwolony jest 1."
        )
    signature = signatures[0]
    certificate = _check_profile(root, signature)
    _verify_cryptography(raw, certificate)
    _validate_schema(root, signature, namespace, schemas_dir or schema_dir("auth"))
    return _read(root, namespace, certificate)


def _parse(raw: bytes) -> etree._Element:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    head = raw[:100].decode("ascii", "replace").lower()
    match = re.search(r'encoding=["\']([^"\']+)', head)
    if match and match.group(1) not in ("utf-8", "utf8"):
        raise AuthDocumentError(21217, f"Dozwolone kodowanie to UTF-8, nie {match.group(1)}.")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AuthDocumentError(21217, f"Treść nie jest poprawnym UTF-8: {exc}") from exc
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
    try:
        return etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise AuthDocumentError(21001, f"Niepoprawny XML: {exc}") from exc


def _check_profile(root: etree._Element, signature: etree._Element) -> x509.Certificate:
    if signature.getparent() is not root:
        raise AuthDocumentError(
            9105, "Podpis musi być otoczony (enveloped) bezpośrednio w AuthTokenRequest."
        )
    signed_info = signature.find(f"{{{DS}}}SignedInfo")
    if signed_info is None:
        raise AuthDocumentError(9105, "Brak SignedInfo.")
    references = signed_info.findall(f"{{{DS}}}Reference")
    document_refs = []
    properties_refs = []
    for reference in references:
        uri = reference.get("URI")
        transforms = [t.get("Algorithm", "") for t in reference.iter(f"{{{DS}}}Transform")]
        unknown = [t for t in transforms if t not in ALLOWED_TRANSFORMS]
        if unknown:
            raise AuthDocumentError(9105, f"Niedozwolona transformata: {unknown[0]}.")
        if reference.get("Type") == SIGNED_PROPERTIES_TYPE:
            properties_refs.append(reference)
        elif uri == "" and ENVELOPING_TRANSFORMS.intersection(transforms):
            document_refs.append(reference)
        elif uri is None or not uri.startswith("#"):
            # A reference to anything outside this document is a detached signature.
            raise AuthDocumentError(9105, "Podpis zewnętrzny (detached) jest niedozwolony.")
        else:
            raise AuthDocumentError(9105, f"Nieoczekiwana referencja {uri}.")
    if len(document_refs) != 1:
        raise AuthDocumentError(
            9105, 'Podpis musi obejmować cały dokument (Reference URI="" z transformatą enveloped).'
        )
    if len(properties_refs) != 1:
        raise AuthDocumentError(
            9105,
            "Format podpisu niezgodny z akceptowanymi profilami XAdES: brak referencji do "
            f'SignedProperties z Type="{SIGNED_PROPERTIES_TYPE}".',
        )
    target_id = (properties_refs[0].get("URI") or "").removeprefix("#")
    targets = [
        element
        for ns in XADES_NAMESPACES
        for element in signature.iter(f"{{{ns}}}SignedProperties")
        if element.get("Id") == target_id
    ]
    if not targets:
        raise AuthDocumentError(
            9105, "Referencja SignedProperties nie wskazuje elementu xades:SignedProperties."
        )
    certificate = _key_info_certificate(signature)
    _check_key_and_value(signature, signed_info, certificate)
    return certificate


def _key_info_certificate(signature: etree._Element) -> x509.Certificate:
    certs = signature.findall(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    if len(certs) < 1 or not (certs[0].text or "").strip():
        raise AuthDocumentError(21115, "Brak certyfikatu w KeyInfo/X509Data.")
    try:
        return x509.load_der_x509_certificate(base64.b64decode("".join(certs[0].text.split())))
    except ValueError as exc:
        raise AuthDocumentError(21115, f"Nieczytelny certyfikat: {exc}") from exc


def _check_key_and_value(
    signature: etree._Element, signed_info: etree._Element, certificate: x509.Certificate
) -> None:
    method = signed_info.find(f"{{{DS}}}SignatureMethod")
    algorithm = method.get("Algorithm", "") if method is not None else ""
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise AuthDocumentError(
                9105, f"Klucz RSA {key.key_size} bitów; wymagane co najmniej 2048."
            )
        if "ecdsa" in algorithm:
            raise AuthDocumentError(9105, "Algorytm podpisu ECDSA dla klucza RSA.")
        return
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise AuthDocumentError(9105, "Obsługiwane są tylko klucze RSA i EC.")
    if key.curve.name not in EC_SIZES:
        raise AuthDocumentError(
            9105, f"Nieobsługiwana krzywa {key.curve.name}; wymagane ≥ 256 bitów."
        )
    value_element = signature.find(f"{{{DS}}}SignatureValue")
    value = (
        base64.b64decode("".join((value_element.text or "").split()))
        if value_element is not None
        else b""
    )
    expected = 2 * EC_SIZES[key.curve.name]
    if len(value) != expected:
        # XMLDSig 1.1 / RFC 4050: the value is R||S; a DER SEQUENCE (0x30...) is rejected.
        kind = "zakodowany w DER" if value[:1] == b"\x30" else f"o długości {len(value)} B"
        raise AuthDocumentError(
            9105,
            f"Wartość podpisu ECDSA musi mieć postać R||S ({expected} B), otrzymano podpis {kind}.",
        )


def _signature_config(certificate: x509.Certificate) -> XAdESSignatureConfiguration:
    return XAdESSignatureConfiguration(
        # Validity is judged by the caller (expired -> status 460, not a 400 here).
        verification_time=certificate.not_valid_before_utc,
        require_x509=True,
        location="./",
        expect_references=2,
        # KSeF accepts SHA-1 too (digest §2.5), so allow every method signxml knows.
        signature_methods=frozenset(SignatureMethod),
        digest_algorithms=frozenset(DigestAlgorithm),
    )


def _verify_cryptography(raw: bytes, certificate: x509.Certificate) -> None:
    try:
        XAdESVerifier().verify(
            raw, x509_cert=certificate, expect_config=_signature_config(certificate)
        )
    except (InvalidSignature, InvalidInput) as exc:
        raise AuthDocumentError(9105, f"Nieprawidłowy podpis: {exc}") from exc
    except Exception as exc:  # signxml raises assorted errors for malformed signatures
        raise AuthDocumentError(9105, f"Nieprawidłowy podpis: {type(exc).__name__}: {exc}") from exc


@cache
def _schema(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path)))


def _validate_schema(
    root: etree._Element, signature: etree._Element, namespace: str, schemas_dir: Path
) -> None:
    # The XSD declares no ds:Signature; validate the document the signature covers.
    unsigned = etree.fromstring(etree.tostring(root))
    for sig in unsigned.findall(f"{{{DS}}}Signature"):
        unsigned.remove(sig)
    if namespace.endswith("/2.0"):
        # The 2.0 XSD uses ^...$ and \b in patterns, which libxml2 (like Xerces) cannot
        # compile (digest Gotcha 5); 2.1 is the same schema with fixed patterns.
        unsigned = _renamespace(unsigned, namespace, namespace[:-3] + "2.1")
        namespace = namespace[:-3] + "2.1"
    schema = _schema(schemas_dir / AUTH_NAMESPACES[namespace])
    if not schema.validate(unsigned):
        errors = [f"linia {e.line}: {e.message}" for e in list(schema.error_log)[:5]]
        raise AuthDocumentError(21401, "; ".join(errors) or "Dokument niezgodny ze schemą.")


def _renamespace(root: etree._Element, old: str, new: str) -> etree._Element:
    for element in root.iter():
        qname = etree.QName(element)
        if qname.namespace == old:
            element.tag = f"{{{new}}}{qname.localname}"
    etree.cleanup_namespaces(root, top_nsmap={None: new})
    return root


def _read(root: etree._Element, namespace: str, certificate: x509.Certificate) -> AuthDocument:
    ns = {"a": namespace}
    context = root.find("a:ContextIdentifier", ns)
    assert context is not None and len(context)  # guaranteed by the XSD
    chosen = context[0]
    policy = None
    allowed = root.find("a:AuthorizationPolicy/a:AllowedIps", ns)
    if allowed is not None:
        policy = {
            "ip4Addresses": [e.text.strip() for e in allowed.findall("a:Ip4Address", ns) if e.text],
            "ip4Ranges": [e.text.strip() for e in allowed.findall("a:Ip4Range", ns) if e.text],
            "ip4Masks": [e.text.strip() for e in allowed.findall("a:Ip4Mask", ns) if e.text],
        }
    return AuthDocument(
        namespace=namespace,
        challenge=(root.findtext("a:Challenge", namespaces=ns) or "").strip(),
        context_type=etree.QName(chosen).localname,
        context_value=(chosen.text or "").strip(),
        subject_identifier_type=(
            root.findtext("a:SubjectIdentifierType", namespaces=ns) or ""
        ).strip(),
        ip_policy=policy,
        certificate=certificate,
    )


def certificate_identity(certificate: x509.Certificate) -> tuple[str, str] | None:
    """(type, value) from the subject: VATPL-NIP seal, TINPL/NIP or PNOPL/PESEL person."""
    from cryptography.x509.oid import NameOID

    for attribute in certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER):
        match = re.search(r"VATPL.*?(\d{10})", str(attribute.value))
        if match:
            return ("Nip", match.group(1))
    for attribute in certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER):
        value = str(attribute.value)
        match = re.search(r"(?:PNOPL|PESEL).*?(\d{11})", value)
        if match:
            return ("Pesel", match.group(1))
        match = re.search(r"(?:TINPL|NIP).*?(\d{10})", value)
        if match:
            return ("Nip", match.group(1))
    return None
