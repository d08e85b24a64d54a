"""respx mocks held to the official contract in both directions, and checks of that harness.

Every response a test feeds the client is validated with ``validate_response`` before it is
registered, and every request the client sends is validated with ``validate_request`` (and
its query parameter names against the operation's declared parameters) when it arrives.
A client test therefore cannot pass against a hand-written fake that KSeF would never send,
nor send a body KSeF would reject.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from tests.contract import (
    ContractViolation,
    operation,
    validate_request,
    validate_response,
    validate_schema,
)

BASE = "https://ksef.invalid/v2"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def ts(moment: datetime) -> str:
    """KSeF-style timestamp: seven fractional digits and an explicit offset."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"


def ref(kind: str, n: int = 1) -> str:
    """A 36-character reference number (``20260302-AU-...``)."""
    return f"20260302-{kind}-{n:010X}-{n:010X}-{n % 256:02X}"


def problem(status: int, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": {401: "Unauthorized", 403: "Forbidden", 410: "Gone"}.get(status, "Error"),
        "status": status,
        "detail": extra.pop("detail", "Odmowa."),
        "instance": "/v2/x",
        "traceId": "673843e023c432286660bc0501a3af44",
        "timestamp": ts(NOW),
    }
    body.update(extra)
    return body


def exception_response(code: int, description: str, *details: str) -> dict[str, Any]:
    return {
        "exception": {
            "exceptionDetailList": [
                {
                    "exceptionCode": code,
                    "exceptionDescription": description,
                    "details": list(details),
                }
            ],
            "referenceNumber": "a1b2c3d4-e5f6-4789-ab12-cd34ef567890",
            "serviceCode": "00-c02cc3747020c605be02159bf3324f0e-eee7647dc67aa74a-00",
            "serviceCtx": "srvABCDA",
            "serviceName": "Undefined",
            "timestamp": ts(NOW),
        }
    }


@dataclass
class Reply:
    status: int
    body: Any = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # for XML bodies and pre-signed downloads


@dataclass
class ContractMock:
    """Routes on ``BASE`` that answer with contract-validated replies, in order."""

    router: respx.MockRouter
    sent: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, *replies: Reply | Exception) -> respx.Route:
        for reply in replies:
            if isinstance(reply, Reply) and reply.raw is None:
                validate_response(method, path, reply.status, reply.body, reply.content_type)
        queue = list(replies)

        def respond(request: httpx.Request) -> httpx.Response:
            self.sent.append(request)
            check_request(method, path, request)
            reply = queue.pop(0) if len(queue) > 1 else queue[0]
            if isinstance(reply, Exception):
                raise reply
            if reply.raw is not None:
                return httpx.Response(reply.status, content=reply.raw, headers=reply.headers)
            if reply.body is None:
                return httpx.Response(reply.status, headers=reply.headers)
            return httpx.Response(
                reply.status,
                content=json.dumps(reply.body).encode(),
                headers={"Content-Type": reply.content_type, **reply.headers},
            )

        return self.router.route(method=method, url=BASE + path).mock(side_effect=respond)

    def bodies(self, path: str) -> list[Any]:
        return [
            json.loads(r.content) for r in self.sent if r.url.path == "/v2" + path and r.content
        ]


def check_request(method: str, path: str, request: httpx.Request) -> None:
    op = operation(method, path)
    declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
    unknown = set(request.url.params.keys()) - declared
    if unknown:
        raise ContractViolation(f"{method} {path}: undeclared query parameters {unknown}")
    check_query_values(method, op, request.url.params)
    if "requestBody" not in op:
        if request.content:
            raise ContractViolation(f"{method} {path} takes no body")
        return
    content_type = request.headers.get("content-type", "").split(";")[0]
    if content_type == "application/json":
        validate_request(method, path, json.loads(request.content), content_type)
    else:
        validate_request(method, path, request.content.decode(), content_type)


def check_query_values(method: str, op: dict[str, Any], params: httpx.QueryParams) -> None:
    """Each query value against its parameter's schema (enum, minLength, min/max...)."""
    for parameter in op.get("parameters", []):
        name = parameter["name"]
        if parameter["in"] != "query" or name not in params:
            continue
        schema, values = parameter["schema"], params.get_list(name)
        if schema.get("type") == "array":
            value: Any = values
        elif len(values) > 1:
            raise ContractViolation(f"{method} {name} is not a list but was sent {values}")
        elif schema.get("type") == "integer":
            value = int(values[0])
        elif schema.get("type") == "boolean":
            value = {"true": True, "false": False}.get(values[0], values[0])
        else:
            value = values[0]
        validate_schema(value, schema, f"query parameter {name}")


@pytest.fixture
def ksef_mock() -> Iterable[ContractMock]:
    with respx.mock(assert_all_called=False) as router:
        yield ContractMock(router)


def token_info(token: str, valid_for: timedelta) -> dict[str, str]:
    return {"token": token, "validUntil": ts(NOW + valid_for)}


# --------------------------------------------------------------------------- the harness


def test_the_harness_refuses_a_response_the_contract_does_not_allow(
    ksef_mock: ContractMock,
) -> None:
    with pytest.raises(ContractViolation, match="challenge"):
        ksef_mock.on("POST", "/auth/challenge", Reply(200, {"timestamp": ts(NOW)}))


def test_the_harness_refuses_a_request_body_the_contract_does_not_allow(
    ksef_mock: ContractMock,
) -> None:
    ksef_mock.on("POST", "/certificates/retrieve", Reply(200, {"certificates": []}))
    with (
        httpx.Client() as http,
        pytest.raises(ContractViolation, match="certificateSerialNumbers"),
    ):
        http.post(BASE + "/certificates/retrieve", json={"certificateSerialNumbers": []})


def test_the_harness_refuses_undeclared_query_parameters(ksef_mock: ContractMock) -> None:
    ksef_mock.on(
        "GET",
        "/certificates/limits",
        Reply(
            200,
            {
                "canRequest": True,
                "enrollment": {"remaining": 1, "limit": 1},
                "certificate": {"remaining": 1, "limit": 1},
            },
        ),
    )
    with httpx.Client() as http, pytest.raises(ContractViolation, match="undeclared"):
        http.get(BASE + "/certificates/limits", params={"page": 2})


def test_the_harness_refuses_query_values_the_contract_does_not_allow(
    ksef_mock: ContractMock,
) -> None:
    ksef_mock.on("GET", "/tokens", Reply(200, {"tokens": []}))
    refused: dict[str, dict[str, int | str | list[str]]] = {
        "pageSize": {"pageSize": 5},  # 10..100
        "status": {"status": ["Active", "Expired"]},  # not an AuthenticationTokenStatus
        "description": {"description": "ab"},  # at least 3 characters
    }
    with httpx.Client() as http:
        http.get(BASE + "/tokens", params={"status": ["Active", "Pending"], "pageSize": 10})
        for name, params in refused.items():
            with pytest.raises(ContractViolation, match=name):
                http.get(BASE + "/tokens", params=params)
