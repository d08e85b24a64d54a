"""Encryption at rest of credential secrets: reading them safely, and key rotation.

How django-cryptography protects a value (read from its source, version 2.0.3):

* the value is pickled, then AES-256-CBC encrypted with a key derived by PBKDF2-SHA256
  (30,000 rounds) from ``CRYPTOGRAPHY_KEY`` (falling back to ``SECRET_KEY``) and
  ``CRYPTOGRAPHY_SALT``; the derived key replaces ``settings.CRYPTOGRAPHY_KEY`` at start-up
  and every encrypted field keeps its own cipher object built when the model is imported;
* the ciphertext is authenticated with HMAC-SHA256 keyed with **``SECRET_KEY``** — not with
  ``CRYPTOGRAPHY_KEY``. Changing ``SECRET_KEY`` therefore makes every secret unreadable
  (``BadSignature``) just as changing ``CRYPTOGRAPHY_KEY`` does, and a changed
  ``CRYPTOGRAPHY_KEY`` alone passes the HMAC and fails only at padding or unpickling (or,
  in a tiny fraction of cases, yields garbage). That is why this module never trusts a
  decryption on its own: every secret read is type-checked and, for certificates, proven
  by loading the key with its password and matching it to the stored certificate.

Rotation re-encrypts every encrypted column of every model in one transaction, reading
with the old cipher and writing with the new one, and verifies each new ciphertext before
committing (see ``certificates/README.md`` for the procedure).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from django.apps import apps
from django.conf import settings
from django.db import connection, models, transaction
from django.utils.encoding import force_bytes
from django_cryptography.core.signing import FernetSigner
from django_cryptography.fields import EncryptedMixin
from django_cryptography.utils.crypto import FernetBytes

from certificates.models import Credential, CredentialSecret
from certificates.validation import TOKEN_PATTERN
from ksef import certificates as kc

PBKDF2_ITERATIONS = 30_000  # django_cryptography.conf.CryptographyConf.configure


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted or is not what was stored: a wrong key, or damage.

    The message names the row, never a value.
    """


@dataclass(frozen=True, repr=False)
class SecretMaterial:
    """Decrypted secrets of one credential, alive only inside the service that uses them."""

    private_key_pem: str
    key_password: str
    token: str

    def __repr__(self) -> str:
        return "SecretMaterial(<redacted>)"


def _as_text(value: object, *, what: str, pk: object) -> str:
    if not isinstance(value, str):
        raise SecretUnreadable(f"{what} of credential #{pk} did not decrypt to text")
    return value


def secret_read(credential: Credential) -> SecretMaterial:
    """The credential's secrets, decrypted and checked; `SecretUnreadable` otherwise."""
    try:
        row = CredentialSecret.objects.get(credential=credential)
    except CredentialSecret.DoesNotExist:
        raise SecretUnreadable(f"credential #{credential.pk} has no stored secret") from None
    except Exception as exc:  # BadSignature, InvalidToken, UnpicklingError, ...
        raise SecretUnreadable(
            f"the secret of credential #{credential.pk} cannot be decrypted "
            f"({type(exc).__name__}): wrong CRYPTOGRAPHY_KEY/SECRET_KEY or damaged data"
        ) from None
    if row.destroyed_at is not None:
        raise SecretUnreadable(f"the secret of credential #{credential.pk} was destroyed")
    material = SecretMaterial(
        private_key_pem=_as_text(row.private_key_pem, what="private key", pk=credential.pk),
        key_password=_as_text(row.key_password, what="key password", pk=credential.pk),
        token=_as_text(row.token, what="token", pk=credential.pk),
    )
    secret_verify(credential, material)
    return material


def secret_verify(credential: Credential, material: SecretMaterial) -> None:
    """Prove the decrypted values are the stored credential's, not garbage from a wrong key."""
    if credential.kind == Credential.Kind.TOKEN:
        if not TOKEN_PATTERN.match(material.token):
            raise SecretUnreadable(f"the token of credential #{credential.pk} is not a KSeF token")
        return
    try:
        key = kc.load_private_key(
            material.private_key_pem.encode("ascii"), material.key_password or None
        )
        certificate = kc.load_certificate(credential.certificate_pem.encode("ascii"))
        kc.check_key_matches_certificate(key, certificate)
    except (kc.CertificateError, UnicodeEncodeError):
        raise SecretUnreadable(
            f"the private key of credential #{credential.pk} does not open with its password "
            "or does not match its certificate"
        ) from None


# --- ciphers -------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class KeySpec:
    """The inputs that determine django-cryptography's cipher. None = the running settings."""

    cryptography_key: str | None = None
    salt: str | None = None
    secret_key: str | None = None

    def __repr__(self) -> str:
        return "KeySpec(<redacted>)"

    @property
    def is_current(self) -> bool:
        return self.cryptography_key is None and self.salt is None and self.secret_key is None


def build_cipher(spec: KeySpec) -> FernetBytes:
    """A cipher equal to what django-cryptography builds from these settings."""
    if spec.cryptography_key is None and spec.salt is not None:
        raise ValueError("a new salt needs its key too (--old-key/--new-key)")
    if spec.cryptography_key is None:
        # settings.CRYPTOGRAPHY_KEY holds the *derived* key once django-cryptography loaded.
        aes_key = force_bytes(settings.CRYPTOGRAPHY_KEY)
    else:
        salt = spec.salt if spec.salt is not None else settings.CRYPTOGRAPHY_SALT
        kdf = PBKDF2HMAC(
            algorithm=hashes.SHA256(),
            length=32,
            salt=force_bytes(salt),
            iterations=PBKDF2_ITERATIONS,
        )
        aes_key = kdf.derive(force_bytes(spec.cryptography_key))
    signer = FernetSigner(key=spec.secret_key if spec.secret_key is not None else None)
    return FernetBytes(aes_key, signer)


def encrypted_columns() -> Iterator[tuple[type[models.Model], EncryptedMixin]]:
    """Every encrypted column of every installed model (other apps' secrets rotate too)."""
    for model in apps.get_models():
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, EncryptedMixin):
                if model_field.key is not None:
                    raise ValueError(
                        f"{model._meta.label}.{model_field.name} has its own key; rotate it "
                        "separately"
                    )
                yield model, model_field


class RotationError(Exception):
    """Rotation stopped; nothing was changed. The message names the row, never a value."""


@dataclass
class RotationReport:
    rows: int = 0
    values: int = 0
    columns: int = 0


def _decrypt(cipher: FernetBytes, raw: object) -> object:
    return pickle.loads(cipher.decrypt(force_bytes(raw)))  # noqa: S301 - HMAC-verified


def rotate_encryption_key(*, old: KeySpec, new: KeySpec) -> RotationReport:
    """Re-encrypt every encrypted value from `old` to `new`, all or nothing.

    Reads raw ciphertext with SQL (the ORM would decrypt with the running key), decrypts
    with the old cipher, re-encrypts with the new one, decrypts that again and compares
    before writing. Credential secrets are additionally proven (key opens with its
    password and matches the certificate; token has the KSeF shape), so a wrong old key
    that happens to decrypt to something cannot slip through as "plaintext".
    """
    old_cipher, new_cipher = build_cipher(old), build_cipher(new)
    report = RotationReport()
    quote = connection.ops.quote_name
    with transaction.atomic():
        for model, column in encrypted_columns():
            report.columns += 1
            table = quote(model._meta.db_table)
            pk = quote(str(model._meta.pk.column))
            name = quote(str(column.column))
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {pk}, {name} FROM {table} "  # noqa: S608 - quoted names
                    f"WHERE {name} IS NOT NULL"
                )
                rows = cursor.fetchall()
            for row_pk, raw in rows:
                value = _reencrypt_one(old_cipher, new_cipher, raw, model, column, row_pk)
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {table} SET {name} = %s WHERE {pk} = %s",  # noqa: S608
                        [value, row_pk],
                    )
                report.values += 1
        report.rows = _verify_credential_secrets(new_cipher)
    return report


def _reencrypt_one(
    old_cipher: FernetBytes,
    new_cipher: FernetBytes,
    raw: object,
    model: type[models.Model],
    column: EncryptedMixin,
    row_pk: object,
) -> bytes:
    where = f"{model._meta.label}.{column.name} of row {row_pk}"
    try:
        plaintext = _decrypt(old_cipher, raw)
    except Exception as exc:
        raise RotationError(
            f"{where} does not decrypt with the old key ({type(exc).__name__}); "
            "check OLD_CRYPTOGRAPHY_KEY / OLD_SECRET_KEY — nothing was changed"
        ) from None
    ciphertext = new_cipher.encrypt(pickle.dumps(plaintext))
    if _decrypt(new_cipher, ciphertext) != plaintext:
        raise RotationError(f"{where} did not survive re-encryption — nothing was changed")
    return ciphertext


def _verify_credential_secrets(cipher: FernetBytes) -> int:
    """Decrypt every credential secret with the new cipher and prove it, before commit."""
    quote = connection.ops.quote_name
    table = quote(CredentialSecret._meta.db_table)
    names = ("credential_id", "private_key_pem", "key_password", "token", "destroyed_at")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(quote(n) for n in names)} FROM {table}")  # noqa: S608
        rows = cursor.fetchall()
    credentials = Credential.objects.in_bulk([row[0] for row in rows])
    for credential_id, key_raw, password_raw, token_raw, destroyed_at in rows:
        if destroyed_at is not None:
            continue
        try:
            material = SecretMaterial(
                private_key_pem=_as_text(_decrypt(cipher, key_raw), what="key", pk=credential_id),
                key_password=_as_text(
                    _decrypt(cipher, password_raw), what="password", pk=credential_id
                ),
                token=_as_text(_decrypt(cipher, token_raw), what="token", pk=credential_id),
            )
            secret_verify(credentials[credential_id], material)
        except SecretUnreadable as exc:
            raise RotationError(f"{exc} after rotation — nothing was changed") from None
    return len(rows)
