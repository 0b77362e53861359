"""The installed package: what the wheel holds, no template syntax, no side effects on import, and
imports that point from the specific to the general."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import kedro_prefect

PACKAGE = Path(kedro_prefect.__file__).parent
MODULES = sorted(
    ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    for path in PACKAGE.rglob("*.py")
    if path.name != "__main__.py"
)


def fresh_python(script: str, cwd: Path | None = None) -> str:
    """The last line ``script`` prints in a new interpreter of this environment, with a bare environment."""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "KEDRO_DISABLE_TELEMETRY": "true", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()[-1]


def test_the_tests_run_against_the_installed_wheel_not_a_source_tree():
    """``make test-layer`` installs the built wheel: the package imported here is its files."""
    installed = distribution("kedro-prefect")
    files = {Path(installed.locate_file(file)).resolve() for file in installed.files or []}
    assert (PACKAGE / "cli.py").resolve() in files
    assert (PACKAGE / "py.typed").resolve() in files  # projects type-check against it
    assert installed.version == kedro_prefect.__version__
    entry_points = {(point.group, point.name, point.value) for point in installed.entry_points}
    assert ("kedro.project_commands", "prefect", "kedro_prefect.cli:commands") in entry_points


def test_package_has_no_template_syntax():
    for path in PACKAGE.rglob("*.py"):
        if path.is_file():
            text = path.read_text()
            for marker in ("{{", "{%", "{#", "cookiecutter"):
                assert marker not in text, f"{path.relative_to(PACKAGE)} contains {marker!r}"


def test_importing_every_module_outside_a_project_has_no_side_effects(tmp_path):
    """No module finds, bootstraps or configures a project when imported (here: from an empty folder)."""
    script = (
        "import importlib, sys\n"
        f"for name in {MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "import kedro.framework.project as project\n"
        "assert project.PACKAGE_NAME is None, project.PACKAGE_NAME\n"
        "print('ok', len(sys.argv))\n"
    )
    assert fresh_python(script, cwd=tmp_path) == "ok 1"  # (Kedro itself logs which logging config it uses)
    assert list(tmp_path.iterdir()) == []  # nothing written either


def test_runner_does_not_import_strategy_or_policy_modules():
    """The shared types live in ``units``; Dask and memory policies import the runner's parts, not the reverse."""
    runner = (PACKAGE / "execution" / "runner.py").read_text()
    for module in ("dask", "memory_datasets", "threads", "flow"):
        assert f"from .{module} import" not in runner, module


def test_shared_types_scheduling_and_grouping_import_without_prefect():
    """Planning a run (units, scheduler, grouping, memory policies) needs no Prefect: they import in a
    fraction of Prefect's import time and their tests run without it."""
    modules = [f"kedro_prefect.execution.{name}" for name in ("units", "scheduler", "grouping", "memory_datasets")]
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(name for name in sys.modules if name == 'prefect' or name.startswith('prefect.')))\n"
    )
    assert fresh_python(script) == "[]"


def test_execution_never_imports_operations():
    """What runs inside a flow run does not reach up into what operates Prefect around it."""
    for path in (PACKAGE / "execution").glob("*.py"):
        for statement in ast.walk(ast.parse(path.read_text())):
            if isinstance(statement, ast.ImportFrom):
                module = "." * statement.level + (statement.module or "")
                assert "operations" not in module, f"{path.name} imports {module}"
