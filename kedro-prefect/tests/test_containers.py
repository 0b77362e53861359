"""Job variables a deployment gets on each kind of pool, and image names that would break a docker
pool: pure functions, no engine, no server."""

from __future__ import annotations

import os
import subprocess

import pytest
from prefect.client.schemas.objects import WorkPool

from kedro_prefect.errors import KedroPrefectError
from kedro_prefect.operations.containers import IMAGE_PROJECT, PROCESS_RUN_COMMAND, job_variables
from kedro_prefect.operations.image import check_image_name, default_tag, lock_dependencies
from kedro_prefect.operations.pools import check_job_variables
from kedro_prefect.project import KedroProject

TELEMETRY_OFF = {"KEDRO_DISABLE_TELEMETRY": "true"}


@pytest.fixture
def project(tmp_path) -> KedroProject:
    (tmp_path / "data").mkdir()
    return KedroProject(
        path=tmp_path,
        package_name="ledger",
        project_name="Ledger",
        flow_name="ledger",
        work_pool="ledger-pool",
        work_queue="default",
    )


def test_a_process_pool_gets_the_environment_and_starts_the_engine_itself(project):
    assert job_variables(project, "process", TELEMETRY_OFF, {}) == {
        "env": TELEMETRY_OFF,
        "command": PROCESS_RUN_COMMAND,
    }


def test_a_null_command_in_prefect_yml_brings_back_prefects_own_launcher(project):
    assert job_variables(project, "process", {}, {"command": None})["command"] is None


def test_container_pools_keep_their_images_command(project):
    assert "command" not in job_variables(project, "docker", {}, {}, image="ledger:1.0")


def test_a_docker_pool_gets_the_image_a_local_pull_policy_and_the_data_folder_mounted(project):
    variables = job_variables(project, "docker", TELEMETRY_OFF, {}, image="ledger:1.0")
    data = project.path / "data"
    assert variables["image"] == "ledger:1.0"
    assert variables["image_pull_policy"] == "IfNotPresent"
    assert variables["volumes"] == [f"{data}:{IMAGE_PROJECT}/data"]
    assert variables["container_create_kwargs"] == {"user": f"{data.stat().st_uid}:{data.stat().st_gid}"}
    assert variables["env"] == TELEMETRY_OFF | {"KEDRO_PROJECT_PATH": IMAGE_PROJECT, "PREFECT_HOME": "/tmp/.prefect"}


def test_prefect_yml_job_variables_replace_defaults_and_add_to_the_environment(project):
    configured = {"volumes": ["/srv/ledger-data:/home/kedro/project/data"], "networks": ["etl"], "env": {"A": "1"}}
    variables = job_variables(project, "docker", TELEMETRY_OFF, configured | {"image": "ledger:2.0"})
    assert variables["volumes"] == configured["volumes"]
    assert variables["networks"] == ["etl"]
    assert variables["env"]["A"] == "1" and variables["env"]["KEDRO_DISABLE_TELEMETRY"] == "true"
    assert variables["image"] == "ledger:2.0"
    assert job_variables(project, "docker", {}, {"image": "ledger:2.0"}, image="ledger:3.0")["image"] == "ledger:3.0"


def test_a_kubernetes_pool_mounts_nothing(project):
    variables = job_variables(project, "kubernetes", {}, {}, image="registry.example.com/ledger:1.0")
    assert "volumes" not in variables and "container_create_kwargs" not in variables
    assert variables["image"] == "registry.example.com/ledger:1.0"


@pytest.mark.parametrize("image", ["ledger", "ledger:latest", "registry.example.com:5000/ledger"])
def test_an_image_without_a_version_is_refused_with_the_fix(image):
    with pytest.raises(KedroPrefectError, match="Give it a version: IMAGE="):
        check_image_name(image)


@pytest.mark.parametrize("image", ["ledger:1.0", "registry.example.com:5000/team/ledger:ab12cd3"])
def test_a_versioned_image_passes(image):
    check_image_name(image)


def test_the_default_image_is_named_after_the_flow(project):
    name = job_variables(project, "docker", {}, {})["image"]
    assert name.startswith("ledger:") and not name.endswith(":latest")


@pytest.fixture
def process_pool() -> WorkPool:
    from prefect.workers.process import ProcessWorker

    return WorkPool(name="ledger-pool", type="process", base_job_template=ProcessWorker.get_default_base_job_template())


def test_job_variables_the_pool_knows_pass(process_pool):
    check_job_variables(process_pool, {"env": {"A": "1"}, "working_dir": "/srv"})
    check_job_variables(process_pool, {"command": PROCESS_RUN_COMMAND})
    check_job_variables(process_pool, {"command": None})


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"imagee": "ledger:1"},
            r"\['imagee'\] not among the job variables of process pool 'ledger-pool' \(command, env",
        ),
        ({"env": 3}, r"'env': 3 is not valid"),
    ],
)
def test_job_variables_the_pool_does_not_know_or_of_the_wrong_type_are_one_line(process_pool, variables, message):
    with pytest.raises(ValueError, match=message):
        check_job_variables(process_pool, variables)


def test_the_default_image_tag_is_the_git_commit_else_the_version(project):
    assert default_tag(project) == "0.1"  # no git repository, and the package is not installed
    git = ["git", "-c", "user.name=Tests", "-c", "user.email=tests@example.invalid"]
    subprocess.run([*git, "init", "--quiet"], cwd=project.path, check=True)
    subprocess.run([*git, "commit", "--quiet", "--allow-empty", "-m", "first"], cwd=project.path, check=True)
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], cwd=project.path, capture_output=True, text=True)
    assert default_tag(project) == commit.stdout.strip()


def test_the_lock_is_compiled_when_missing_or_older_than_pyproject_and_kept_otherwise(project):
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "ledger"\nversion = "0.1"\ndependencies = []\n')
    lock = lock_dependencies(project)  # missing: compiled (real uv; no dependency, so no index needed)
    assert lock.name == "requirements.lock" and "uv pip compile" in lock.read_text()
    lock.write_text("# kept\n")
    os.utime(pyproject, (lock.stat().st_mtime - 10,) * 2)
    assert lock_dependencies(project).read_text() == "# kept\n"  # newer than pyproject.toml: untouched
    os.utime(pyproject, (lock.stat().st_mtime + 10,) * 2)
    assert "uv pip compile" in lock_dependencies(project).read_text()  # older: compiled again


def test_a_newer_wheel_in_vendor_compiles_the_lock_again(project):
    """`make update-layer` installs a newer kedro-prefect from vendor/: the image must get it too."""
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "ledger"\nversion = "0.1"\ndependencies = []\n')
    lock = lock_dependencies(project)
    lock.write_text("# kept\n")
    os.utime(pyproject, (lock.stat().st_mtime - 10,) * 2)
    (project.path / "vendor").mkdir()
    wheel = project.path / "vendor" / "kedro_prefect-0.3.1-py3-none-any.whl"
    wheel.write_bytes(b"")
    os.utime(wheel, (lock.stat().st_mtime - 5,) * 2)
    assert lock_dependencies(project).read_text() == "# kept\n"  # the wheel is older than the lock
    os.utime(wheel, (lock.stat().st_mtime + 10,) * 2)
    assert "uv pip compile" in lock_dependencies(project).read_text()  # newer: compiled again
