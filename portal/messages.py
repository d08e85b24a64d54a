"""Stored outcomes as codes and parameters, rendered in the reader's language.

A background job (a live check, a grants check, a departure) writes its outcome once and
people read it later, each in their own language. Services build the outcome with
`deferred` (the Polish source text, marked with `gettext_noop`, and its parameters) and
`joined`; both return a `StoredText`: a `str` in the active language, so existing code can
log, concatenate or raise it as before, that also remembers how it was made. `to_data`
turns it into JSON for the row and `render` turns that JSON back into text in whatever
language is active when the page is drawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.translation import gettext

from portal.text import format_sentence


class StoredText(str):
    """Text in the active language that remembers its msgid and parameters (`data`)."""

    data: dict[str, Any]

    def __new__(cls, text: str, data: dict[str, Any]) -> StoredText:
        instance = super().__new__(cls, text)
        instance.data = data
        return instance


def deferred(msgid: str, params: Mapping[str, Any] | None = None) -> StoredText:
    """`msgid` (marked with gettext_noop at the call) with its parameters, e.g. a NIP.

    A parameter may itself be a StoredText: it is stored as data and rendered too.
    """
    stored = {key: _param_data(value) for key, value in (params or {}).items()}
    data: dict[str, Any] = {"msgid": msgid, "params": stored} if stored else {"msgid": msgid}
    return StoredText(render(data), data)


def joined(parts: Iterable[str], separator: str = " ") -> StoredText:
    """Several messages shown as one ("Sprawdzono w KSeF — … " + a note)."""
    data = {"join": separator, "parts": [to_data(part) for part in parts]}
    return StoredText(render(data), data)


def to_data(text: str) -> dict[str, Any]:
    """What to store: the recipe of a StoredText, or plain text as it is (older callers)."""
    if isinstance(text, StoredText):
        return text.data
    return {"text": str(text)}


def render(data: Mapping[str, Any] | None) -> str:
    """The stored outcome in the active language ("" for nothing stored)."""
    if not data:
        return ""
    if "msgid" in data:
        text = gettext(str(data["msgid"]))
        params = data.get("params")
        if not params:
            return text
        values = {k: render(v) if isinstance(v, Mapping) else v for k, v in params.items()}
        try:
            return format_sentence(text, values)
        except (KeyError, TypeError, ValueError):
            return format_sentence(str(data["msgid"]), values)
    if "join" in data:
        return str(data["join"]).join(render(part) for part in data.get("parts", []))
    return str(data.get("text", ""))


def _param_data(value: Any) -> Any:
    if isinstance(value, StoredText):
        return value.data
    return value
