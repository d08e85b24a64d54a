"""Paging: pageSize/pageOffset query parameters and x-continuation-token headers."""

from __future__ import annotations

import base64

from flask import request

from ksef_simulator.errors import bad_request, validation_error


def page_size(minimum: int, maximum: int, default: int = 10) -> int:
    raw = request.args.get("pageSize")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        validation_error(f"pageSize: {raw!r} nie jest liczbą")
    if not minimum <= value <= maximum:
        validation_error(f"pageSize: dozwolone {minimum}–{maximum}")
    return value


def continuation_offset() -> int:
    token = request.headers.get("x-continuation-token")
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        kind, _, number = text.partition(":")
        if kind != "offset":
            raise ValueError(text)
        return int(number)
    except (ValueError, UnicodeDecodeError):
        bad_request(21418, "Nieprawidłowy token kontynuacji.")


def encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def page_offset() -> int:
    raw = request.args.get("pageOffset", "0")
    try:
        value = int(raw)
    except ValueError:
        validation_error(f"pageOffset: {raw!r} nie jest liczbą")
    if value < 0:
        validation_error("pageOffset: nie może być ujemny")
    return value
