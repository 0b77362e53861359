"""The run form: the project's Kedro parameters as typed fields of the flow's ``parameters`` option,
checked by Prefect's own schema validation as the server checks a new run."""

from __future__ import annotations

import datetime

import pytest
from prefect.deployments.runner import RunnerDeployment
from prefect.utilities.schema_tools import validate

from kedro_prefect.execution.flow import kedro_pipeline
from kedro_prefect.operations.run_form import FORM_FIELD, closed_schema, form_refusal, parameters_field
from kedro_prefect.options import InvalidRunOptions, RunOptions, given_over, without_unset

EXAMPLE = {"valid_statuses": ["completed"], "top_n": 10}


def flow_schema(kedro_parameters):
    return closed_schema(kedro_pipeline.parameters.model_dump(exclude_unset=True), kedro_parameters)


def refusal(parameters, kedro_parameters=EXAMPLE) -> str | None:
    """Prefect's schema validation of a new run's parameters: None when accepted, else its message."""
    try:
        validate(parameters, flow_schema(kedro_parameters), raise_on_error=True)
    except Exception as error:  # noqa: BLE001 - Prefect's ValidationError carries the message
        return str(error)
    return None


def test_each_parameter_is_a_typed_field_filled_in_with_its_value():
    field = flow_schema(EXAMPLE)["properties"][FORM_FIELD]
    assert field["properties"] == {
        "valid_statuses": {
            "title": "valid_statuses",
            "type": "array",
            "items": {"type": "string"},
            "default": ["completed"],
            "position": 0,
        },
        "top_n": {"title": "top_n", "type": "integer", "default": 10, "position": 1},
    }
    assert field["default"] == EXAMPLE
    assert field["description"] == RunOptions.model_fields[FORM_FIELD].description
    assert field["position"] == list(RunOptions.model_fields).index(FORM_FIELD)


def test_nested_parameters_are_nested_fields_and_booleans_are_not_integers():
    field = parameters_field({"model": {"alpha": 0.5, "fit_intercept": True, "features": ["a", 1]}}, "")
    model = field["properties"]["model"]
    assert model["type"] == "object" and model["additionalProperties"] is False
    assert model["properties"]["alpha"]["type"] == "number"
    assert model["properties"]["fit_intercept"]["type"] == "boolean"
    assert model["properties"]["features"]["items"] == {}  # mixed: any item


def test_options_unset_by_default_are_offered_as_their_own_type_left_empty():
    """Prefect's form draws ``X or null`` as a switch reading 'Property is type "None"'; alone, an
    enumeration is a choice and a list a list."""
    properties = flow_schema(EXAMPLE)["properties"]
    for name, field in RunOptions.model_fields.items():
        assert "anyOf" not in properties[name], name
        if name == FORM_FIELD:  # filled in with the project's parameters
            assert properties[name]["default"] == EXAMPLE
        elif field.default is None:
            assert "default" not in properties[name], name
        else:
            assert properties[name]["default"] == field.default, name
    assert properties["task_runner"]["enum"] == ["threads", "dask"]
    assert properties["group_by"]["enum"] == ["none", "namespace"]
    assert properties["tags"] == {
        "type": "array",
        "items": {"type": "string"},
        "title": "tags",
        "description": RunOptions.model_fields["tags"].description,
        "position": list(RunOptions.model_fields).index("tags"),
    }
    assert refusal({"task_runner": "processes"}) is not None
    assert refusal({}) is None


def test_a_none_given_for_an_option_is_dropped_before_the_server_sees_it():
    given = {"pipeline_name": "reporting", "env": None, "max_workers": None, "resume": False}
    assert without_unset(given) == {"pipeline_name": "reporting", "resume": False}
    assert refusal(without_unset(given)) is None

    # Over a deployment that sets it, a none would not unset it (the server merges key by key).
    assert given_over({"max_workers": 2}, {"tags": None, "resume": False}, "--params") == {"resume": False}
    with pytest.raises(InvalidRunOptions, match="--params: 'max_workers' is null, but the deployment sets it to 2"):
        given_over({"max_workers": 2}, {"max_workers": None}, "--params")


def test_a_value_json_cannot_carry_is_left_out_of_the_form():
    field = parameters_field({"start": datetime.date(2026, 1, 1), "rows": [{"a": 1}], "n": None}, "")
    assert set(field["properties"]) == {"rows", "n"}
    assert field["default"] == {"rows": [{"a": 1}], "n": None}
    thresholds = parameters_field({"thresholds": {1: 0.5, "b": 2}}, "")["properties"]["thresholds"]
    assert set(thresholds["properties"]) == {"b"} and thresholds["default"] == {"b": 2}  # JSON keys are strings


@pytest.mark.parametrize(
    ("parameters", "refused_with"),
    [
        ({"parameters": {"top_n": 3}}, None),
        ({"parameters": {"top_n": 3}, "runtime_params": {"anything": 1}}, None),
        ({"parameters": {"top_n": "five"}}, "'five' is not of type 'integer'"),
        ({"parameters": {"top_m": 3}}, "'top_m' was unexpected"),
        ({"parameters": {"valid_statuses": "completed"}}, "is not of type 'array'"),
        ({"max_wrokers": 2}, "'max_wrokers' was unexpected"),
    ],
)
def test_the_server_side_check_refuses_wrong_types_and_unknown_keys(parameters, refused_with):
    message = refusal(parameters)
    if refused_with is None:
        assert message is None
    else:
        assert message is not None and refused_with in message


def test_parameters_that_could_not_be_read_leave_one_free_form_field():
    field = flow_schema(None)["properties"][FORM_FIELD]
    assert "properties" not in field
    assert refusal({"parameters": {"anything": [1]}}, None) is None


def test_form_parameters_then_runtime_params_reach_kedro_merged_key_by_key():
    options = RunOptions.parse(
        {"parameters": {"top_n": 3, "model": {"a": 1, "b": 2}}, "runtime_params": {"model": {"b": 5}}}
    )
    assert options.kedro_runtime_params() == {"top_n": 3, "model": {"a": 1, "b": 5}}
    assert RunOptions.parse({"runtime_params": {"x": 1}}).kedro_runtime_params() == {"x": 1}
    assert RunOptions.parse({}).kedro_runtime_params() is None


def test_prefect_still_keeps_the_schema_where_deploy_edits_it():
    """``deploy.run_form`` replaces this private attribute, as Prefect's own frozen parameters do."""
    assert "_parameter_openapi_schema" in RunnerDeployment.__private_attributes__


def test_values_prefect_yml_gives_are_checked_as_the_server_would():
    assert form_refusal({"top_n": 5}, EXAMPLE) is None
    refusal = form_refusal({"top_n": "5"}, EXAMPLE)
    assert refusal == "Validation failed for field 'parameters.top_n'. Failure reason: '5' is not of type 'integer'"
