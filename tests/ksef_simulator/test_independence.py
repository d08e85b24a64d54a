"""The simulator checks our client with its own code: from ksef/ it takes only the XSDs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIMULATOR_DIR = Path(__file__).resolve().parents[2] / "ksef_simulator"


def _imported(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", sorted(SIMULATOR_DIR.rglob("*.py")), ids=lambda p: p.name)
def test_no_simulator_module_imports_the_client_or_django(path: Path) -> None:
    # ksef.schemas only locates the Ministry's schema files; any other ksef module would let
    # a bug in the client hide behind the same bug in the simulator.
    foreign = [
        name
        for name in _imported(path)
        if name.split(".")[0] == "django"
        or (name.split(".")[0] == "ksef" and name != "ksef.schemas")
    ]
    assert foreign == []
