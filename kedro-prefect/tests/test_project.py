"""What the layer reads from pyproject.toml, for template projects and projects made by plain `kedro new`."""

from __future__ import annotations

import pytest

from kedro_prefect.project import ProjectError, current_project, find_project_root, read_project


def test_plain_kedro_project_gets_names_derived_from_its_project_name(kedro_project):
    project = read_project(kedro_project)
    assert (project.package_name, project.flow_name) == ("toy_project", "toy-project")
    assert (project.work_pool, project.work_queue) == ("toy-project-pool", "default")


def test_tool_kedro_prefect_table_sets_flow_pool_and_queue(kedro_project):
    pyproject = kedro_project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + '\n[tool.kedro_prefect]\nflow_name = "My.Repo_2"\nwork_pool = "gpu"\nwork_queue = "nightly"\n'
    )
    project = read_project(kedro_project)
    assert (project.flow_name, project.work_pool, project.work_queue) == ("My.Repo_2", "gpu", "nightly")


def test_project_is_found_from_a_subfolder(kedro_project):
    assert find_project_root(kedro_project / "conf" / "base") == kedro_project
    assert current_project(kedro_project / "conf" / "base").path == kedro_project


def test_outside_a_project_one_line_says_where_to_run(tmp_path):
    with pytest.raises(ProjectError, match="is not inside a Kedro project .* Run this from the project folder"):
        find_project_root(tmp_path)


def test_bad_table_value_is_one_line_naming_the_field(kedro_project):
    pyproject = kedro_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.kedro_prefect]\nwork_pool = "has space"\n')
    with pytest.raises(ProjectError, match=r"\[tool.kedro_prefect\] field 'work_pool': String should match pattern"):
        read_project(kedro_project)
