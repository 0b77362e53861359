"""What a person sees in Prefect's UI (the default, newer one), in headless Chromium against a real
server and worker: the Custom run form drawn from the project's own parameters, a value changed
there reaching the node, and the lineage picture every run publishes, rendered.

The project gets a pipeline of its own (`sampler`, with nested parameters), which no other test
runs. The screenshots the README shows are the ones these tests take (docs/images/).
"""

from __future__ import annotations

import csv
import time

import pytest
from selenium.webdriver.common.by import By

from tests.browser import chromium, wait_for_text
from tests.helpers import TEMPLATE, Project, add_pipeline, bake, flow_run_id

SCREENSHOTS = TEMPLATE / "docs" / "images"

SAMPLER_PIPELINE = '''"""The first orders of the order list, as many as the run's parameters say."""

import pandas as pd
from kedro.pipeline import Node, Pipeline


def sample_orders(orders: pd.DataFrame, size: int) -> pd.DataFrame:
    return orders.head(size)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([Node(sample_orders, ["orders", "params:sample.size"], "sampled_orders", name="sample_orders")])
'''

CATALOG = """\
sampled_orders:
  type: pandas.CSVDataset
  filepath: data/08_reporting/sampled_orders.csv
"""

PARAMETERS = "sample:\n  size: 25\n  note: first orders\n"

PREFECT_YML = "deployments:\n  - name: sampling\n    pipeline: sampler\n"

# The newest flow run of a deployment, followed to a final state (bounded): its state and parameters.
NEWEST_RUN = """
import time
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.sorting import FlowRunSort
deployment_id, limit = sys.argv[1], float(sys.argv[2])
started = time.monotonic()
with get_client(sync_client=True) as client:
    while True:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=1,
        )
        final = bool(runs) and runs[0].state is not None and runs[0].state.is_final()
        if final or time.monotonic() - started > limit:
            break
        time.sleep(2)
print(json.dumps(runs and {"state": runs[0].state.name if runs[0].state else None, "parameters": runs[0].parameters}))
"""

# The markdown artifact (the lineage picture) a flow run published: its id.
LINEAGE_ARTIFACT = """
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterType
with get_client(sync_client=True) as client:
    found = client.read_artifacts(artifact_filter=ArtifactFilter(
        flow_run_id=ArtifactFilterFlowRunId(any_=[sys.argv[1]]), type=ArtifactFilterType(any_=["markdown"])))
    print(json.dumps([str(artifact.id) for artifact in found]))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    path = bake(root, project_name="Lantern Quay")
    add_pipeline(path, "lantern_quay", "sampler", SAMPLER_PIPELINE)
    (path / "conf" / "base" / "catalog_sampler.yml").write_text(CATALOG)
    (path / "conf" / "base" / "parameters_sampler.yml").write_text(PARAMETERS)
    (path / "conf" / "base" / "prefect.yml").write_text(PREFECT_YML)
    with Project.installed(path, root / "venv").up() as baked:
        baked.make("deploy")
        yield baked


def sampled_rows(project: Project) -> int:
    with (project.path / "data" / "08_reporting" / "sampled_orders.csv").open() as file:
        return sum(1 for _ in csv.DictReader(file))


def test_the_custom_run_form_shows_the_projects_parameters_and_a_changed_value_reaches_the_node(project):
    deployment_id = project.deployment_id("lantern-quay/sampling")
    with chromium() as browser:
        browser.get(f"http://127.0.0.1:{project.port}/v2/deployments/deployment/{deployment_id}/run")
        wait_for_text(browser, "size (Optional)")
        page = browser.find_element(By.TAG_NAME, "body").text
        assert 'Property is type "None"' not in page  # each option is offered as its own type

        def label(name: str):
            return browser.find_element(By.XPATH, f"//label[normalize-space(.)='{name} (Optional)']")

        def field(name: str):
            return browser.find_element(By.ID, label(name).get_attribute("for"))

        size = field("size")
        assert (size.get_attribute("type"), size.get_attribute("value")) == ("number", "25")
        assert field("note").get_attribute("value") == "first orders"
        browser.execute_script("arguments[0].scrollIntoView()", label("namespaces"))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOTS / "run-form.png"))

        size.clear()
        size.send_keys("6")
        (submit,) = [button for button in browser.find_elements(By.TAG_NAME, "button") if button.text == "Submit"]
        browser.execute_script("arguments[0].scrollIntoView()", submit)
        form = browser.current_url
        submit.click()
        deadline = time.monotonic() + 60
        while browser.current_url == form and time.monotonic() < deadline:  # it moves to the run it created
            time.sleep(1)
        assert browser.current_url != form, browser.find_element(By.TAG_NAME, "body").text

    run = project.api(NEWEST_RUN, deployment_id, "300", timeout=400)
    assert run["parameters"]["parameters"]["sample"] == {"size": 6, "note": "first orders"}, run
    assert run["state"] == "Completed", run
    assert sampled_rows(project) == 6


def test_every_run_publishes_a_lineage_picture_the_ui_renders(project):
    result = project.make("run", "DEPLOYMENT=sampling", timeout=600)
    assert result.stdout.splitlines()[-1].strip() == "Completed"
    (artifact_id,) = project.api(LINEAGE_ARTIFACT, flow_run_id(result.stdout))
    with chromium(height=1000) as browser:
        browser.get(f"http://127.0.0.1:{project.port}/v2/artifacts/artifact/{artifact_id}")
        wait_for_text(browser, "Saved by this run")
        wait_for_text(browser, "sampled_orders")
        (picture,) = browser.find_elements(By.CSS_SELECTOR, "svg[aria-roledescription^=flowchart]")
        drawn = picture.text
        for name in ("sample_orders", "orders", "sampled_orders", "data/08_reporting/sampled_orders.csv"):
            assert name in drawn, drawn
        page = browser.find_element(By.TAG_NAME, "body").text
        assert "```mermaid" not in page  # drawn, not shown as code
        assert "sample_orders data/08_reporting/sampled_orders.csv" in page.replace("\n", " ")
        assert "25 × 7" in page  # rows × columns of what the node saved
        browser.save_screenshot(str(SCREENSHOTS / "lineage.png"))
    assert sampled_rows(project) == 25
