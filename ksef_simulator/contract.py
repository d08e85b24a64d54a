"""Request-body validation against the official contract (open-api.json).

The contract ships with the package, unmodified (`openapi/`, whose SOURCES.md and SHA256SUMS
name its origin and pin its bytes): the simulator is built from the Ministry's own file.

`@validated_body()` on a view looks up the operation by the view's URL rule and HTTP
method, validates the JSON body against the operation's request schema and answers
400 / 21405 (official shape) when it does not match. The validated body is returned by
`body()` inside the view.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache, wraps
from pathlib import Path
from typing import Any, TypeVar, cast

from flask import current_app, g, request
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from ksef_simulator.errors import validation_error

CONTRACT_PATH = Path(__file__).resolve().parent / "openapi" / "open-api.json"
_URI = "urn:ksef:open-api"
F = TypeVar("F", bound=Callable[..., Any])


@cache
def load_contract(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return cast(dict[str, Any], json.load(handle))


class Contract:
    def __init__(self, path: Path) -> None:
        self.document = load_contract(path)
        resource = Resource.from_contents(self.document, default_specification=DRAFT4)
        self._registry: Registry[Any] = Registry().with_resource(_URI, resource)
        self._validators: dict[str, OAS30Validator] = {}

    def operation(self, method: str, template: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.document["paths"][template][method.lower()])

    def schema(self, name: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.document["components"]["schemas"][name])

    def rate_limits(self, method: str, template: str) -> dict[str, int] | None:
        limits = self.operation(method, template).get("x-rate-limits")
        return cast(dict[str, int] | None, limits)

    def request_schema(self, method: str, template: str) -> dict[str, Any] | None:
        content = self.operation(method, template).get("requestBody", {}).get("content", {})
        media = content.get("application/json")
        return None if media is None else cast(dict[str, Any], media["schema"])

    def errors(self, instance: Any, schema: dict[str, Any], key: str) -> list[str]:
        validator = self._validators.get(key)
        if validator is None:
            validator = OAS30Validator(_rebase(schema), registry=self._registry)
            self._validators[key] = validator
        found = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        return [f"{'.'.join(map(str, e.path)) or '<body>'}: {e.message}" for e in found[:10]]


@cache
def contract_for(path: Path) -> Contract:
    """One Contract (and its compiled validators) per contract file, shared by all apps."""
    return Contract(path)


def flask_rule_to_template(rule: str) -> str:
    """'/v2/auth/<reference_number>' -> '/auth/{reference_number}' (placeholder names vary)."""
    path = rule.removeprefix("/v2")
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", path)


def template_key(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", template)


@cache
def _templates_by_key(path: Path) -> dict[str, str]:
    return {template_key(t): t for t in load_contract(path)["paths"]}


def contract_template(rule: str) -> str | None:
    """The contract path template matching a Flask URL rule, or None."""
    path = current_contract_path()
    return _templates_by_key(path).get(template_key(flask_rule_to_template(rule)))


def current_contract() -> Contract:
    return cast(Contract, current_app.extensions["ksef_simulator.contract"])


def current_contract_path() -> Path:
    return cast(Path, current_app.extensions["ksef_simulator.contract_path"])


def validated_body(schema_name: str | None = None, *, optional: bool = False) -> Callable[[F], F]:
    """Validate the JSON body against the operation's request schema (or `schema_name`).

    `optional=True`: an empty body counts as `{}` (operations whose body is optional).
    """

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if optional and not request.get_data(cache=True).strip():
                g.ksef_body = {}
                return view(*args, **kwargs)
            g.ksef_body = parse_and_validate(schema_name)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def parse_and_validate(schema_name: str | None = None) -> Any:
    contract = current_contract()
    if schema_name is not None:
        schema: dict[str, Any] | None = {"$ref": f"#/components/schemas/{schema_name}"}
        key = schema_name
    else:
        assert request.url_rule is not None
        template = contract_template(request.url_rule.rule)
        if template is None:
            raise LookupError(f"{request.url_rule.rule} is not in the contract")
        schema = contract.request_schema(request.method, template)
        key = f"{request.method} {template}"
    if schema is None:
        raise LookupError(f"{key} has no JSON request body in the contract")
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        validation_error(f"Treść żądania nie jest poprawnym JSON: {exc}")
    if data is None:
        validation_error("Brak treści żądania.")
    problems = contract.errors(data, schema, key)
    if problems:
        validation_error(*problems)
    return data


def body() -> Any:
    """The body validated by @validated_body for the current request."""
    return g.ksef_body


def _rebase(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (
                _URI + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _rebase(v)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rebase(item) for item in node]
    return node
