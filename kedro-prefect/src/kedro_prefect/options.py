"""The flow's parameters: one typed model, from which everything else is derived.

``RunOptions`` is the only list of what a run accepts. The flow's signature (and so the form in
Prefect's UI and the deployment's parameter schema), the validation of ``parameters:`` in
``prefect.yml``, the check of ``make run PARAMS=...`` and the README's table all come from it.
"""

from __future__ import annotations

import inspect
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

from .errors import KedroPrefectError, first_problem

TaskRunnerName = Literal["threads", "dask"]
GroupBy = Literal["none", "namespace"]

# What `kedro run` calls each option, for the README table and the docstring the UI shows.
_KEDRO_RUN = "kedro_run"


def _option(default: Any, description: str, kedro_run: str) -> Any:
    return Field(default=default, description=description, json_schema_extra={_KEDRO_RUN: kedro_run})


def without_unset(parameters: dict[str, Any]) -> dict[str, Any]:
    """Flow parameters without those set to none: none is each option's default, and the run form
    has no none to send (the deployment's schema offers each option as its own type only)."""
    return {name: value for name, value in parameters.items() if value is not None}


class InvalidRunOptions(KedroPrefectError):
    """Run options that cannot run: unknown, of the wrong type, or selecting nothing; one line."""


def given_over(deployment_parameters: dict[str, Any], given: dict[str, Any], source: str) -> dict[str, Any]:
    """A run's parameters as sent over its deployment's (the server merges them key by key), nones
    dropped. A none for an option the deployment sets would not unset it there, so it is refused."""
    for name, value in given.items():
        if value is None and deployment_parameters.get(name) is not None:
            raise InvalidRunOptions(
                f"{source}: '{name}' is null, but the deployment sets it to "
                f"{json.dumps(deployment_parameters[name])}, which a run cannot unset; give the value to use "
                "instead (for a list, [])."
            )
    return without_unset(given)


class RunOptions(BaseModel):
    """How one run of the flow runs the Kedro pipeline: the options of ``kedro run``, and where nodes run."""

    model_config = ConfigDict(extra="forbid")

    pipeline_name: str = _option("__default__", "A pipeline registered in pipeline_registry.py.", "--pipelines")
    env: str | None = _option(None, "Kedro configuration environment; none: Kedro's default (local).", "--env")
    tags: list[str] | None = _option(None, "Run only nodes with any of these tags.", "--tags")
    node_names: list[str] | None = _option(None, "Run only these nodes.", "--nodes")
    from_nodes: list[str] | None = _option(None, "Run from these nodes downstream.", "--from-nodes")
    to_nodes: list[str] | None = _option(None, "Run up to these nodes.", "--to-nodes")
    from_inputs: list[str] | None = _option(None, "Run from the nodes that load these datasets.", "--from-inputs")
    to_outputs: list[str] | None = _option(None, "Run up to the nodes that save these datasets.", "--to-outputs")
    namespaces: list[str] | None = _option(None, "Run only nodes in these namespaces.", "--namespaces")
    parameters: dict[str, Any] | None = _option(
        None,
        "Kedro parameters for this run over parameters.yml (the run form lists the project's, typed), e.g. {top_n: 5}.",
        "--params",
    )
    runtime_params: dict[str, Any] | None = _option(
        None, "Values for ${runtime_params:...} in the configuration, e.g. {top_n: 5}.", "--params"
    )
    load_versions: dict[str, str] | None = _option(
        None, "Versions of versioned datasets to load, e.g. {cars: 2024-01-01T00.00.00.000Z}.", "--load-versions"
    )
    only_missing_outputs: bool = _option(
        False, "Run only the nodes whose persisted outputs are missing, and what they need.", "--only-missing-outputs"
    )
    group_by: GroupBy | None = _option(
        None,
        "'namespace': one task per top-level namespace, 'none': one per node; unset: execution.group_by.",
        "(none)",
    )
    resume: bool = _option(
        True, "When the run is retried, skip the nodes that completed in an earlier attempt.", "(none)"
    )
    max_workers: PositiveInt | None = _option(
        None, "Nodes running at once, on every task runner; none: execution.max_workers.", "--runner ThreadRunner"
    )
    task_runner: TaskRunnerName | None = _option(
        None, "threads (in the flow's process) or dask; none: execution.task_runner.", "--runner"
    )
    dask_address: str | None = _option(None, "Dask scheduler, tcp://HOST:PORT; none: execution.dask.address.", "(none)")

    def kedro_runtime_params(self) -> dict[str, Any] | None:
        """``KedroSession``'s runtime params, as ``kedro run --params`` gives them: the run's Kedro
        ``parameters``, with ``runtime_params`` over them (nested keys merged)."""
        if self.parameters is None or self.runtime_params is None:
            return self.runtime_params if self.parameters is None else self.parameters
        return merged(self.parameters, self.runtime_params)

    def filters(self) -> dict[str, list[str] | None]:
        """The node filters, as ``KedroSession.run`` takes them."""
        return {name: getattr(self, name) for name in FILTER_NAMES}

    def session_run_arguments(self) -> dict[str, Any]:
        """Everything ``KedroSession.run`` takes from a run's options besides the pipeline and runner."""
        return {
            **self.filters(),
            "load_versions": self.load_versions,
            "only_missing_outputs": self.only_missing_outputs,
        }

    @classmethod
    def parse(cls, parameters: dict[str, Any], source: str = "flow parameters") -> RunOptions:
        """Validate, turning the first problem into one line that names the parameter.

        Strictly, as the deployment's JSON schema does on the server: ``"2"`` is not an integer and
        ``"yes"`` not a boolean, so what passes here is never refused there.
        """
        try:
            return cls.model_validate(parameters, strict=True)
        except ValidationError as error:
            raise InvalidRunOptions(f"{source}: {describe_error(error)}") from None

    @classmethod
    def signature(cls) -> inspect.Signature:
        """The flow function's signature: one keyword parameter per option, typed and defaulted."""
        return inspect.Signature(
            [
                inspect.Parameter(
                    name,
                    inspect.Parameter.POSITIONAL_OR_KEYWORD,
                    default=field.default,
                    annotation=Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation,
                )
                for name, field in cls.model_fields.items()
            ]
        )

    @classmethod
    def docstring(cls) -> str:
        """Google-style ``Args:``, which Prefect shows beside each parameter in the UI."""
        lines = [f"    {name}: {field.description}" for name, field in cls.model_fields.items()]
        return (
            "Run a Kedro pipeline like ``kedro run``, one Prefect task per node or namespace.\n\nArgs:\n"
            + "\n".join(lines)
        )

    @classmethod
    def reference_table(cls) -> str:
        """The README's table of flow parameters, in Markdown."""
        rows = ["| parameter | `kedro run` | default | meaning |", "|---|---|---|---|"]
        for name, field in cls.model_fields.items():
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            kedro_run = extra.get(_KEDRO_RUN, "")
            shown = "—" if kedro_run == "(none)" else f"`{kedro_run}`"
            shown_default = json.dumps(field.default) if isinstance(field.default, bool) else field.default
            default = "none" if field.default is None else f"`{shown_default}`"
            rows.append(f"| `{name}` | {shown} | {default} | {field.description} |")
        return "\n".join(rows)


def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on ``base``, mappings merged key by key (as Kedro merges runtime params)."""
    result = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


FILTER_NAMES = ("tags", "node_names", "from_nodes", "to_nodes", "from_inputs", "to_outputs", "namespaces")
"""The options that select nodes, as ``kedro run``'s filters do."""


def describe_error(error: ValidationError) -> str:
    """A pydantic error as one line: which parameter, and what is wrong with it."""
    problem = first_problem(error)
    name = problem.field or "parameters"
    if problem.kind == "extra_forbidden":
        return f"unknown parameter '{name}'; known: {', '.join(RunOptions.model_fields)}"
    return f"parameter '{name}': {problem.message} (got {problem.given!r})"
