"""Re-encrypt every stored secret under a new key, all or nothing (certificates/README.md).

Typical use, with the portal stopped and the *new* key already in the environment:

    OLD_CRYPTOGRAPHY_KEY='<the old key>' ./manage.py rotate_encryption_key

Keys are read from the environment (OLD_/NEW_CRYPTOGRAPHY_KEY, OLD_/NEW_CRYPTOGRAPHY_SALT,
OLD_/NEW_SECRET_KEY); the --old-*/--new-* options exist for scripted rehearsals but put the
key into the shell history and the process list. An unset value means "as the running
settings". django-cryptography authenticates ciphertext with SECRET_KEY, so a SECRET_KEY
change needs this command too (OLD_SECRET_KEY).
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from certificates.custody import KeySpec, RotationError, rotate_encryption_key


def _spec(options: dict[str, Any], prefix: str) -> KeySpec:
    def pick(option: str, variable: str) -> str | None:
        value = options.get(f"{prefix}_{option}") or os.environ.get(f"{prefix.upper()}_{variable}")
        return value or None

    return KeySpec(
        cryptography_key=pick("key", "CRYPTOGRAPHY_KEY"),
        salt=pick("salt", "CRYPTOGRAPHY_SALT"),
        secret_key=pick("secret_key", "SECRET_KEY"),
    )


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted column from the old key to the new one in one "
        "transaction, verifying each value before commit. Unset = the running settings."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        for side in ("old", "new"):
            parser.add_argument(f"--{side}-key", help=f"{side} CRYPTOGRAPHY_KEY")
            parser.add_argument(f"--{side}-salt", help=f"{side} CRYPTOGRAPHY_SALT")
            parser.add_argument(f"--{side}-secret-key", help=f"{side} SECRET_KEY (the HMAC key)")

    def handle(self, *args: Any, **options: Any) -> None:
        old, new = _spec(options, "old"), _spec(options, "new")
        if old == new:
            raise CommandError(
                "The old and new keys are the same: set OLD_CRYPTOGRAPHY_KEY (and/or "
                "OLD_SECRET_KEY) to the previous values, with the new ones in the settings."
            )
        try:
            report = rotate_encryption_key(old=old, new=new)
        except (RotationError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-encrypted {report.values} values in {report.columns} encrypted columns; "
                f"{report.rows} credential secrets verified under the new key."
            )
        )
