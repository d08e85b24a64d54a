"""Transport of :class:`ksef.client.KsefClient`: requests, retries, typed errors, logging.

Every operation mixin (``ksef._*_ops``) subclasses :class:`KsefTransport` and goes through
:meth:`KsefTransport._send`, so the retry rules below hold for the whole client:

* ``429`` → wait ``Retry-After`` (seconds or an HTTP date) and retry, up to
  ``max_rate_limit_retries`` and only while the wait is at most ``max_retry_after``. A 429
  request was not processed, so this is safe for every operation.
* 5xx, timeouts and connection errors → exponential backoff with jitter up to
  ``max_retries``, **only for idempotent operations**: GETs, DELETEs of a named resource,
  and the POSTs that only read (challenge, metadata/certificate/permission queries,
  certificate retrieval, token refresh). Grants, session open, invoice send, enrollment,
  exports, KSeF-token generation, token/XAdES authentication and redeem are never retried
  after the request may have reached KSeF: a 5xx or timeout raises, and the caller decides
  (a blind resend of an invoice, a grant or a token request could duplicate it).
  A connection that could not be *established* (``httpx.ConnectError``/``ConnectTimeout``)
  carried no request, so it is retried for every operation.

Logging (logger ``ksef.client``, kept from before the split so existing log configuration
still applies) records method, path, status and timing; headers are logged only through
:func:`redact_headers`, bodies never.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Self

import httpx

from ksef.crypto import PublicKeyCertificate, encrypt_symmetric_key
from ksef.environments import Environment
from ksef.errors import KsefTransportError, RateLimitedError, api_error_from_response
from ksef.models import DownloadedDocument

__all__ = [
    "AccessToken",
    "KsefTransport",
    "drop_none",
    "encryption_info",
    "iso_datetime",
    "parse_retry_after",
    "read_json",
    "redact_headers",
]

logger = logging.getLogger("ksef.client")

AccessToken = str | Callable[[], str]
"""A bearer token, or a callable returning the current one (re-read on every request)."""

_SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})


class _RedactUrlQueries(logging.Filter):
    """httpx logs every request URL at INFO; pre-signed export/UPO links carry their
    credential in the query string, so the query is replaced before anything is emitted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(arg, httpx.URL) and arg.query for arg in record.args
        ):
            record.args = tuple(
                arg.copy_with(query=b"redacted")
                if isinstance(arg, httpx.URL) and arg.query
                else arg
                for arg in record.args
            )
        return True


if not any(isinstance(f, _RedactUrlQueries) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(_RedactUrlQueries())


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers safe to log: credentials replaced by ``<redacted>``."""
    return {
        name: ("<redacted>" if name.lower() in _SECRET_HEADERS else value)
        for name, value in headers.items()
    }


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def read_json(response: httpx.Response) -> Any:
    # Decimal keeps invoice amounts exact (float would turn 0.1 into 0.1000000000000000055).
    return json.loads(response.content, parse_float=Decimal)


def drop_none(body: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}


def iso_datetime(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("pass timezone-aware datetimes (naive ones mean Europe/Warsaw to KSeF)")
    return moment.isoformat()


class KsefTransport:
    """Configuration, connection and request machinery shared by every operation mixin.

    ``base_url`` is the API root including ``/v2`` (or an :class:`Environment`). ``sleep``,
    ``clock`` and ``jitter`` are injectable so tests run without real waiting.
    """

    def __init__(
        self,
        base_url: str | Environment,
        *,
        http: httpx.Client | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_rate_limit_retries: int = 3,
        max_retry_after: float = 120.0,
        problem_details: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        jitter: Callable[[], float] = random.random,
    ) -> None:
        url = base_url.api_base_url if isinstance(base_url, Environment) else base_url
        self.base_url = url.rstrip("/")
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout)
        self._timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_rate_limit_retries = max_rate_limit_retries
        self.max_retry_after = max_retry_after
        self.problem_details = problem_details
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * 2.0**attempt)
        return ceiling / 2 + self._jitter() * ceiling / 2  # "equal jitter"

    def _send(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        token: AccessToken | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        url: str | None = None,
        accept: str = "application/json",
    ) -> httpx.Response:
        target = url or self.base_url + path
        failures = rate_limited = 0
        while True:
            request_headers = {"Accept": accept, **(headers or {})}
            if self.problem_details and url is None:
                request_headers["X-Error-Format"] = "problem-details"
            if token is not None:
                bearer = token() if callable(token) else token
                request_headers["Authorization"] = f"Bearer {bearer}"
            if content_type:
                request_headers["Content-Type"] = content_type
            started = time.monotonic()
            try:
                response = self._http.request(
                    method,
                    target,
                    params=drop_none(params or {}) or None,
                    json=json_body,
                    content=content,
                    headers=request_headers,
                    timeout=self._timeout,
                )
            except httpx.TransportError as exc:
                unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if (idempotent or unsent) and failures < self.max_retries:
                    delay = self._backoff(failures)
                    failures += 1
                    logger.info(
                        "%s %s: %s; retry in %.1fs", method, path, type(exc).__name__, delay
                    )
                    self._sleep(delay)
                    continue
                raise KsefTransportError(
                    f"{type(exc).__name__}: {exc}", method=method, path=path
                ) from None
            elapsed_ms = (time.monotonic() - started) * 1000
            logger.debug(
                "%s %s -> %s in %.0f ms; request headers %s",
                method,
                path,
                response.status_code,
                elapsed_ms,
                redact_headers(request_headers),
            )
            warning = response.headers.get("X-System-Warning")
            if warning:
                logger.warning("KSeF system warning on %s %s: %s", method, path, warning)
            status = response.status_code
            if status < 400:
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
            error = api_error_from_response(
                status_code=status,
                method=method,
                path=path,
                content=response.content,
                retry_after=retry_after,
            )
            if isinstance(error, RateLimitedError):
                wait = retry_after if retry_after is not None else self._backoff(rate_limited)
                if rate_limited < self.max_rate_limit_retries and wait <= self.max_retry_after:
                    rate_limited += 1
                    logger.info("%s %s: 429, waiting %.1fs", method, path, wait)
                    self._sleep(wait)
                    continue
                raise error
            if status >= 500 and idempotent and failures < self.max_retries:
                delay = self._backoff(failures)
                failures += 1
                logger.info("%s %s: HTTP %s; retry in %.1fs", method, path, status, delay)
                self._sleep(delay)
                continue
            raise error

    def _get(self, path: str, token: AccessToken, **kwargs: Any) -> Any:
        return read_json(self._send("GET", path, idempotent=True, token=token, **kwargs))

    def _post(
        self, path: str, token: AccessToken | None, body: Any, *, idempotent: bool, **kw: Any
    ) -> Any:
        response = self._send(
            "POST", path, idempotent=idempotent, token=token, json_body=body, **kw
        )
        return read_json(response) if response.content else None

    def _download(self, path: str, token: AccessToken) -> DownloadedDocument:
        response = self._send("GET", path, idempotent=True, token=token, accept="application/xml")
        return DownloadedDocument(response.content, response.headers.get("x-ms-meta-hash"))


def encryption_info(key: bytes, iv: bytes, public_key: PublicKeyCertificate) -> dict[str, str]:
    """The ``EncryptionInfo`` of a session or export: the AES key sealed for the MF key."""
    return {
        "encryptedSymmetricKey": encrypt_symmetric_key(key, public_key.certificate_der),
        "initializationVector": base64.b64encode(iv).decode("ascii"),
        "publicKeyId": public_key.public_key_id,
    }
