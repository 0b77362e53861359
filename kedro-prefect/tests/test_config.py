"""conf/<env>/prefect.yml: merging across environments, task option precedence, one-line errors."""

from __future__ import annotations

import pytest
from kedro.pipeline import Node

from kedro_prefect.config import ExecutionConfig, PrefectConfigError, load_prefect_config, parse_prefect_config
from kedro_prefect.options import RunOptions


def identity(x):
    return x


def test_base_file_is_valid_and_lists_its_deployments(kedro_project):
    config = load_prefect_config(kedro_project, "base")
    assert [deployment.name for deployment in config.deployments] == ["default", "daily-reports"]
    assert config.deployment("daily-reports").schedule.cron == "0 6 * * *"


def test_env_overrides_one_nested_value_and_keeps_the_rest(kedro_project):
    (kedro_project / "conf" / "staging").mkdir()
    (kedro_project / "conf" / "staging" / "prefect.yml").write_text("execution:\n  task_defaults:\n    retries: 3\n")
    base = load_prefect_config(kedro_project, "base")
    merged = load_prefect_config(kedro_project, "staging")
    assert merged.execution.task_defaults.retries == 3
    assert merged.execution.task_defaults.retry_delay_seconds == base.execution.task_defaults.retry_delay_seconds
    assert merged.execution.max_workers == base.execution.max_workers
    assert merged.deployments == base.deployments


def test_env_deployments_list_replaces_the_base_list_whole(kedro_project):
    # The README: lists such as `deployments` are replaced whole, not merged entry by entry.
    (kedro_project / "conf" / "staging").mkdir()
    (kedro_project / "conf" / "staging" / "prefect.yml").write_text(
        "deployments:\n  - name: staging-only\n    pipeline: __default__\n"
    )
    base = load_prefect_config(kedro_project, "base")
    merged = load_prefect_config(kedro_project, "staging")
    assert len(base.deployments) > 1
    assert [deployment.name for deployment in merged.deployments] == ["staging-only"]


def test_task_options_precedence_defaults_then_tags_then_node():
    execution = parse_prefect_config(
        {
            "execution": {
                "task_defaults": {"retries": 1, "timeout_seconds": 60},
                "tag_overrides": {"a": {"retries": 2}, "b": {"retries": 3, "retry_delay_seconds": 7}},
                "node_overrides": {"special": {"timeout_seconds": 5}},
            }
        }
    ).execution
    plain = Node(identity, "x", "y", name="plain")
    tagged = Node(identity, "x", "y", name="tagged", tags=["b", "a"])
    special = Node(identity, "x", "y", name="special", tags=["a"])
    assert execution.task_options(plain) == {"retries": 1, "timeout_seconds": 60}
    assert execution.task_options(tagged) == {"retries": 3, "retry_delay_seconds": 7, "timeout_seconds": 60}
    assert execution.task_options(special) == {"retries": 2, "timeout_seconds": 5}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"deployments": [{"name": "ok"}, {"name": "bad", "schedule": {"cron": "every day"}}]},
            "deployments[1] ('bad'), field 'schedule'",
        ),
        (
            {"deployments": [{"name": "x", "schedule": {"cron": "0 6 * * *", "interval": 60}}]},
            "exactly one of 'cron' or 'interval'",
        ),
        (
            {"deployments": [{"name": "x", "schedule": {"cron": "0 6 * * *", "timezone": "Mars/Olympus"}}]},
            "deployments[0] ('x'), field 'schedule'",
        ),
        ({"deployments": [{"name": "x", "concurrency_limit": 0}]}, "field 'concurrency_limit'"),
        (
            {"deployments": [{"name": "x", "parameters": {"max_wrokers": 2}}]},
            "unknown parameter 'max_wrokers'; known: pipeline_name, env, tags",
        ),
        ({"deployments": [{"name": "has space"}]}, "deployments[0] ('has space'), field 'name'"),
        ({"deployments": [{"name": "x", "colour": "red"}]}, "field 'colour': Extra inputs are not permitted"),
        ({"deployments": [{"name": "x"}, {"name": "x"}]}, "repeated: ['x']"),
        ({"execution": {"task_defaults": {"retries": -1}}}, "field 'execution.task_defaults.retries'"),
        ({"execution": {"max_workers": "many"}}, "field 'execution.max_workers'"),
        (
            {"execution": {"task_runner": "processes"}},
            "field 'execution.task_runner': Input should be 'threads' or 'dask'",
        ),
        (
            {"execution": {"dask": {"memory_datasets": "copy"}}},
            "field 'execution.dask.memory_datasets': Input should be 'group', 'persist' or 'refuse'",
        ),
        (
            {"deployments": [{"name": "x", "parameters": {"task_runner": "dsk"}}]},
            "parameter 'task_runner': Input should be 'threads' or 'dask' (got 'dsk')",
        ),
        (
            {"deployments": [{"name": "x", "parameters": {"runtime_params": "top_n=5"}}]},
            "parameter 'runtime_params': Input should be a valid dictionary",
        ),
        (
            {"deployments": [{"name": "x", "parameters": {"pipeline_name": "other"}}]},
            "set the pipeline and env with the entry's 'pipeline' and 'env' keys",
        ),
    ],
)
def test_malformed_file_gives_one_line_naming_entry_and_field(raw, expected):
    with pytest.raises(PrefectConfigError) as caught:
        parse_prefect_config(raw)
    assert "\n" not in str(caught.value)
    assert expected in str(caught.value)


def test_unknown_env_is_refused_and_the_known_ones_listed(kedro_project):
    (kedro_project / "conf" / "staging").mkdir()
    with pytest.raises(PrefectConfigError) as caught:
        load_prefect_config(kedro_project, "nope")
    assert str(caught.value) == (
        "Unknown Kedro environment 'nope': there is no folder conf/nope. Known: base, local, staging."
    )


def test_project_without_prefect_yml_gets_one_default_deployment(kedro_project):
    (kedro_project / "conf" / "base" / "prefect.yml").unlink()
    config = load_prefect_config(kedro_project, None)
    assert [(d.name, d.pipeline) for d in config.deployments] == [("default", "__default__")]
    assert config.execution.task_runner == "threads"


def test_grouped_nodes_take_the_most_generous_options():
    from kedro_prefect.execution.runner import merged_options

    assert merged_options([{"retries": 1, "timeout_seconds": 10}]) == {"retries": 1, "timeout_seconds": 10}
    merged = merged_options(
        [{"retries": 1, "retry_delay_seconds": 2, "timeout_seconds": 10}, {"retries": 3, "timeout_seconds": 5}]
    )
    assert merged == {"retries": 3, "retry_delay_seconds": 2, "timeout_seconds": 15}
    assert "timeout_seconds" not in merged_options([{"timeout_seconds": 10}, {}])  # one node has no limit


def load_error(project, text: str) -> str:
    """The one line `load_prefect_config` gives for conf/base/prefect.yml holding `text`."""
    (project / "conf" / "base" / "prefect.yml").write_text(text)
    with pytest.raises(PrefectConfigError) as caught:
        load_prefect_config(project, None)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("prefect.yml (env 'local'): ")
    return message


def test_malformed_yaml_names_the_file_and_says_to_fix_the_yaml(kedro_project):
    message = load_error(kedro_project, "execution:\n  max_workers: 2\n deployments: [\n")
    assert str(kedro_project / "conf" / "base" / "prefect.yml") in message
    assert message.endswith("Fix the YAML there (indentation, a missing ':' or closing bracket).")


def test_a_top_level_list_says_the_file_must_be_a_mapping(kedro_project):
    message = load_error(kedro_project, "- name: default\n- name: daily\n")
    assert message == (
        "prefect.yml (env 'local'): the file holds a list at its top level; "
        "it must be a mapping with 'execution:' and 'deployments:' keys."
    )


def test_an_env_interpolation_names_the_key_and_what_to_write_instead(kedro_project):
    """Kedro resolves ${oc.env:...} only in credentials: the user needs to know why and what else works."""
    message = load_error(kedro_project, "deployments:\n  - name: x\n    description: ${oc.env:SOME_UNSET_VAR}\n")
    assert message == (
        "prefect.yml (env 'local'): deployments[0].description: Unsupported interpolation type oc.env. "
        "Kedro resolves ${oc.env:...} only in credentials files; write the value, or use ${runtime_params:...}."
    )


def test_job_variables_env_that_is_not_a_mapping_shows_the_form_to_use(kedro_project):
    message = load_error(kedro_project, "deployments:\n  - name: x\n    job_variables:\n      env: notadict\n")
    assert message == (
        "prefect.yml (env 'local'): deployments[0] ('x'), field 'job_variables': "
        "'env' must map variable names to values, e.g. env: {MY_VARIABLE: value}, not str"
    )


def test_a_top_level_that_is_not_a_mapping_names_its_type():
    with pytest.raises(PrefectConfigError) as caught:
        parse_prefect_config([{"name": "x"}], source="prefect.yml (env 'local')")  # type: ignore[arg-type]
    assert str(caught.value) == (
        "prefect.yml (env 'local'): the file holds a list at its top level; "
        "it must be a mapping with 'execution:' and 'deployments:' keys."
    )


def test_describe_load_error_passes_on_errors_it_cannot_explain():
    """Anything but a YAML or OmegaConf error is a bug to see whole, not a config mistake."""
    from kedro_prefect.config import describe_load_error

    with pytest.raises(KeyError):
        describe_load_error(KeyError("boom"))


@pytest.mark.parametrize(
    ("execution", "expected"),
    [
        (
            {"node_overrides": {"clean_dta": {"retries": 2}}},
            "prefect.yml: execution.node_overrides: no node is named 'clean_dta'; did you mean 'clean_data'?",
        ),
        (
            {"tag_overrides": {"slwo": {"retries": 2}}},
            "prefect.yml: execution.tag_overrides: no tag is named 'slwo'; did you mean 'slow'?",
        ),
        (
            {"tag_overrides": {"zzz": {"retries": 2}}},
            "prefect.yml: execution.tag_overrides: no tag is named 'zzz'; known tags: gpu, slow",
        ),
    ],
)
def test_override_names_that_match_no_node_or_tag_are_refused_with_a_suggestion(execution, expected):
    from kedro_prefect.config import check_override_names

    config = parse_prefect_config({"execution": execution})
    with pytest.raises(PrefectConfigError) as caught:
        check_override_names(config.execution, {"clean_data", "report"}, {"slow", "gpu"}, "prefect.yml")
    assert str(caught.value) == expected


def test_override_names_of_existing_nodes_and_tags_pass():
    from kedro_prefect.config import check_override_names

    execution = parse_prefect_config(
        {"execution": {"node_overrides": {"report": {"retries": 1}}, "tag_overrides": {"slow": {"retries": 2}}}}
    ).execution
    check_override_names(execution, {"clean_data", "report"}, {"slow"}, "prefect.yml")


def test_run_options_that_are_set_win_over_the_execution_settings_and_the_rest_stay():
    execution = ExecutionConfig.model_validate(
        {"max_workers": 3, "group_by": "namespace", "dask": {"address": "tcp://file:8786", "n_workers": 4}}
    )
    assert execution.for_run(RunOptions()) == execution
    run = execution.for_run(RunOptions(max_workers=7, task_runner="dask", dask_address="tcp://run:8786"))
    assert (run.max_workers, run.group_by, run.task_runner) == (7, "namespace", "dask")
    assert run.dask == execution.dask.model_copy(update={"address": "tcp://run:8786"})
    assert execution.max_workers == 3 and execution.dask.address == "tcp://file:8786"  # the file's own is untouched
