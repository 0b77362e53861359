"""Which nodes a run selects: the pipeline by name, then ``kedro run``'s filters, checked up front."""

from __future__ import annotations

import re
import traceback
import warnings
from pathlib import Path

from kedro.framework.project import pipelines
from kedro.pipeline import Pipeline

from ..options import InvalidRunOptions, RunOptions

_IMPORT_FAILED = re.compile(r"An error occurred while importing the '(?P<module>[\w.]+)' module")
_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


class PipelineImportError(InvalidRunOptions):
    """A pipeline module of the project raised when imported: no run can select its nodes.

    Kedro's ``find_pipelines`` turns that into a warning naming only the module and leaves its
    pipeline out (``__default__`` then silently lacks its nodes); this names the file, the line
    and the cause, and stops the deploy or run."""


def describe_import_failure(module: str, traceback_text: str) -> str:
    """One line: the module, the exception, and the deepest frame in the project's own files."""
    lines = [line.strip() for line in traceback_text.strip().splitlines() if line.strip()]
    cause = lines[-1] if lines else "unknown error"
    own = [m for m in _FRAME.finditer(traceback_text) if "site-packages" not in m["file"] and "<" not in m["file"]]
    where = ""
    if own:
        path = Path(own[-1]["file"])
        try:
            path = path.resolve().relative_to(Path.cwd())
        except ValueError:
            pass
        where = f" ({path}, line {own[-1]['line']})"
    return f"Pipeline module '{module}' failed to import: {cause}{where}. Fix it, then try again."


def _load_pipelines(names: list[str] | None) -> dict[str, Pipeline]:
    """The registry's pipelines (only ``names`` when given), failing on a module that did not import."""
    pipelines.set_requested(names)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            loaded = dict(pipelines.items())
        except ImportError as error:  # find_pipelines(raise_errors=True) in the registry
            found = _IMPORT_FAILED.search(str(error))
            if found is None or error.__cause__ is None:
                raise
            text = "".join(traceback.format_exception(error.__cause__))
            raise PipelineImportError(describe_import_failure(found["module"], text)) from None
    for warning in caught:
        found = _IMPORT_FAILED.search(str(warning.message))
        if found and "Traceback" in str(warning.message):  # without one: a requested name has no folder
            raise PipelineImportError(describe_import_failure(found["module"], str(warning.message)))
        warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    return loaded


def check_pipeline_name(pipeline_name: str) -> None:
    """Unknown pipelines fail with one line listing the known ones."""
    # Kedro loads only the requested pipelines (as session.run will); all of them are loaded only
    # to list the known names when the requested one does not exist.
    try:
        found = pipeline_name in _load_pipelines([pipeline_name])
    except (ImportError, KeyError):  # find_pipelines() has no package of that name
        found = False
    if not found:
        known = ", ".join(sorted(_load_pipelines(None)))
        raise InvalidRunOptions(f"Unknown pipeline '{pipeline_name}'. Known pipelines: {known}.")


def registered_pipelines() -> dict[str, Pipeline]:
    """Every pipeline of the project's registry, failing in one line on a module that did not import."""
    return _load_pipelines(None)


def all_nodes_and_tags() -> tuple[set[str], set[str]]:
    """Every node name and tag of every registered pipeline (what prefect.yml's overrides may name)."""
    nodes = {node for pipeline in registered_pipelines().values() for node in pipeline.nodes}
    return {node.name for node in nodes}, {tag for node in nodes for tag in node.tags}


def selected_pipeline(options: RunOptions) -> Pipeline:
    """The nodes ``session.run`` will run; fails when the filters name unknown nodes or select nothing."""
    check_pipeline_name(options.pipeline_name)
    pipeline = pipelines[options.pipeline_name]
    if not pipeline.nodes:
        raise InvalidRunOptions(
            f"Pipeline '{options.pipeline_name}' has no nodes. Add nodes to it (kedro pipeline create <name> "
            "makes a pipeline package that find_pipelines() registers), or run another pipeline."
        )
    given = {name: value for name, value in options.filters().items() if value}
    if not given:
        return pipeline
    kedro_names = {**given}
    if "namespaces" in kedro_names:
        kedro_names["node_namespaces"] = kedro_names.pop("namespaces")
    try:
        return pipeline.filter(**kedro_names)
    except ValueError as error:
        reason = " ".join(str(error).split())
        raise InvalidRunOptions(
            f"The filters {given} select no node of pipeline '{options.pipeline_name}': {reason}"
        ) from None
