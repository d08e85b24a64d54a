"""Small rules of written Polish that the portal's sentences need.

A company's name often ends with an abbreviation's full stop ("Kowalski sp. z o.o.",
"Nowak S.A."). Where such a name ends a sentence, the abbreviation's full stop is the
sentence's full stop too: "Dodano klienta Kowalski sp. z o.o." — never "sp. z o.o..".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# "%(name)s." in a message: the value placed before a sentence full stop.
_BEFORE_FULL_STOP = re.compile(r"%\((\w+)\)s\.")


def before_full_stop(text: Any) -> str:
    """The text without its own final full stop, for a place followed by one."""
    value = str(text)
    return value[:-1] if value.endswith(".") and not value.endswith("..") else value


def format_sentence(message: str, params: Mapping[str, Any]) -> str:
    """`message % params`, without a doubled full stop after a parameter ending in one."""
    ending = set(_BEFORE_FULL_STOP.findall(message))
    values = {
        key: before_full_stop(value) if key in ending and isinstance(value, str) else value
        for key, value in params.items()
    }
    return message % values
