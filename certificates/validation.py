"""Checking an uploaded credential before anything is stored (PRODUCT.md, "what is checked").

Pure functions over the uploaded bytes and the slot they are meant for: they read, decrypt
and compare in memory and either return a `ValidatedCredential` or raise
`CredentialRejected` with one specific Polish message. Nothing here touches the database
or logs a value; the caller stores only after a successful return.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import PurePath

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from certificates.models import Credential
from ksef import certificates as kc
from portal.models import Office

logger = logging.getLogger(__name__)

MAX_CERTIFICATE_BYTES = 64 * 1024
MAX_KEY_BYTES = 64 * 1024
MAX_PKCS12_BYTES = 128 * 1024
MAX_PASSWORD_CHARS = 256
MAX_TOKEN_CHARS = 512

CERTIFICATE_EXTENSIONS = (".crt", ".cer", ".cert", ".pem", ".der")
KEY_EXTENSIONS = (".key", ".pem", ".der")
PKCS12_EXTENSIONS = (".p12", ".pfx")

# A KSeF 2.0 token: "<reference number>|<context type>-<context value>|<64 hex digits>",
# e.g. the contract's example "20251010-EC-1DCE3E3000-12ECB5B36E-45|internalId-…|919f…".
TOKEN_PATTERN = re.compile(
    r"^(?P<reference>\d{8}-[A-Z]{2}-[0-9A-F]{10}-[0-9A-F]{10}-[0-9A-F]{2})"
    r"\|(?P<context_type>nip|internalId|nipVatUe|peppolId)-(?P<context_value>[A-Za-z0-9-]{1,40})"
    r"\|(?P<secret>[0-9a-fA-F]{64})$"
)


class Reason(StrEnum):
    """Why an upload was refused: one code per distinct, separately worded failure."""

    NOTHING_UPLOADED = "nothing_uploaded"
    BOTH_PAIR_AND_PKCS12 = "both_pair_and_pkcs12"
    CERTIFICATE_MISSING = "certificate_missing"
    KEY_MISSING = "key_missing"
    CERTIFICATE_EXTENSION = "certificate_extension"
    KEY_EXTENSION = "key_extension"
    PKCS12_EXTENSION = "pkcs12_extension"
    CERTIFICATE_TOO_LARGE = "certificate_too_large"
    KEY_TOO_LARGE = "key_too_large"
    PKCS12_TOO_LARGE = "pkcs12_too_large"
    PASSWORD_TOO_LONG = "password_too_long"
    CERTIFICATE_EMPTY = "certificate_empty"
    KEY_EMPTY = "key_empty"
    CERTIFICATE_IS_A_KEY = "certificate_is_a_key"
    KEY_IS_A_CERTIFICATE = "key_is_a_certificate"
    CERTIFICATE_UNREADABLE = "certificate_unreadable"
    CERTIFICATE_CHAIN = "certificate_chain"
    KEY_UNREADABLE = "key_unreadable"
    PASSWORD_REQUIRED = "password_required"
    WRONG_PASSWORD = "wrong_password"
    PKCS12_UNREADABLE = "pkcs12_unreadable"
    PKCS12_PASSWORD_REQUIRED = "pkcs12_password_required"
    PKCS12_WRONG_PASSWORD = "pkcs12_wrong_password"
    UNSUPPORTED_KEY = "unsupported_key"
    UNEXPECTED_CONTENT = "unexpected_content"
    REPLACE_NEEDS_MANAGER = "replace_needs_manager"
    KEY_DERIVATION_TOO_COSTLY = "key_derivation_too_costly"
    VALIDITY_OUT_OF_RANGE = "validity_out_of_range"
    NOT_TRUSTED_IN_PRODUCTION = "not_trusted_in_production"
    KEY_MISMATCH = "key_mismatch"
    EXPIRED = "expired"
    OFFLINE_IN_AUTHENTICATION_SLOT = "offline_in_authentication_slot"
    NOT_OFFLINE_IN_OFFLINE_SLOT = "not_offline_in_offline_slot"
    OWNER_NOT_IDENTIFIED = "owner_not_identified"
    OWNER_NOT_CLIENT = "owner_not_client"
    OWNER_NOT_OFFICE = "owner_not_office"
    TEST_CERTIFICATE_IN_PRODUCTION = "test_certificate_in_production"
    PRODUCTION_CERTIFICATE_IN_TEST = "production_certificate_in_test"
    SELF_SIGNED_ON_DEMO = "self_signed_on_demo"
    CONSENT_REQUIRED = "consent_required"
    TOKEN_EMPTY = "token_empty"
    TOKEN_TOO_LONG = "token_too_long"
    TOKEN_MALFORMED = "token_malformed"
    TOKEN_OTHER_CONTEXT = "token_other_context"
    TOKEN_NOT_FOR_OFFICE = "token_not_for_office"
    PREREQUISITE_NOT_MET = "prerequisite_not_met"


class CredentialRejected(Exception):
    """The upload cannot be stored; `message` is the Polish sentence shown to the user."""

    def __init__(self, reason: Reason, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(f"{reason}: {message}")


@dataclass(frozen=True)
class UploadedFile:
    """One uploaded file, already read into memory (the form enforces the size cap first)."""

    name: str
    content: bytes


@dataclass(frozen=True)
class CertificateUpload:
    """What the user gave for a certificate slot: a pair of files, or a PKCS#12."""

    certificate: UploadedFile | None = None
    private_key: UploadedFile | None = None
    pkcs12: UploadedFile | None = None
    password: str = ""

    def __repr__(self) -> str:  # never print the password or key bytes
        return "CertificateUpload(<redacted>)"


@dataclass(frozen=True)
class Consent:
    given_by: str = ""
    given_on: datetime | None = None

    @property
    def is_recorded(self) -> bool:
        return bool(self.given_by.strip()) and self.given_on is not None


@dataclass(frozen=True)
class Slot:
    """Where the credential is going: which office, which client (None = office model), kind."""

    office: Office
    kind: str
    client_nip: str | None = None
    authorised_person: str | None = None  # the ZAW-FA person's (or JDG owner's) PESEL or NIP
    sole_proprietorship: bool = False  # the client is a JDG: authorised_person is its owner


@dataclass(frozen=True, repr=False)
class ValidatedCredential:
    """A credential that passed every check; carries the secrets in memory only."""

    kind: str
    info: kc.CertificateInfo | None = None
    certificate_pem: str = ""
    private_key_pem: str = ""
    key_password: str = ""
    token: str = ""
    token_reference: str = ""
    warnings: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"ValidatedCredential(kind={self.kind!r}, <secrets redacted>)"


def reject(reason: Reason, message: str) -> CredentialRejected:
    return CredentialRejected(reason, message)


def _date(value: datetime) -> str:
    # 9999-12-31 23:59 UTC is already year 10000 in Warsaw: then the UTC date is shown.
    with contextlib.suppress(OverflowError):
        value = timezone.localtime(value)
    return formats.date_format(value, "j E Y")


# --- files --------------------------------------------------------------------------------


def _check_file(
    upload: UploadedFile,
    *,
    extensions: tuple[str, ...],
    max_bytes: int,
    extension_reason: Reason,
    size_reason: Reason,
    what: str,
) -> None:
    suffix = PurePath(upload.name).suffix.lower()
    if suffix not in extensions:
        raise reject(
            extension_reason,
            _("%(what)s musi mieć rozszerzenie %(allowed)s (wybrano plik „%(name)s”).")
            % {"what": what, "allowed": ", ".join(extensions), "name": PurePath(upload.name).name},
        )
    if len(upload.content) > max_bytes:
        raise reject(
            size_reason,
            _("%(what)s jest za duży (%(size)d KB, limit %(limit)d KB) — to nie jest plik KSeF.")
            % {"what": what, "size": len(upload.content) // 1024, "limit": max_bytes // 1024},
        )


def check_upload_files(upload: CertificateUpload) -> None:
    """Presence, extensions and sizes — before any parsing."""
    has_pair = upload.certificate is not None or upload.private_key is not None
    if upload.pkcs12 is not None and has_pair:
        raise reject(
            Reason.BOTH_PAIR_AND_PKCS12,
            _("Wybierz albo certyfikat z kluczem, albo jeden plik .p12/.pfx — nie oba naraz."),
        )
    if upload.pkcs12 is None and not has_pair:
        raise reject(
            Reason.NOTHING_UPLOADED,
            _("Wybierz plik certyfikatu i plik klucza prywatnego albo plik .p12/.pfx."),
        )
    if len(upload.password) > MAX_PASSWORD_CHARS:
        raise reject(
            Reason.PASSWORD_TOO_LONG,
            _("Hasło jest dłuższe niż %(limit)d znaków — sprawdź, czy wklejono właściwy tekst.")
            % {"limit": MAX_PASSWORD_CHARS},
        )
    if upload.pkcs12 is not None:
        _check_file(
            upload.pkcs12,
            extensions=PKCS12_EXTENSIONS,
            max_bytes=MAX_PKCS12_BYTES,
            extension_reason=Reason.PKCS12_EXTENSION,
            size_reason=Reason.PKCS12_TOO_LARGE,
            what=_("Plik PKCS#12"),
        )
        return
    if upload.certificate is None:
        raise reject(
            Reason.CERTIFICATE_MISSING,
            _("Brakuje pliku certyfikatu (.crt, .cer, .cert lub .pem)."),
        )
    if upload.private_key is None:
        raise reject(
            Reason.KEY_MISSING,
            _("Brakuje pliku klucza prywatnego (.key lub .pem) — bez niego nie da się logować."),
        )
    _check_file(
        upload.certificate,
        extensions=CERTIFICATE_EXTENSIONS,
        max_bytes=MAX_CERTIFICATE_BYTES,
        extension_reason=Reason.CERTIFICATE_EXTENSION,
        size_reason=Reason.CERTIFICATE_TOO_LARGE,
        what=_("Plik certyfikatu"),
    )
    _check_file(
        upload.private_key,
        extensions=KEY_EXTENSIONS,
        max_bytes=MAX_KEY_BYTES,
        extension_reason=Reason.KEY_EXTENSION,
        size_reason=Reason.KEY_TOO_LARGE,
        what=_("Plik klucza prywatnego"),
    )


# --- parsing ------------------------------------------------------------------------------


def _unsupported_key(exc: kc.UnsupportedKeyTypeError) -> CredentialRejected:
    return reject(
        Reason.UNSUPPORTED_KEY,
        _(
            "Nieobsługiwany rodzaj klucza — KSeF przyjmuje tylko klucze RSA (co najmniej "
            "2048 bitów) albo EC na krzywej P-256 lub P-384."
        ),
    )


def _load_certificate(data: bytes) -> x509.Certificate:
    if not data.strip():
        raise reject(Reason.CERTIFICATE_EMPTY, _("Plik certyfikatu jest pusty."))
    if b"PRIVATE KEY-----" in data and b"CERTIFICATE-----" not in data:
        raise reject(
            Reason.CERTIFICATE_IS_A_KEY,
            _("W polu certyfikatu wybrano plik klucza prywatnego — zamień pliki miejscami."),
        )
    if data.count(b"-----BEGIN CERTIFICATE-----") > 1:
        raise reject(
            Reason.CERTIFICATE_CHAIN,
            _(
                "Plik zawiera kilka certyfikatów (łańcuch) — prześlij sam certyfikat KSeF, "
                "bez certyfikatów wystawcy."
            ),
        )
    try:
        return kc.load_certificate(data)
    except kc.UnsupportedKeyTypeError as exc:
        raise _unsupported_key(exc) from None
    except kc.CertificateError:
        raise reject(
            Reason.CERTIFICATE_UNREADABLE,
            _(
                "Nie można odczytać certyfikatu: plik nie jest certyfikatem X.509 w formacie "
                "PEM ani DER albo jest uszkodzony lub ucięty."
            ),
        ) from None


def _load_key(data: bytes, password: str) -> kc.PrivateKey:
    if not data.strip():
        raise reject(Reason.KEY_EMPTY, _("Plik klucza prywatnego jest pusty."))
    if b"CERTIFICATE-----" in data and b"PRIVATE KEY-----" not in data:
        raise reject(
            Reason.KEY_IS_A_CERTIFICATE,
            _("W polu klucza prywatnego wybrano plik certyfikatu — zamień pliki miejscami."),
        )
    try:
        return kc.load_private_key(data, password or None)
    except kc.PasswordRequiredError:
        raise reject(
            Reason.PASSWORD_REQUIRED,
            _("Klucz prywatny jest zaszyfrowany — wpisz hasło podane przy jego tworzeniu."),
        ) from None
    except kc.WrongPasswordError:
        raise reject(Reason.WRONG_PASSWORD, _("Hasło nie pasuje do klucza prywatnego.")) from None
    except kc.UnsupportedKeyTypeError as exc:
        raise _unsupported_key(exc) from None
    except kc.KeyDerivationTooCostlyError:
        raise _too_costly() from None
    except kc.CertificateError:
        raise reject(
            Reason.KEY_UNREADABLE,
            _(
                "Nie można odczytać klucza prywatnego: plik nie jest kluczem PEM/DER "
                "(PKCS#8) albo jest uszkodzony lub ucięty."
            ),
        ) from None


def _load_pkcs12(data: bytes, password: str) -> tuple[kc.PrivateKey, x509.Certificate]:
    try:
        key, certificate, _extra = kc.load_pkcs12(data, password or None)
    except kc.PasswordRequiredError:
        raise reject(
            Reason.PKCS12_PASSWORD_REQUIRED,
            _("Plik .p12/.pfx jest zaszyfrowany — wpisz jego hasło."),
        ) from None
    except kc.WrongPasswordError:
        raise reject(
            Reason.PKCS12_WRONG_PASSWORD, _("Hasło nie otwiera tego pliku .p12/.pfx.")
        ) from None
    except kc.UnsupportedKeyTypeError as exc:
        raise _unsupported_key(exc) from None
    except kc.KeyMismatchError:
        raise _key_mismatch() from None
    except kc.KeyDerivationTooCostlyError:
        raise _too_costly() from None
    except kc.CertificateError:
        raise reject(
            Reason.PKCS12_UNREADABLE,
            _(
                "Nie można odczytać pliku .p12/.pfx: to nie jest archiwum PKCS#12 z kluczem "
                "i certyfikatem albo jest ono uszkodzone."
            ),
        ) from None
    return key, certificate


def _too_costly() -> CredentialRejected:
    return reject(
        Reason.KEY_DERIVATION_TOO_COSTLY,
        _(
            "Plik klucza jest zaszyfrowany z nietypowo dużą liczbą powtórzeń funkcji "
            "hasła (ponad %(limit)s) — portal go nie otworzy. Zapisz klucz ponownie "
            "zwykłym narzędziem (np. aplikacją KSeF albo OpenSSL) i prześlij go jeszcze raz."
        )
        % {"limit": formats.number_format(kc.MAX_KDF_ITERATIONS, force_grouping=True)},
    )


def _key_mismatch() -> CredentialRejected:
    return reject(
        Reason.KEY_MISMATCH,
        _(
            "Klucz prywatny nie pasuje do certyfikatu — to klucz innego certyfikatu. "
            "Wybierz klucz zapisany razem z tym certyfikatem."
        ),
    )


# --- facts about the certificate ----------------------------------------------------------


# Certificates KSeF accepts live two years (KSeF's own) to a few (qualified ones). A
# validity outside these bounds — RFC 5280's "no expiry" 9999-12-31 among them — is not a
# KSeF certificate, and such dates overflow every date computation and display downstream.
EARLIEST_VALIDITY = datetime(1990, 1, 1, tzinfo=UTC)
MAX_VALIDITY_YEARS = 30


def _check_validity(info: kc.CertificateInfo, warnings: list[str]) -> None:
    now = timezone.now()
    latest = now.replace(year=now.year + MAX_VALIDITY_YEARS, month=1, day=1)
    if not (EARLIEST_VALIDITY <= info.valid_from <= latest and info.valid_to <= latest):
        raise reject(
            Reason.VALIDITY_OUT_OF_RANGE,
            _(
                "Certyfikat ma niewiarygodny okres ważności (od %(start)s do %(end)s) — "
                "certyfikaty KSeF są ważne 2 lata, kwalifikowane kilka lat. To nie jest "
                "certyfikat, którym można logować się do KSeF."
            )
            % {"start": _date(info.valid_from), "end": _date(info.valid_to)},
        )
    if info.valid_to < now:
        raise reject(
            Reason.EXPIRED,
            _("Certyfikat wygasł %(date)s — KSeF go nie przyjmie. Prześlij aktualny certyfikat.")
            % {"date": _date(info.valid_to)},
        )
    if info.valid_from > now:
        warnings.append(
            _(
                "Certyfikat zacznie obowiązywać dopiero %(date)s — do tego dnia logowanie nim "
                "się nie powiedzie."
            )
            % {"date": _date(info.valid_from)}
        )


def _check_kind(info: kc.CertificateInfo, slot: Slot, warnings: list[str]) -> None:
    kind = info.kind
    if slot.kind == Credential.Kind.AUTHENTICATION:
        if kind is kc.KsefCertificateKind.OFFLINE:
            raise reject(
                Reason.OFFLINE_IN_AUTHENTICATION_SLOT,
                _(
                    "To certyfikat offline (typ 2) — służy do podpisywania kodów QR faktur "
                    "offline, nie do logowania. Tutaj prześlij certyfikat uwierzytelniający "
                    "(typ 1)."
                ),
            )
        if kind is kc.KsefCertificateKind.UNKNOWN:
            warnings.append(
                _(
                    "To nie jest certyfikat wystawiony przez KSeF — logowanie zadziała tylko, "
                    "jeśli jest to certyfikat kwalifikowany (podpis lub pieczęć)."
                )
            )
        return
    if kind is not kc.KsefCertificateKind.OFFLINE:
        raise reject(
            Reason.NOT_OFFLINE_IN_OFFLINE_SLOT,
            _(
                "To nie jest certyfikat offline KSeF (typ 2)%(hint)s. W tym polu potrzebny "
                "jest certyfikat typu „Offline”."
            )
            % {
                "hint": _(" — to certyfikat uwierzytelniający (typ 1)")
                if kind is kc.KsefCertificateKind.AUTHENTICATION
                else ""
            },
        )


def _identity_label(info: kc.CertificateInfo) -> str:
    if info.owner_identifier_type is kc.OwnerIdentifierType.PESEL:
        return f"PESEL {info.owner_identifier}"
    return f"NIP {info.owner_identifier}"


def _check_owner(info: kc.CertificateInfo, slot: Slot) -> None:
    """The certificate must name the office (office slot), or the client's NIP, or the
    person recorded in the ZAW-FA step: the authorised person of a company, or the owner of
    a sole proprietorship, whose certificate carries a PESEL when it was generated after a
    Profil Zaufany / e-Dowód login."""
    if info.owner_identifier_type is kc.OwnerIdentifierType.FINGERPRINT:
        raise reject(
            Reason.OWNER_NOT_IDENTIFIED,
            _(
                "Certyfikat nie zawiera NIP ani PESEL właściciela, więc nie da się sprawdzić, "
                "do kogo należy. Portal szuka ich w polu serialNumber albo "
                "organizationIdentifier, zapisanych jak u wystawców: VATPL-, TINPL- lub NIP- "
                "i 10 cyfr NIP albo PNOPL- lub PESEL- i 11 cyfr PESEL. Podmiot tego "
                "certyfikatu: %(subject)s. Prześlij certyfikat KSeF wystawiony na NIP lub PESEL."
            )
            % {"subject": info.subject[:300]},
        )
    if slot.client_nip is None:
        if info.owner_identifier != slot.office.nip:
            raise reject(
                Reason.OWNER_NOT_OFFICE,
                _(
                    "Certyfikat należy do %(owner)s, a nie do biura (NIP %(nip)s). Certyfikat "
                    "biura musi być wystawiony na NIP biura."
                )
                % {"owner": _identity_label(info), "nip": slot.office.nip},
            )
        return
    allowed = {slot.client_nip}
    if slot.authorised_person:
        allowed.add(slot.authorised_person)
    if info.owner_identifier in allowed:
        return
    if slot.sole_proprietorship and not slot.authorised_person:
        raise reject(
            Reason.OWNER_NOT_CLIENT,
            _(
                "Certyfikat należy do %(owner)s, a nie do klienta (NIP %(nip)s). Jeśli to "
                "certyfikat właściciela firmy, wpisz jego dane w kroku ZAW-FA (dane "
                "właściciela) i prześlij plik ponownie."
            )
            % {"owner": _identity_label(info), "nip": slot.client_nip},
        )
    if slot.sole_proprietorship:
        raise reject(
            Reason.OWNER_NOT_CLIENT,
            _(
                "Certyfikat należy do %(owner)s — nie do klienta (NIP %(nip)s) ani do "
                "właściciela firmy wpisanego w kroku ZAW-FA. Sprawdź, czy to plik właściwego "
                "klienta."
            )
            % {"owner": _identity_label(info), "nip": slot.client_nip},
        )
    raise reject(
        Reason.OWNER_NOT_CLIENT,
        _(
            "Certyfikat należy do %(owner)s — nie do klienta (NIP %(nip)s) ani do osoby "
            "upoważnionej w ZAW-FA. Sprawdź, czy to plik właściwego klienta."
        )
        % {"owner": _identity_label(info), "nip": slot.client_nip},
    )


def _check_environment(info: kc.CertificateInfo, slot: Slot) -> None:
    office_env = slot.office.ksef_environment
    env = info.environment
    test_issued = env in (kc.CertificateEnvironment.TEST, kc.CertificateEnvironment.TEST_OR_DEMO)
    if (
        office_env == Office.KsefEnvironment.PRODUCTION
        and env is kc.CertificateEnvironment.UNKNOWN
        and not info.is_qualified
    ):
        raise reject(
            Reason.NOT_TRUSTED_IN_PRODUCTION,
            _(
                "Certyfikat nie został wystawiony przez KSeF i nie jest certyfikatem "
                "kwalifikowanym (wystawca: %(issuer)s) — produkcyjny KSeF go odrzuci. "
                "Prześlij certyfikat KSeF albo kwalifikowany certyfikat podpisu lub pieczęci."
            )
            % {"issuer": info.issuer},
        )
    if office_env == Office.KsefEnvironment.PRODUCTION and test_issued:
        raise reject(
            Reason.TEST_CERTIFICATE_IN_PRODUCTION,
            _(
                "To certyfikat testowy (wystawca: %(issuer)s) — biuro pracuje na produkcyjnym "
                "KSeF, który go odrzuci. Prześlij certyfikat wystawiony w środowisku "
                "produkcyjnym."
            )
            % {"issuer": info.issuer},
        )
    if office_env != Office.KsefEnvironment.PRODUCTION and (
        env is kc.CertificateEnvironment.PRODUCTION
    ):
        raise reject(
            Reason.PRODUCTION_CERTIFICATE_IN_TEST,
            _(
                "To certyfikat produkcyjny (CCK KSeF) — biuro jest ustawione na środowisko "
                "„%(env)s”, które go nie przyjmie. Użyj certyfikatu z tego środowiska."
            )
            % {"env": slot.office.get_ksef_environment_display()},
        )
    if office_env == Office.KsefEnvironment.DEMO and env is kc.CertificateEnvironment.TEST:
        raise reject(
            Reason.SELF_SIGNED_ON_DEMO,
            _(
                "To certyfikat samopodpisany — przyjmuje go tylko środowisko testowe (TE). "
                "Środowisko DEMO wymaga certyfikatu wystawionego przez KSeF DEMO."
            ),
        )


def _check_consent(info: kc.CertificateInfo, consent: Consent) -> None:
    if info.is_personal and not consent.is_recorded:
        raise reject(
            Reason.CONSENT_REQUIRED,
            _(
                "To certyfikat osobisty (%(owner)s). Ministerstwo zabrania przekazywania go "
                "innym osobom, więc biuro może go przechowywać tylko za zgodą właściciela: "
                "wpisz, kto i kiedy wyraził zgodę, i wybierz pliki ponownie. Zalecamy model "
                "biura — klient nadaje uprawnienia biuru i nie przekazuje swojego klucza."
            )
            % {"owner": _identity_label(info)},
        )


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _key_pem(key: kc.PrivateKey, password: str) -> str:
    if password:
        return kc.export_private_key(key, password).decode("ascii")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _read(
    upload: CertificateUpload,
) -> tuple[kc.PrivateKey, x509.Certificate, kc.CertificateInfo, bool]:
    """Key, certificate, its description, and whether the key came without a password."""
    if upload.pkcs12 is not None:
        key, certificate = _load_pkcs12(upload.pkcs12.content, upload.password)
        unprotected = not upload.password or _pkcs12_opens_without_password(upload.pkcs12)
    else:
        assert upload.certificate is not None and upload.private_key is not None
        certificate = _load_certificate(upload.certificate.content)
        key = _load_key(upload.private_key.content, upload.password)
        unprotected = not kc.private_key_is_encrypted(upload.private_key.content)
        try:
            kc.check_key_matches_certificate(key, certificate)
        except kc.KeyMismatchError:
            raise _key_mismatch() from None
    return key, certificate, kc.describe_certificate(certificate), unprotected


def _pkcs12_opens_without_password(pkcs12: UploadedFile) -> bool:
    try:
        kc.load_pkcs12(pkcs12.content, None)
    except kc.CertificateError:
        return False
    return True


def validate_certificate_upload(
    upload: CertificateUpload, *, slot: Slot, consent: Consent
) -> ValidatedCredential:
    """Every check of PRODUCT.md in order; the first failure raises `CredentialRejected`."""
    check_upload_files(upload)
    try:
        key, certificate, info, unprotected = _read(upload)
    except (ValueError, TypeError, OverflowError, UnsupportedAlgorithm) as exc:
        # A file the specific checks did not foresee still gets a message, and counts as
        # a refused attempt on an upload link; only the error's class is logged (its
        # message could quote file content).
        logger.warning("upload refused: unforeseen %s while reading it", type(exc).__name__)
        raise reject(
            Reason.UNEXPECTED_CONTENT,
            _(
                "Nie można odczytać przesłanych plików: mają nietypową lub uszkodzoną "
                "zawartość. Zapisz certyfikat i klucz ponownie (np. z aplikacji KSeF) i "
                "prześlij je jeszcze raz."
            ),
        ) from None
    warnings: list[str] = []
    if unprotected:
        warnings.append(
            _(
                "Klucz prywatny nie był chroniony hasłem — każdy, kto ma kopię tego pliku, "
                "może logować się do KSeF w imieniu właściciela. Portal przechowuje go "
                "zaszyfrowany; usuń niezaszyfrowane kopie (z poczty, dysku, komunikatorów)."
            )
        )
    _check_validity(info, warnings)
    _check_kind(info, slot, warnings)
    _check_owner(info, slot)
    _check_environment(info, slot)
    _check_consent(info, consent)
    return ValidatedCredential(
        kind=slot.kind,
        info=info,
        certificate_pem=_pem(certificate),
        # Stored as encrypted PKCS#8 under the user's own password (when there is one), so
        # the key stays protected by it inside the encrypted column as well.
        private_key_pem=_key_pem(key, upload.password),
        key_password=upload.password,
        warnings=warnings,
    )


def validate_token(token: str, *, slot: Slot) -> ValidatedCredential:
    """A KSeF token: its shape, and that it was generated in this client's context."""
    if slot.client_nip is None:
        raise reject(
            Reason.TOKEN_NOT_FOR_OFFICE,
            _(
                "Token KSeF działa tylko w kontekście, w którym go wygenerowano — biuro loguje "
                "się do klientów certyfikatem, nie tokenem."
            ),
        )
    token = token.strip()
    if not token:
        raise reject(Reason.TOKEN_EMPTY, _("Wklej token KSeF."))
    if len(token) > MAX_TOKEN_CHARS:
        raise reject(
            Reason.TOKEN_TOO_LONG,
            _("Token jest dłuższy niż %(limit)d znaków — to nie jest token KSeF.")
            % {"limit": MAX_TOKEN_CHARS},
        )
    match = TOKEN_PATTERN.match(token)
    if match is None:
        raise reject(
            Reason.TOKEN_MALFORMED,
            _(
                "To nie jest token KSeF 2.0. Token ma postać „numer referencyjny|nip-NIP|64 "
                "znaki szesnastkowe” — skopiuj go w całości, bez spacji i znaków nowej linii."
            ),
        )
    context = f"{match['context_type']}-{match['context_value']}"
    if match["context_type"] != "nip" or match["context_value"] != slot.client_nip:
        raise reject(
            Reason.TOKEN_OTHER_CONTEXT,
            _(
                "Token wygenerowano w kontekście „%(context)s”, a nie klienta (NIP %(nip)s) — "
                "KSeF nie pozwoli nim zalogować się do tego klienta."
            )
            % {"context": context, "nip": slot.client_nip},
        )
    return ValidatedCredential(
        kind=Credential.Kind.TOKEN, token=token, token_reference=match["reference"]
    )


def password_hint() -> str:
    """The Ministry app's password policy, shown next to the password field (not enforced)."""
    return _(
        "Aplikacja Ministerstwa wymaga hasła o długości 15–32 znaków, z wielką i małą literą, "
        "cyfrą i znakiem specjalnym. Portal tego nie sprawdza — wpisz hasło, którym "
        "zaszyfrowano klucz."
    )
