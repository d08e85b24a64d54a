"""The dependency order of the apps, checked from the imports themselves.

`portal` (offices, staff, audit) <- `clients` <- `certificates` <- `grants` <- `invoices`,
with `dashboard` and `demo` on top: a module may import its own app and the apps below it,
never one above. `ksef/` is a library every app may use; `ksef_simulator/` is a separate
program that only the demo (and the tests) talk to. Function-level imports count too: an
import hidden in a function body is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ORDER = ["portal", "clients", "certificates", "grants", "invoices"]
TOP = {"dashboard", "demo"}
APPS = [*ORDER, *TOP]
# The root URLconf and the settings compose the whole project: they sit above every app.
COMPOSITION_ROOTS = {"portal/urls.py", "portal/settings.py", "portal/settings_test.py"}


def _rank(app: str) -> int:
    return len(ORDER) if app in TOP else ORDER.index(app)


def _modules(root: Path = REPO) -> list[Path]:
    return sorted(p for app in APPS for p in (root / app).rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, node.module)]
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def upward_imports(root: Path = REPO) -> list[str]:
    problems = []
    for path in _modules(root):
        relative = path.relative_to(root).as_posix()
        if relative in COMPOSITION_ROOTS:
            continue
        own = relative.split("/")[0]
        for line, module in _imports(path):
            target = module.split(".")[0]
            if target == "ksef_simulator" and own != "demo":
                problems.append(f"{relative}:{line} imports {module} (the simulator)")
            elif target in APPS and own not in TOP and _rank(target) > _rank(own):
                problems.append(f"{relative}:{line} imports {module} ({target} is above {own})")
    return sorted(set(problems))


def task_module_imports(root: Path = REPO) -> list[str]:
    """Services queue tasks by name (portal.queue); importing a tasks module closes a cycle."""
    problems = []
    for path in _modules(root):
        relative = path.relative_to(root).as_posix()
        if path.name == "tasks.py" or relative in COMPOSITION_ROOTS:
            continue
        for line, module in _imports(path):
            if module.split(".")[-1] == "tasks" and module.split(".")[0] in APPS:
                problems.append(f"{relative}:{line} imports {module}")
    return sorted(set(problems))


def test_no_app_imports_an_app_above_it() -> None:
    assert upward_imports() == []


def test_no_module_imports_a_tasks_module_so_services_and_tasks_never_form_a_cycle() -> None:
    assert task_module_imports() == []


def test_the_walk_names_the_file_line_and_import_of_each_violation(tmp_path: Path) -> None:
    for app in ("clients", "grants", "demo", "portal"):
        (tmp_path / app).mkdir()
    (tmp_path / "clients" / "selectors.py").write_text(
        "import ksef\n\ndef f():\n    from grants.models import PermissionGrant\n"
    )
    (tmp_path / "grants" / "services.py").write_text("from grants import tasks\n")
    (tmp_path / "portal" / "views.py").write_text("import ksef_simulator.app\n")
    (tmp_path / "demo" / "simulator.py").write_text("from ksef_simulator import app\n")

    assert upward_imports(tmp_path) == [
        "clients/selectors.py:4 imports grants.models (grants is above clients)",
        "clients/selectors.py:4 imports grants.models.PermissionGrant (grants is above clients)",
        "portal/views.py:1 imports ksef_simulator.app (the simulator)",
    ]
    assert task_module_imports(tmp_path) == ["grants/services.py:1 imports grants.tasks"]


def test_the_portal_apps_do_not_even_name_the_simulator() -> None:
    """The portal talks to KSeF, real or simulated, only over HTTP: the simulator is named
    by the demo and the tests alone (`grep -rn ksef_simulator <apps>` finds nothing)."""
    apps = [REPO / app for app in ORDER]
    naming = [
        path.relative_to(REPO).as_posix()
        for folder in apps
        for path in folder.rglob("*")
        if path.is_file()
        and path.suffix in {".py", ".html", ".md", ".txt"}
        and "ksef_simulator" in path.read_text(encoding="utf-8")
    ]
    assert naming == []
