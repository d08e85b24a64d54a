"""The ksef package is a plain library: importing it must never pull in Django."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

KSEF_DIR = Path(__file__).resolve().parents[2] / "ksef"


def _modules() -> list[str]:
    names = ["ksef"]
    for path in sorted(KSEF_DIR.rglob("*.py")):
        relative = path.relative_to(KSEF_DIR.parent).with_suffix("")
        if relative.name != "__init__":
            names.append(".".join(relative.parts))
    return names


def test_every_ksef_module_imports_without_loading_django() -> None:
    modules = _modules()
    assert "ksef.xades" in modules and "ksef.qr" in modules
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'django')))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=KSEF_DIR.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("path", sorted(KSEF_DIR.rglob("*.py")), ids=lambda p: p.name)
def test_no_ksef_source_file_imports_django(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.append(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            imported += [a.value for a in node.args if isinstance(a, ast.Constant)]  # type: ignore[misc]
    assert not [name for name in imported if str(name).split(".")[0] == "django"]
    # Also catch imports hidden in strings (exec, __import__) that the AST walk cannot see.
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"(^|\s)(import|from)\s+django\b|__import__\(\s*['\"]django", text)
