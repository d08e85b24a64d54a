"""Keep passwords, tokens and key files out of error pages, error e-mails and log records.

Django hides POST fields marked with `sensitive_post_parameters` and locals marked with
`sensitive_variables`, but only when DEBUG is off, only in the marked frame, and never in
log messages or in the request path. Here, for every request:

* the secrets are collected once (`request_secrets`): the values of the sensitive POST
  fields, the lines of uploaded files of such a view (a private key, a PKCS#12 file), and
  the URL's `token` (a client's upload link, a password-reset link);
* the exception reporter filter hides, in every frame and whatever DEBUG says, locals named
  like a secret and locals whose value contains one;
* the exception reporter removes any remaining occurrence from the finished page/e-mail;
* a logging filter on every handler removes them from the message and the traceback text,
  and writes an upload link as its id (`label_secret_url`), never as its token.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote, quote_plus

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

REDACTED = "********************"
# Locals with these names are never shown (the cleaned form data, the upload, its bytes...).
SENSITIVE_NAME = re.compile(
    r"pass|pwd|token|secret|key|pkcs12|pfx|private|upload|signature|cookie|cleaned_data"
    r"|^data$|^content$|^pem$|^der$|^body$|^raw$|^files?$",
    re.IGNORECASE,
)
# URL keyword arguments that are themselves credentials (upload links, reset links).
SECRET_URL_KWARGS = ("token",)
# A path segment after /u/ is an upload-link token even where no request is at hand
# (runserver's access log, a message built by hand).
UPLOAD_LINK_PATH = re.compile(r"(/u/)[^/\s?#\"']+")
_MIN_SECRET_LENGTH = 4
_MAX_FILE_BYTES = 256 * 1024
_LABEL_ATTRIBUTE = "secret_url_label"


def label_secret_url(request: HttpRequest, label: str) -> None:
    """Name the request's secret URL part in logs, e.g. "upload-link:42" for its token."""
    setattr(request, _LABEL_ATTRIBUTE, label)


def _sensitive_post_values(request: HttpRequest) -> list[str]:
    names = getattr(request, "sensitive_post_parameters", None)
    if not names or request.method != "POST":
        return []
    try:
        post = request.POST
        files = request.FILES
    except Exception:  # an unreadable body holds nothing we could leak
        return []
    keys = list(post) if names == "__ALL__" else [n for n in names if n in post]
    values = [value for key in keys for value in post.getlist(key)]
    for upload in files.values():
        values.extend(_file_fragments(upload))
    return values


def _file_fragments(upload: Any) -> list[str]:
    """Pieces of an uploaded file that would betray it: PEM lines, the bytes' repr."""
    try:
        upload.seek(0)
        content = bytes(upload.read(_MAX_FILE_BYTES))
        upload.seek(0)
    except Exception:
        return []
    text = content.decode("latin-1")
    lines = [line.strip() for line in text.splitlines() if len(line.strip()) >= 16]
    return [*lines, repr(content[:48])[2:-1]] if content else lines


def _url_secrets(request: HttpRequest) -> list[str]:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return []
    return [str(match.kwargs[name]) for name in SECRET_URL_KWARGS if match.kwargs.get(name)]


def request_secrets(request: HttpRequest | None) -> list[str]:
    """Every secret the request carries, longest first (so no secret is left half-hidden)."""
    if request is None or not isinstance(request, HttpRequest):
        return []
    cached = getattr(request, "_portal_secrets", None)
    if cached is None:
        found = {*_sensitive_post_values(request), *_url_secrets(request)}
        cached = sorted((s for s in found if len(s) >= _MIN_SECRET_LENGTH), key=len, reverse=True)
        request._portal_secrets = cached  # type: ignore[attr-defined]
    return list(cached)


def _spellings(secret: str) -> Iterable[str]:
    """The forms a value takes in a page, an e-mail or a log line."""
    inner_repr = repr(secret)[1:-1]
    yield from (secret, inner_repr, quote(secret, safe=""), quote_plus(secret))
    yield from (html.escape(secret), html.escape(secret, quote=False), html.escape(inner_repr))


def redact(text: str, secrets: Sequence[str], *, url_label: str | None = None) -> str:
    """`text` with every spelling of every secret replaced; upload-link paths by their label."""
    for secret in secrets:
        for spelling in _spellings(secret):
            if spelling and spelling in text:
                text = text.replace(spelling, REDACTED)
    label = f"[{url_label or 'token'}]"
    return UPLOAD_LINK_PATH.sub(lambda m: m.group(1) + label, text)


def _redact_for(request: HttpRequest | None, text: str) -> str:
    label = getattr(request, _LABEL_ATTRIBUTE, None) if request is not None else None
    if label is not None and request is not None:
        # The labelled URL part reads as its label, other secrets as stars.
        for secret in _url_secrets(request):
            text = text.replace(secret, f"[{label}]")
    return redact(text, request_secrets(request), url_label=label)


class SecretSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, active in DEBUG too, that also hides locals holding a secret."""

    def is_active(self, request: HttpRequest | None) -> bool:
        return True

    def get_post_parameters(self, request: HttpRequest | None) -> Any:
        post = super().get_post_parameters(request)
        if request is None:
            return post
        cleansed = post.copy()
        for name in cleansed:
            if SENSITIVE_NAME.search(name):
                cleansed[name] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> Any:
        secrets = request_secrets(request)
        shown = []
        for name, value in super().get_traceback_frame_variables(request, tb_frame):
            if SENSITIVE_NAME.search(name) or _holds_secret(value, secrets):
                value = self.cleansed_substitute
            shown.append((name, value))
        return shown


def _holds_secret(value: Any, secrets: Sequence[str]) -> bool:
    if isinstance(value, bytes | bytearray | memoryview):
        return True  # raw bytes in a frame of this portal are a file or a key
    try:
        shown = repr(value)
    except Exception:
        return False
    return "PRIVATE KEY" in shown or any(secret in shown for secret in secrets)


class SecretSafeExceptionReporter(ExceptionReporter):
    """The technical 500 page and the error e-mail, with every request secret removed."""

    # The page was escaped when rendered; replacing spellings with stars keeps it so.
    def get_traceback_html(self) -> SafeString:
        return mark_safe(_redact_for(self.request, str(super().get_traceback_html())))  # noqa: S308

    def get_traceback_text(self) -> SafeString:
        return mark_safe(_redact_for(self.request, str(super().get_traceback_text())))  # noqa: S308


class RedactSecretsFilter(logging.Filter):
    """On every handler: the record's message and traceback text without the secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if not isinstance(request, HttpRequest):
            request = None
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = _redact_for(request, message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _redact_for(request, record.exc_text)
        return True
