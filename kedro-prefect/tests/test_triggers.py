"""prefect.yml's ``triggers``: checked as a file, turned into Prefect deployment triggers that the
server's own matching accepts for this project's events only, and the asset events a run emits."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from prefect.client.schemas.objects import FlowRun
from prefect.server.events.schemas.automations import EventTrigger as ServerEventTrigger
from prefect.server.events.schemas.events import RelatedResource, Resource

from kedro_prefect.config import DeploymentConfig, PrefectConfigError, parse_prefect_config
from kedro_prefect.execution.asset_events import DATASET_LABEL, MATERIALIZED, materialization_events
from kedro_prefect.operations.deployment_triggers import COMPLETED, prefect_triggers
from kedro_prefect.operations.follow_on import FollowOn, follow_ons


def config(*deployments: dict) -> list:
    return parse_prefect_config({"deployments": [{"name": "default"}, *deployments]}).deployments


def refusal(*deployments: dict) -> str:
    with pytest.raises(PrefectConfigError) as refused:
        config(*deployments)
    assert "\n" not in str(refused.value)
    return str(refused.value)


def test_a_trigger_is_after_a_deployment_or_on_a_dataset_with_checked_parameters():
    (_, reports) = config(
        {"name": "reports", "triggers": [{"after": "default"}, {"on_dataset": "orders", "parameters": {"tags": ["x"]}}]}
    )
    assert [trigger.describe() for trigger in reports.triggers] == [
        "after default Completes",
        "when a run saves orders",
    ]
    assert "give exactly one of 'after: <deployment>' or 'on_dataset: <catalog dataset>'" in refusal(
        {"name": "reports", "triggers": [{"after": "default", "on_dataset": "orders"}]}
    )
    assert "unknown parameter 'colour'" in refusal(
        {"name": "reports", "triggers": [{"after": "default", "parameters": {"colour": 1}}]}
    )


def test_a_trigger_cannot_unset_what_its_deployment_sets_and_other_nones_are_not_sent():
    message = refusal(
        {
            "name": "reports",
            "parameters": {"tags": ["x"]},
            "triggers": [{"after": "default", "parameters": {"tags": None}}],
        }
    )
    assert message.endswith(
        "trigger after default Completes: 'tags' is null, but the deployment sets it to [\"x\"], which a run "
        "cannot unset; give the value to use instead (for a list, [])."
    )
    (_, reports) = config({"name": "reports", "triggers": [{"after": "default", "parameters": {"max_workers": None}}]})
    (trigger,) = prefect_triggers(reports, "shop")
    assert trigger.parameters is None  # none is the default: nothing to send


def test_after_must_name_a_deployment_of_the_file():
    assert refusal({"name": "reports", "triggers": [{"after": "defualt"}]}).endswith(
        "field 'deployments': deployment 'reports' runs after 'defualt', which prefect.yml does not list; "
        "known: default, reports"
    )


@pytest.mark.parametrize(
    ("deployments", "loop"),
    [
        ([{"name": "a", "triggers": [{"after": "a"}]}], "a -> a"),
        ([{"name": "a", "triggers": [{"after": "b"}]}, {"name": "b", "triggers": [{"after": "a"}]}], "a -> b -> a"),
        (
            [
                {"name": "a", "triggers": [{"after": "default"}, {"after": "c"}]},
                {"name": "b", "triggers": [{"after": "a"}]},
                {"name": "c", "triggers": [{"after": "b"}]},
            ],
            "a -> c -> b -> a",
        ),
    ],
)
def test_after_triggers_that_loop_are_refused(deployments, loop):
    assert f"'after' triggers form a loop ({loop})" in refusal(*deployments)


def test_a_chain_without_a_loop_is_fine():
    config({"name": "a", "triggers": [{"after": "default"}]}, {"name": "b", "triggers": [{"after": "a"}]})


def server_trigger(entry, flow_name: str = "shop") -> ServerEventTrigger:
    """The automation's trigger as the server reads it."""
    (trigger,) = prefect_triggers(entry, flow_name)
    trigger.set_deployment_id("00000000-0000-0000-0000-000000000001")
    return ServerEventTrigger.model_validate(trigger.as_automation().trigger.model_dump(mode="json"))


def related(role: str, name: str) -> RelatedResource:
    return RelatedResource.model_validate(
        {"prefect.resource.id": f"prefect.{role}.{name}", "prefect.resource.role": role, "prefect.resource.name": name}
    )


def test_after_fires_on_a_completed_run_of_that_deployment_of_this_projects_flow_only():
    (_, reports) = config({"name": "reports", "triggers": [{"after": "default"}]})
    trigger = server_trigger(reports)
    assert trigger.expect == {COMPLETED}
    run = Resource.model_validate({"prefect.resource.id": "prefect.flow-run.1"})
    assert trigger.covers_resources(run, [related("deployment", "default"), related("flow", "shop")])
    assert not trigger.covers_resources(run, [related("deployment", "default"), related("flow", "other-shop")])
    assert not trigger.covers_resources(run, [related("deployment", "reports"), related("flow", "shop")])


def test_on_dataset_fires_when_a_run_of_this_project_saves_that_dataset():
    (_, reports) = config({"name": "reports", "triggers": [{"on_dataset": "order_table"}]})
    trigger = server_trigger(reports)
    assert trigger.expect == {MATERIALIZED}
    saved = Resource.model_validate({"prefect.resource.id": "file:///p/data/o.csv", DATASET_LABEL: "order_table"})
    other = Resource.model_validate({"prefect.resource.id": "file:///p/data/c.csv", DATASET_LABEL: "customers"})
    assert trigger.covers_resources(saved, [related("flow", "shop")])
    assert not trigger.covers_resources(other, [related("flow", "shop")])
    assert not trigger.covers_resources(saved, [related("flow", "other-shop")])


def test_each_persisted_output_is_one_materialization_with_its_inputs_as_lineage(tmp_path):
    locations = {"orders": "data/01_raw/orders.csv", "table": "s3://bucket/table.parquet"}
    events = materialization_events(
        [("build", ["orders", "params:n", "cleaned"], ["table", "in_memory"])], locations, tmp_path
    )
    assert events == [
        {
            "event": MATERIALIZED,
            "resource": {
                "prefect.resource.id": "s3://bucket/table.parquet",
                "prefect.resource.name": "table",
                DATASET_LABEL: "table",
            },
            "related": [
                {
                    "prefect.resource.id": (tmp_path / "data/01_raw/orders.csv").resolve().as_uri(),
                    "prefect.resource.role": "asset",
                },
                {"prefect.resource.id": "kedro.node.build", "prefect.resource.role": "asset-materialized-by"},
            ],
        }
    ]
    assert materialization_events([("log", ["orders"], [])], locations, Path("/p")) == []


def automation_of(entry: dict, flow_name: str = "shop") -> tuple[dict, FollowOn]:
    """An entry's trigger as the automation the server keeps (Prefect's own conversion), in JSON."""
    (trigger,) = prefect_triggers(DeploymentConfig.model_validate(entry), flow_name)
    deployment_id = uuid.uuid4()
    trigger.set_deployment_id(deployment_id)
    automation = {**trigger.as_automation().model_dump(mode="json"), "id": str(uuid.uuid4())}
    return automation, FollowOn(uuid.UUID(automation["id"]), deployment_id)


def test_make_run_finds_the_deployments_that_run_after_the_one_it_followed():
    daily, daily_follows = automation_of({"name": "daily", "triggers": [{"after": "default"}]})
    weekly, weekly_follows = automation_of({"name": "weekly", "triggers": [{"after": "daily"}]})
    elsewhere, _ = automation_of({"name": "theirs", "triggers": [{"after": "default"}]}, flow_name="other")
    on_data, _ = automation_of({"name": "relay", "triggers": [{"on_dataset": "order_table"}]})
    paused, _ = automation_of({"name": "paused", "triggers": [{"after": "default"}]})
    # Someone else's automation, on any of several deployments (a list of names): no trouble.
    theirs = {
        **elsewhere,
        "trigger": {
            **elsewhere["trigger"],
            "match_related": {"prefect.resource.role": "deployment", "prefect.resource.name": ["default", "other"]},
        },
    }
    automations = [daily, weekly, elsewhere, on_data, {**paused, "enabled": False}, theirs]
    assert follow_ons(automations, "default", "shop") == [daily_follows]
    assert follow_ons(automations, "daily", "shop") == [weekly_follows]
    assert follow_ons(automations, "weekly", "shop") == []


def test_the_run_an_automation_started_is_told_from_scheduled_and_ui_runs():
    _, follow_on = automation_of({"name": "daily", "triggers": [{"after": "default"}]})

    def run(idempotency_key: str | None, deployment_id: uuid.UUID = follow_on.deployment_id) -> FlowRun:
        return FlowRun(flow_id=uuid.uuid4(), deployment_id=deployment_id, idempotency_key=idempotency_key)

    assert follow_on.started(run(f"automation {follow_on.automation_id}, action 0, invocation {uuid.uuid4()}"))
    assert not follow_on.started(run(f"scheduled {follow_on.deployment_id} 2026-12-08T06:00:00+00:00"))
    assert not follow_on.started(run(None))  # from the UI or the API
    assert not follow_on.started(run(f"automation {uuid.uuid4()}, action 0, invocation {uuid.uuid4()}"))
    assert not follow_on.started(
        run(f"automation {follow_on.automation_id}, action 0, invocation {uuid.uuid4()}", uuid.uuid4())
    )
