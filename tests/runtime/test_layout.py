"""The runtime room stays easy to read: small modules, the engine and the step apart."""

import ast
from pathlib import Path

import pytest

RUNTIME = Path(__file__).resolve().parents[2] / "webapp" / "runtime"
MAX_LINES = 400


@pytest.mark.parametrize(
    "path", sorted(RUNTIME.rglob("*.py")), ids=lambda p: str(p.relative_to(RUNTIME))
)
def test_no_runtime_module_is_over_400_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_LINES


def imported_modules(path: Path) -> set[str]:
    """Return the runtime modules a module imports, by their names in the package."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                names.add(node.module.split(".")[0])
            else:
                names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            modules = [node.module] if isinstance(node, ast.ImportFrom) else []
            modules += [alias.name for alias in getattr(node, "names", [])]
            names.update(
                m.removeprefix("webapp.runtime.").split(".")[0]
                for m in modules
                if m and m.startswith("webapp.runtime.")
            )
    return names


def reached(module: str) -> set[str]:
    """Return the runtime modules a module imports, directly or through others."""
    seen, waiting = set(), [module]
    while waiting:
        name = waiting.pop()
        paths = [p for p in (RUNTIME / f"{name}.py", RUNTIME / name / "__init__.py") if p.exists()]
        if name not in seen and paths:
            seen.add(name)
            waiting += imported_modules(paths[0])
    return seen - {module}


def test_the_engine_and_the_step_do_not_import_each_other() -> None:
    # The runtime builds steps; a step knows nothing of the runtime that built it.
    assert "steps" in reached("engine")
    assert "engine" not in reached("steps")


def test_the_real_modules_imports_are_found() -> None:
    # The check above would pass on a reader that finds nothing.
    assert {"steps", "levers", "records"} <= imported_modules(RUNTIME / "engine.py")
    assert {"audit", "task_list"} <= imported_modules(RUNTIME / "steps.py")


def test_every_form_of_import_is_read(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text(
        "from . import engine\nfrom .steps import Step\nimport webapp.runtime.audit\n"
        "from webapp.runtime.records import save\nfrom webapp.db import models\n"
    )
    assert imported_modules(module) == {"engine", "steps", "audit", "records"}
