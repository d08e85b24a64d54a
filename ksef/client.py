"""A typed, synchronous httpx client for the KSeF API 2.0 — one method per operation.

Tokens are never stored here: every authenticated method takes the bearer token as its first
argument, either as a string or as a zero-argument callable that returns the current one
(:class:`ksef.session.KsefSession` passes its auto-refreshing getter, so a long paging loop
keeps working across an access-token refresh).

:class:`KsefClient` is assembled from one mixin per API area, each a subclass of the shared
transport, so a module stays readable and every operation shares one retry policy:

* :mod:`ksef._http` — connection, retries, typed errors, logging (retry rules are there);
* :mod:`ksef._auth_ops` — challenge, XAdES/token authentication, redeem, refresh, sessions;
* :mod:`ksef._certificate_ops` — KSeF certificate limits, enrollment, query, revocation;
* :mod:`ksef._permission_ops` — grants, revocations and permission queries;
* :mod:`ksef._invoice_ops` — metadata queries, invoice download, exports;
* :mod:`ksef._export_reader` — export packages streamed to disk and read one invoice at a time;
* :mod:`ksef._session_ops` — online sessions, UPO, limits;
* :mod:`ksef._token_ops` — KSeF tokens: generate, list, read, revoke.

Import from here (``from ksef.client import KsefClient``); the underscored modules are not
part of the public API.
"""

from __future__ import annotations

from ksef._auth_ops import AuthOperations
from ksef._certificate_ops import CertificateOperations
from ksef._export_reader import ExportReader
from ksef._http import AccessToken, parse_retry_after, redact_headers
from ksef._invoice_ops import InvoiceOperations
from ksef._permission_ops import PermissionOperations
from ksef._session_ops import FA3_FORM_CODE, SessionOperations
from ksef._token_ops import TokenOperations

__all__ = [
    "FA3_FORM_CODE",
    "AccessToken",
    "ExportReader",
    "KsefClient",
    "parse_retry_after",
    "redact_headers",
]


class KsefClient(
    AuthOperations,
    CertificateOperations,
    PermissionOperations,
    InvoiceOperations,
    SessionOperations,
    TokenOperations,
):
    """Synchronous KSeF API 2.0 client.

    ``base_url`` is the API root including ``/v2`` (or an
    :class:`~ksef.environments.Environment`). ``sleep``, ``clock`` and ``jitter`` are
    injectable so tests run without real waiting. Use it as a context manager, or call
    :meth:`close`, to release the connection pool it created.
    """
