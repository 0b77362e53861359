"""The kedro-prefect wheel the template ships in vendor/ is what kedro-prefect/ builds today, passes
twine's checks, and is the release the generated project's pyproject.toml asks for; the template's
own files that describe the layer (the example prefect.yml, the flow parameter table) agree with it."""

from __future__ import annotations

import re
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from kedro_prefect.config import load_prefect_config, parse_prefect_config
from kedro_prefect.operations.scaffold import DEV_REQUIREMENTS, layer_requirement, prefect_yml, project_file
from kedro_prefect.options import RunOptions
from packaging.requirements import Requirement

from tests.helpers import DEV_BIN, LAYER_VERSION, LAYER_WHEEL, TEMPLATE

PROJECT_TREE = TEMPLATE / "{{cookiecutter.repo_name}}"


def _contents(wheel: Path) -> dict[str, bytes]:
    """Every file of the wheel but the two that name the build tool's version (WHEEL) or hash them (RECORD)."""
    with zipfile.ZipFile(wheel) as archive:
        return {
            name: archive.read(name)
            for name in archive.namelist()
            if not name.endswith((".dist-info/WHEEL", ".dist-info/RECORD"))
        }


@pytest.fixture(scope="module")
def fresh_build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [str(DEV_BIN / "uv"), "build", "--quiet", "--out-dir", str(out), str(TEMPLATE / "kedro-prefect")],
        check=True,
        timeout=300,
    )
    return out


def test_the_vendored_wheel_is_what_kedro_prefect_builds_today(fresh_build):
    (built,) = fresh_build.glob("*.whl")
    assert built.name == LAYER_WHEEL.name, "kedro-prefect's version changed: run `make wheel` and commit vendor/"
    built_files, vendored_files = _contents(built), _contents(LAYER_WHEEL)
    stale = sorted(
        name for name in built_files.keys() | vendored_files.keys() if built_files.get(name) != vendored_files.get(name)
    )
    assert stale == [], f"the vendored wheel is stale in {stale[:5]}: run `make wheel` and commit vendor/"


def test_twine_accepts_the_wheel_and_the_sdist(fresh_build):
    result = subprocess.run(
        [
            str(DEV_BIN / "twine"),
            "check",
            "--strict",
            *map(str, sorted([*fresh_build.glob("*.whl"), *fresh_build.glob("*.tar.gz")])),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2


def test_the_generated_project_asks_for_the_vendored_release():
    pyproject = tomllib.loads(
        (PROJECT_TREE / "pyproject.toml").read_text().replace("{{ cookiecutter.python_package }}", "package")
    )
    (pin,) = [Requirement(text) for text in pyproject["project"]["dependencies"] if text.startswith("kedro-prefect")]
    assert LAYER_VERSION in pin.specifier
    for extra in ("dask", "docker"):
        (wanted,) = [Requirement(text) for text in pyproject["project"]["optional-dependencies"][extra]]
        assert (wanted.name, wanted.extras, wanted.specifier) == ("kedro-prefect", {extra}, pin.specifier)


def test_the_example_prefect_yml_is_valid_and_lists_the_example_deployments(tmp_path):
    (tmp_path / "conf" / "base").mkdir(parents=True)
    (tmp_path / "conf" / "local").mkdir()
    (tmp_path / "conf" / "base" / "prefect.yml").write_bytes(
        (PROJECT_TREE / "conf" / "base" / "prefect.yml").read_bytes()
    )
    config = load_prefect_config(tmp_path, "base")
    assert [deployment.name for deployment in config.deployments] == ["default", "daily-reports"]
    assert config.deployment("daily-reports").schedule.cron == "0 6 * * *"


def test_generated_readme_lists_exactly_the_models_options():
    readme = (PROJECT_TREE / "README.md").read_text()
    assert RunOptions.reference_table() in readme, (
        "README's flow parameter table is stale: paste RunOptions.reference_table()"
    )


def test_the_readmes_ask_for_the_same_release_range_as_the_generated_project():
    pyproject = (PROJECT_TREE / "pyproject.toml").read_text()
    (pin,) = re.findall(r'"(kedro-prefect>=[^"]+)"', pyproject)
    for readme in (TEMPLATE / "README.md", PROJECT_TREE / "README.md"):
        assert f"`{pin}`" in readme.read_text() or f'"{pin}"' in readme.read_text(), readme


@pytest.mark.parametrize(
    ("packaged", "in_template"),
    [
        ("Makefile", "Makefile"),
        ("register_prefect_flow.py", "register_prefect_flow.py"),
        ("prefect.toml", "prefect.toml"),
        ("test_deploy.py", "tests/test_deploy.py"),
    ],
)
def test_the_template_ships_the_files_kedro_prefect_init_writes(packaged, in_template):
    """One source for each: `kedro prefect init` writes the package's copy, the template ships this one."""
    assert (PROJECT_TREE / in_template).read_text() == project_file(packaged), (
        f"{in_template} differs from kedro-prefect/src/kedro_prefect/project_files/{packaged}: change both"
    )


def test_the_example_prefect_yml_has_the_execution_section_init_writes():
    """The same settings and comments; the example adds a retry for its `reporting` tag."""
    example = yaml.safe_load((PROJECT_TREE / "conf" / "base" / "prefect.yml").read_text())["execution"]
    written = yaml.safe_load(prefect_yml(["__default__"]))["execution"]
    assert example.pop("tag_overrides") == {"reporting": {"retries": 1}}
    assert written.pop("tag_overrides") == {}
    assert example == written


def test_the_generated_project_pins_the_range_kedro_prefect_init_adds():
    pyproject = (PROJECT_TREE / "pyproject.toml").read_text()
    assert f'"{layer_requirement()}",' in pyproject
    dev = tomllib.loads(pyproject.replace("{{ cookiecutter.python_package }}", "p"))["project"]["optional-dependencies"]
    assert tuple(dev["dev"]) == DEV_REQUIREMENTS


def test_the_prefect_yml_reference_in_the_generated_readme_is_a_valid_prefect_yml():
    readme = (PROJECT_TREE / "README.md").read_text()
    (reference,) = re.findall(r"```yaml\n(execution:.*?)```", readme, flags=re.DOTALL)
    config = parse_prefect_config(yaml.safe_load(reference))
    assert [trigger.describe() for trigger in config.deployment("daily-reports").triggers] == [
        "after default Completes"
    ]
