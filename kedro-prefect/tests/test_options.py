"""The one list of run options: the flow's signature, prefect.yml, `make run PARAMS=` and the README
all follow `RunOptions`."""

from __future__ import annotations

import inspect

import pytest

from kedro_prefect.errors import KedroPrefectError
from kedro_prefect.execution.flow import kedro_pipeline
from kedro_prefect.operations.trigger import parse_params
from kedro_prefect.options import FILTER_NAMES, InvalidRunOptions, RunOptions


def test_flow_signature_is_the_models_fields_with_their_defaults():
    parameters = inspect.signature(kedro_pipeline.fn).parameters
    assert list(parameters) == list(RunOptions.model_fields)
    for name, field in RunOptions.model_fields.items():
        assert parameters[name].default == field.default, name


def test_prefects_parameter_schema_describes_every_option():
    schema = kedro_pipeline.parameters.model_dump()
    assert list(schema["properties"]) == list(RunOptions.model_fields)
    assert schema["properties"]["max_workers"]["anyOf"][0] == {"exclusiveMinimum": 0, "type": "integer"}
    assert schema["properties"]["task_runner"]["anyOf"][0]["enum"] == ["threads", "dask"]
    # The descriptions the UI shows come from the model too.
    assert schema["properties"]["tags"]["description"] == RunOptions.model_fields["tags"].description


def test_filters_are_options_of_the_model():
    assert set(FILTER_NAMES) <= set(RunOptions.model_fields)
    options = RunOptions.parse({"tags": ["cleaning"], "namespaces": ["reporting"]})
    assert options.filters() == {name: None for name in FILTER_NAMES} | {
        "tags": ["cleaning"],
        "namespaces": ["reporting"],
    }


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"max_wrokers": 2}, "flow parameters: unknown parameter 'max_wrokers'; known: pipeline_name, env,"),
        ({"max_workers": "many"}, "flow parameters: parameter 'max_workers': Input should be a valid integer"),
        ({"max_workers": 0}, "flow parameters: parameter 'max_workers': Input should be greater than 0 (got 0)"),
        ({"tags": "cleaning"}, "flow parameters: parameter 'tags': Input should be a valid list (got 'cleaning')"),
        ({"task_runner": "processes"}, "flow parameters: parameter 'task_runner': Input should be 'threads' or 'dask'"),
        (
            {"group_by": "tag"},
            "flow parameters: parameter 'group_by': Input should be 'none' or 'namespace' (got 'tag')",
        ),
        ({"load_versions": ["cars"]}, "flow parameters: parameter 'load_versions': Input should be a valid dictionary"),
        (
            {"load_versions": {"cars": 3}},
            "flow parameters: parameter 'load_versions.cars': Input should be a valid string",
        ),
        (
            {"only_missing_outputs": "maybe"},
            "flow parameters: parameter 'only_missing_outputs': Input should be a valid",
        ),
    ],
)
def test_bad_options_give_one_line_naming_the_parameter(parameters, message):
    with pytest.raises(InvalidRunOptions) as refused:
        RunOptions.parse(parameters)
    assert "\n" not in str(refused.value)
    assert str(refused.value).startswith(message), str(refused.value)


def test_make_run_params_are_checked_against_the_same_model():
    assert parse_params('{"tags": ["cleaning"], "max_workers": 2}') == {"tags": ["cleaning"], "max_workers": 2}
    with pytest.raises(KedroPrefectError, match="--params: unknown parameter 'colour'"):
        parse_params('{"colour": "red"}')
    with pytest.raises(KedroPrefectError, match="--params is not valid JSON"):
        parse_params("{not json")
