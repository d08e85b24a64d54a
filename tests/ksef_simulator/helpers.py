"""Test helpers for the simulator: contract-checking client hooks, credentials, logins.

Everything cryptographic here is written with `cryptography` + `lxml` directly — never
with our `ksef/` package, whose own tests run against the simulator.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import httpx

from tests.contract import ContractViolation, contract, validate_schema


class SimTransport(httpx.WSGITransport):
    """WSGITransport that reports a dropped connection as httpx does over a socket."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except ConnectionAbortedError as exc:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from exc


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    items = []
    for template in contract()["paths"]:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        items.append((re.compile(pattern), template))
    # Literal segments win over placeholders: /sessions/X/invoices/failed is not an invoice.
    items.sort(key=lambda item: item[1].count("{"))
    return items


def operation_for(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    for pattern, template in _templates():
        item = contract()["paths"][template]
        if pattern.match(path) and method.lower() in item:
            return template, item[method.lower()]
    return None


def error_codes(response: httpx.Response) -> list[int]:
    """Exception codes of a 400 in either official shape."""
    data = response.json()
    if "exception" in data:
        return [d["exceptionCode"] for d in data["exception"]["exceptionDetailList"]]
    return [e["code"] for e in data.get("errors", [])]


class ContractCheckingHooks:
    """httpx event hooks: every /v2 request and response is held to the contract."""

    def on_request(self, request: httpx.Request) -> None:
        path = request.url.path
        if not path.startswith("/v2/"):
            return
        found = operation_for(request.method, path[3:])
        if found is None:
            raise ContractViolation(f"{request.method} {path[3:]} is not in the contract")
        template, op = found
        request.extensions["ksef_template"] = template
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type != "application/json" or not request.content:
            return
        media = op.get("requestBody", {}).get("content", {}).get("application/json")
        if media is None:
            return
        try:
            validate_schema(json.loads(request.content), media["schema"])
        except (ContractViolation, ValueError) as exc:
            request.extensions["ksef_invalid_request"] = str(exc)

    def on_response(self, response: httpx.Response) -> None:
        request = response.request
        template = request.extensions.get("ksef_template")
        if template is None:
            return
        response.read()
        status = response.status_code
        if status >= 500 or (status == 415 and template == "/auth/xades-signature"):
            return  # fault injection / media-type rejection: the contract declares no body
        invalid = request.extensions.get("ksef_invalid_request")
        if invalid and status not in (400, 401, 403, 429):
            raise ContractViolation(f"request violated the contract but got {status}: {invalid}")
        if invalid and status == 400 and 21405 not in error_codes(response):
            raise ContractViolation(f"invalid request answered without 21405: {response.text}")
        op = contract()["paths"][template][request.method.lower()]
        declared = op["responses"].get(str(status))
        if declared is None:
            raise ContractViolation(f"{request.method} {template} declares no {status} response")
        content = declared.get("content")
        if content is None:
            if response.content:
                raise ContractViolation(f"{request.method} {template} {status} declares no body")
            return
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        media = content.get(media_type)
        if media is None:
            raise ContractViolation(
                f"{request.method} {template} {status} declares no {media_type} body"
            )
        if media_type.endswith("json"):
            validate_schema(
                response.json(), media["schema"], f"{request.method} {template} {status}"
            )
        if status == 429 and "Retry-After" not in response.headers:
            raise ContractViolation("429 without Retry-After")
