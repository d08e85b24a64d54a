"""Validation of request and response bodies against the official KSeF OpenAPI contract.

Used by the `ksef/` client tests and the simulator tests, so both are held to the same
contract file (`ksef_simulator/openapi/open-api.json`, the Ministry's file shipped unmodified
as package data), never to our own reading of it.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from ksef_simulator.contract import CONTRACT_PATH

_CONTRACT_URI = "urn:ksef:open-api"


class ContractViolation(AssertionError):
    """A body does not match the schema the contract declares for it."""


@cache
def contract() -> dict[str, Any]:
    with open(CONTRACT_PATH, encoding="utf-8") as handle:
        return json.load(handle)  # type: ignore[no-any-return]


@cache
def _registry() -> Registry:
    resource = Resource.from_contents(contract(), default_specification=DRAFT4)
    return Registry().with_resource(_CONTRACT_URI, resource)


def _validator(schema: dict[str, Any]) -> OAS30Validator:
    rooted = _rebase_refs(schema)
    return OAS30Validator(rooted, registry=_registry())


def _rebase_refs(node: Any) -> Any:
    """Point local `#/components/...` references at the registered contract document."""
    if isinstance(node, dict):
        return {
            key: (
                _CONTRACT_URI + value
                if key == "$ref" and value.startswith("#")
                else _rebase_refs(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rebase_refs(item) for item in node]
    return node


def component(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def operation(method: str, path: str) -> dict[str, Any]:
    """The contract's operation for METHOD PATH; PATH may be concrete (`/auth/ABC`)."""
    paths = contract()["paths"]
    if path in paths:
        return paths[path][method.lower()]  # type: ignore[no-any-return]
    for template, item in paths.items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return item[method.lower()]  # type: ignore[no-any-return]
    raise KeyError(f"{method} {path} is not in the contract")


def validate_schema(body: Any, schema: dict[str, Any], what: str = "body") -> None:
    errors = sorted(_validator(schema).iter_errors(body), key=lambda error: list(error.path))
    if errors:
        lines = [f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors[:10]]
        raise ContractViolation(f"{what} violates the contract:\n" + "\n".join(lines))


def validate_request(
    method: str, path: str, body: Any, content_type: str = "application/json"
) -> None:
    op = operation(method, path)
    schema = op["requestBody"]["content"][content_type]["schema"]
    validate_schema(body, schema, f"request {method} {path}")


def validate_response(
    method: str, path: str, status: int, body: Any, content_type: str = "application/json"
) -> None:
    op = operation(method, path)
    response = op["responses"].get(str(status))
    if response is None:
        raise ContractViolation(f"{method} {path} declares no {status} response")
    content = response.get("content")
    if content is None:
        if body not in (None, b"", ""):
            raise ContractViolation(f"{method} {path} {status} declares no body")
        return
    media = content.get(content_type)
    if media is None:
        raise ContractViolation(f"{method} {path} {status} declares no {content_type} body")
    validate_schema(body, media["schema"], f"response {method} {path} {status}")
