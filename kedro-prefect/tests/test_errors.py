"""One error base for the layer, met by click in one place (``cli.LayerCommand``)."""

from __future__ import annotations

import ast
import importlib
import inspect

import click
import pytest
from click.testing import CliRunner
from pydantic import BaseModel, ValidationError, field_validator

from kedro_prefect.cli import LayerGroup
from kedro_prefect.errors import KedroPrefectError, first_problem
from kedro_prefect.report import say, warn

from .test_package import MODULES


def _layer_exceptions() -> list[type[BaseException]]:
    found = []
    for name in MODULES:
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == name:
                found.append(value)
    return found


def test_every_error_the_layer_defines_is_a_kedro_prefect_error():
    exceptions = _layer_exceptions()
    assert len(exceptions) >= 10  # the walk found them
    assert [error.__name__ for error in exceptions if not issubclass(error, KedroPrefectError)] == []


def test_only_the_cli_uses_click():
    """Presentation stays in cli.py: operations raise layer errors and say what they do through
    ``report``, never through click."""
    for name in MODULES:
        if name != "kedro_prefect.cli":
            tree = ast.parse(inspect.getsource(importlib.import_module(name)))
            imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
            imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
            assert not {module for module in imported if module.split(".")[0] == "click"}, name


@pytest.mark.parametrize("where", ["group", "command"])
def test_a_layer_error_is_one_line_and_exit_status_1(where):
    @click.group(cls=LayerGroup)
    @click.option("--fail-in-group", is_flag=True)
    def group(fail_in_group: bool) -> None:
        if fail_in_group:
            raise KedroPrefectError("The group cannot start: do this instead.")

    @group.command()
    def command() -> None:
        raise KedroPrefectError("The command cannot run: do that instead.")

    arguments = ["--fail-in-group", "command"] if where == "group" else ["command"]
    result = CliRunner().invoke(group, arguments)
    assert result.exit_code == 1
    expected = (
        "The group cannot start: do this instead." if where == "group" else "The command cannot run: do that instead."
    )
    assert result.output == f"Error: {expected}\n"


def test_on_a_terminal_only_a_warning_carries_colour_codes():
    """A plain line reaches a terminal as typed (tests and people match it); a warning is yellow."""

    @click.group(cls=LayerGroup)
    def group() -> None:
        pass

    @group.command()
    def command() -> None:
        say("Completed")
        warn("No worker polls this queue.")

    result = CliRunner().invoke(group, ["command"], color=True)
    assert result.exit_code == 0
    assert result.stdout == "Completed\n"
    assert result.stderr == click.style("No worker polls this queue.", fg="yellow") + "\n"


def test_first_problem_reads_pydantic_errors_in_the_layers_words():
    class Settings(BaseModel):
        workers: int

        @field_validator("workers")
        @classmethod
        def _positive(cls, value: int) -> int:
            if value < 1:
                raise ValueError("at least 1 worker")
            return value

    with pytest.raises(ValidationError) as invalid:
        Settings.model_validate({"workers": 0})
    problem = first_problem(invalid.value)
    assert (problem.field, problem.message, problem.kind, problem.given) == (
        "workers",
        "at least 1 worker",
        "value_error",
        0,
    )
