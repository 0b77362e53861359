"""A pipeline module that fails to import: one line naming the file, the line and the cause, instead
of Kedro's warning naming only the module (and a `__default__` silently missing its nodes)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from kedro.pipeline import Node, Pipeline

from kedro_prefect.execution import selection
from kedro_prefect.execution.selection import PipelineImportError, check_pipeline_name, describe_import_failure
from kedro_prefect.options import InvalidRunOptions

KEDRO_FRAME = "/venv/lib/python3.11/site-packages/kedro/framework/project/__init__.py"


def kedro_warning(module: str, frames: str, cause: str) -> str:
    """The warning Kedro's `find_pipelines` gives (IMPORT_ERROR_MESSAGE) when a module raises."""
    return (
        f"An error occurred while importing the '{module}' module. Nothing defined therein will be "
        "returned by 'find_pipelines'.\n\nTraceback (most recent call last):\n"
        f'  File "{KEDRO_FRAME}", line 727, in find_pipelines\n'
        "    pipeline_module = importlib.import_module(pipeline_module_name)\n"
        '  File "<frozen importlib._bootstrap>", line 1204, in _gcd_import\n'
        f"{frames}{cause}\n"
    )


def test_the_deepest_project_frame_and_the_exception_make_one_line(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    package, nodes = (
        tmp_path / "src/toy/pipelines/reporting/__init__.py",
        tmp_path / "src/toy/pipelines/reporting/nodes.py",
    )
    frames = (
        f'  File "{package}", line 3, in <module>\n    from .nodes import summarise\n'
        f'  File "{nodes}", line 7, in <module>\n    import pandaz\n'
    )
    text = kedro_warning("toy.pipelines.reporting", frames, "ModuleNotFoundError: No module named 'pandaz'")
    assert describe_import_failure("toy.pipelines.reporting", text) == (
        "Pipeline module 'toy.pipelines.reporting' failed to import: ModuleNotFoundError: No module named 'pandaz' "
        "(src/toy/pipelines/reporting/nodes.py, line 7). Fix it, then try again."
    )


def test_a_syntax_error_names_the_line_it_is_on(tmp_path: Path, monkeypatch):
    """A SyntaxError's last frame has no `in <module>` and is followed by the caret lines."""
    monkeypatch.chdir(tmp_path)
    nodes = tmp_path / "src/toy/pipelines/reporting/nodes.py"
    frames = f'  File "{nodes}", line 12\n    def summarise(:\n                  ^\n'
    message = describe_import_failure(
        "toy.pipelines.reporting", kedro_warning("m", frames, "SyntaxError: invalid syntax")
    )
    assert "\n" not in message
    assert message.endswith(
        ": SyntaxError: invalid syntax (src/toy/pipelines/reporting/nodes.py, line 12). Fix it, then try again."
    )


def test_a_file_outside_the_working_folder_keeps_its_full_path(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    elsewhere = "/elsewhere/toy/pipelines/reporting/nodes.py"
    text = kedro_warning("toy.pipelines.reporting", f'  File "{elsewhere}", line 2, in <module>\n', "ValueError: bad")
    assert f"ValueError: bad ({elsewhere}, line 2)." in describe_import_failure("toy.pipelines.reporting", text)


def test_a_failure_inside_a_library_names_no_library_file():
    """Frames in site-packages and <frozen ...> are not where the user can fix anything."""
    text = kedro_warning("toy.pipelines.reporting", "", "RuntimeError: boom")
    assert describe_import_failure("toy.pipelines.reporting", text) == (
        "Pipeline module 'toy.pipelines.reporting' failed to import: RuntimeError: boom. Fix it, then try again."
    )


def test_an_empty_traceback_still_gives_a_line():
    assert describe_import_failure("toy.pipelines.x", "  \n") == (
        "Pipeline module 'toy.pipelines.x' failed to import: unknown error. Fix it, then try again."
    )


class FakeRegistry:
    """Kedro's pipeline registry over `find_pipelines(raise_errors=...)`, with pipelines `dp` and
    `__default__`: a requested name with no folder raises (or warns) as Kedro 1.7 does."""

    def __init__(self, raise_errors: bool) -> None:
        self.raise_errors = raise_errors
        self.requested: list[str] | None = None

    def set_requested(self, names: list[str] | None) -> None:
        self.requested = names

    def items(self):
        dp = Pipeline([Node(lambda x: x, "a", "b", name="n")])
        for name in set(self.requested or []) - {"dp", "__default__"}:
            message = f"An error occurred while importing the 'toy.pipelines.{name}' module."
            if self.raise_errors:
                raise ImportError(message)
            warnings.warn(f"{message} Nothing defined therein will be returned by 'find_pipelines'.", stacklevel=1)
        return {"dp": dp, "__default__": dp}.items()


@pytest.mark.parametrize("raise_errors", [True, False])
def test_an_unknown_pipeline_name_lists_the_known_ones_not_an_import_failure(monkeypatch, raise_errors: bool):
    """Kedro reports a requested name without a folder as a failed import of that module."""
    monkeypatch.setattr(selection, "pipelines", FakeRegistry(raise_errors))
    check_pipeline_name("dp")
    with warnings.catch_warnings(record=True), pytest.raises(InvalidRunOptions) as caught:
        check_pipeline_name("nope")
    assert not isinstance(caught.value, PipelineImportError)
    assert str(caught.value) == "Unknown pipeline 'nope'. Known pipelines: __default__, dp."
