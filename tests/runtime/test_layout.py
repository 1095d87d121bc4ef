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


def module_path(name: str) -> Path | None:
    """Return the file of a runtime module named as in the package (`scripting.budget`)."""
    base = RUNTIME.joinpath(*name.split("."))
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.exists()), None)


def imported_modules(source: str, package: str = "") -> set[str]:
    """Return the runtime modules a module's source imports, named as in the package; the
    module sits in the runtime's subpackage `package` ("" for the runtime itself)."""
    anchor = ["webapp", "runtime", *filter(None, package.split("."))]
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = anchor[: len(anchor) - node.level + 1] if node.level else []
            module = ".".join([*parts, *filter(None, [node.module])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    inside = {n.removeprefix("webapp.runtime.") for n in names if n.startswith("webapp.runtime.")}
    return {name for name in inside if module_path(name)}


def reached(module: str) -> set[str]:
    """Return the runtime modules a module imports, directly or through others."""
    seen, waiting = set(), [module]
    while waiting:
        name = waiting.pop()
        if name not in seen and (path := module_path(name)):
            seen.add(name)
            package = name if path.name == "__init__.py" else name.rpartition(".")[0]
            waiting += imported_modules(path.read_text(), package)
    return seen - {module}


def test_the_engine_and_the_step_do_not_import_each_other() -> None:
    # The runtime builds steps; a step knows nothing of the runtime that built it.
    assert "steps" in reached("engine")
    assert "engine" not in reached("steps")


def test_the_reader_follows_the_real_imports() -> None:
    # The check above would pass on a reader that finds nothing.
    assert {"steps", "levers", "records", "scripting.budget"} <= reached("engine")
    assert {"audit", "task_list", "scripting.script_engine", "calls"} <= reached("steps")


def test_every_form_of_import_is_read() -> None:
    source = (
        "from . import engine, budget\nfrom .steps import Step\nimport webapp.runtime.audit\n"
        "from webapp.runtime.records import save\nfrom webapp.db import models\n"
        "from .. import calls\nfrom ...db import models\n"
    )
    assert imported_modules(source, "scripting") == {
        "scripting",
        "scripting.budget",
        "calls",
        "audit",
        "records",
    }
    assert imported_modules(source) == {"engine", "steps", "audit", "records"}
