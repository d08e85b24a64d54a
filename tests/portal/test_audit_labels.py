"""Every audit action the code records has a human label for the audit log page."""

from __future__ import annotations

import ast
from pathlib import Path

from portal.audit import ACTION_LABELS
from tests.conftest import REPO_ROOT

APPS = ("portal", "clients", "certificates", "grants", "invoices", "dashboard", "demo")


def _recorded_actions() -> set[str]:
    actions: set[str] = set()
    for app in APPS:
        for path in Path(REPO_ROOT, app).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "audit_record":
                    for keyword in node.keywords:
                        if keyword.arg == "action" and isinstance(keyword.value, ast.Constant):
                            actions.add(str(keyword.value.value))
    return actions


def test_every_recorded_audit_action_has_a_polish_label() -> None:
    actions = _recorded_actions()

    assert len(actions) > 20, "the scan found suspiciously few audit_record calls"
    assert sorted(actions - ACTION_LABELS.keys()) == []
