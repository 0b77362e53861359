"""Which nodes a run selects: the pipeline by name, then ``kedro run``'s filters, checked up front."""

from __future__ import annotations

from kedro.framework.project import pipelines
from kedro.pipeline import Pipeline

from ..options import InvalidRunOptions, RunOptions


def check_pipeline_name(pipeline_name: str) -> None:
    """Unknown pipelines fail with one line listing the known ones."""
    # Kedro loads only the requested pipelines (as session.run will); all of them are loaded only
    # to list the known names when the requested one does not exist.
    pipelines.set_requested([pipeline_name])
    try:
        found = pipeline_name in pipelines
    except (ImportError, KeyError):  # find_pipelines() has no package of that name
        found = False
    if not found:
        pipelines.set_requested(None)
        known = ", ".join(sorted(pipelines))
        raise InvalidRunOptions(f"Unknown pipeline '{pipeline_name}'. Known pipelines: {known}.")


def selected_pipeline(options: RunOptions) -> Pipeline:
    """The nodes ``session.run`` will run; fails when the filters name unknown nodes or select nothing."""
    check_pipeline_name(options.pipeline_name)
    given = {name: value for name, value in options.filters().items() if value}
    if not given:
        return pipelines[options.pipeline_name]
    kedro_names = {**given}
    if "namespaces" in kedro_names:
        kedro_names["node_namespaces"] = kedro_names.pop("namespaces")
    try:
        return pipelines[options.pipeline_name].filter(**kedro_names)
    except ValueError as error:
        reason = " ".join(str(error).split())
        raise InvalidRunOptions(
            f"The filters {given} select no node of pipeline '{options.pipeline_name}': {reason}"
        ) from None
