"""conf/<env>/prefect.yml: merging across environments, task option precedence, one-line errors."""

from __future__ import annotations

import pytest
from kedro.pipeline import Node
from kedro_prefect.config import PrefectConfigError, load_prefect_config, parse_prefect_config


def identity(x):
    return x


def test_base_file_is_valid_and_lists_the_example_deployments(kedro_project):
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


def test_unknown_env_is_refused(kedro_project):
    with pytest.raises(PrefectConfigError, match="Unknown Kedro environment 'nope': there is no folder conf/nope"):
        load_prefect_config(kedro_project, "nope")


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
