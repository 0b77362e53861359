"""Bad answers are refused with one line naming the value, the rule and an example; nothing is written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hooks.kedro_prefect_answers import InvalidAnswer, check_answers
from tests.helpers import TEMPLATE

GOOD = {
    "project_name": "Sales Forecast",
    "repo_name": "sales-forecast",
    "python_package": "sales_forecast",
    "kedro_version": "1.7.0",
    "telemetry_consent": "no",
    "work_pool_name": "sales-forecast-pool",
    "work_queue_name": "default",
}

BAD_ANSWERS = [
    ("project_name", "", "project_name"),
    ("project_name", "   ", "project_name"),
    ("project_name", 'Quote " Project', "project_name"),
    ("repo_name", "", "repo_name"),
    ("repo_name", "a/b", "not a path"),
    ("repo_name", "..", "not a path"),
    ("repo_name", "..\\evil", "not a path"),
    ("repo_name", "-leading-dash", "repo_name"),
    ("repo_name", "x" * 65, "at most 64"),
    ("python_package", "", "cannot be empty"),
    ("python_package", "1st_project", "start with a lowercase letter"),
    ("python_package", "class", "Python keyword"),
    ("python_package", "match", "Python keyword"),
    ("python_package", "json", "standard library"),
    ("python_package", "asyncio", "standard library"),
    ("python_package", "kedro", "shadow a library"),
    ("python_package", "prefect", "shadow a library"),
    ("python_package", "test", "shadow a library"),
    ("python_package", "tests", "shadow a library"),
    ("python_package", "my-project", "only a-z, 0-9 and '_'"),
    ("python_package", "my.project", "only a-z, 0-9 and '_'"),
    ("python_package", "Sales", "start with a lowercase letter"),
    ("python_package", "café", "ASCII"),
    ("python_package", "p" * 65, "at most 64"),
    ("kedro_version", "0.19.9", "Kedro >=1.7,<2"),
    ("kedro_version", "latest", "version number"),
    ("telemetry_consent", "maybe", "yes or no"),
    ("work_pool_name", "my pool", "work_pool_name"),
    ("work_queue_name", "", "work_queue_name"),
]


@pytest.mark.parametrize(("field", "value", "rule"), BAD_ANSWERS, ids=[f"{f}={v!r}"[:40] for f, v, _ in BAD_ANSWERS])
def test_rules_reject_bad_answer_with_one_line(field, value, rule):
    with pytest.raises(InvalidAnswer) as caught:
        check_answers({**GOOD, field: value})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"Invalid {field} {value!r}:")
    assert rule in message
    assert "Example of a valid" in message


def test_rules_accept_good_answers():
    assert check_answers(GOOD) == ""


def cookiecutter_cli(
    output_dir: Path, *answers: str, template: str = str(TEMPLATE)
) -> subprocess.CompletedProcess[str]:
    """cookiecutter's own command line, run from the template folder, no prompts."""
    return subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "--output-dir", str(output_dir), template, *answers],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (["python_package=class"], "Invalid python_package 'class': it is a Python keyword"),
        (["repo_name=../escape"], "Invalid repo_name '../escape'"),
        (["repo_name=deep/nested/name"], "Invalid repo_name 'deep/nested/name'"),
        (["repo_name="], "Invalid repo_name ''"),
        (["project_name=  "], "Invalid project_name '  '"),
        (["python_package=os"], "Invalid python_package 'os'"),
    ],
)
def test_cookiecutter_refuses_before_writing_anything(tmp_path, answers, expected):
    result = cookiecutter_cli(tmp_path / "out", *answers)

    assert result.returncode == 1, result.stdout + result.stderr
    output = (result.stdout + result.stderr).strip()
    assert output.splitlines() == [output.splitlines()[0]], f"expected one line, got:\n{output}"
    assert output.startswith(expected)
    assert "Traceback" not in output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert not (tmp_path / "escape").exists()


def test_cookiecutter_with_relative_template_path(tmp_path):
    """`cookiecutter .` from a clone, as the README says: the hooks still find the answer rules."""
    result = cookiecutter_cli(tmp_path, "project_name=Dot Path", template=".")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "dot-path" / "src" / "dot_path" / "settings.py").is_file()


@pytest.mark.parametrize(("field", "value", "rule"), BAD_ANSWERS, ids=[f"{f}={v!r}"[:40] for f, v, _ in BAD_ANSWERS])
def test_cookiecutter_cli_refuses_every_bad_answer(tmp_path, field, value, rule):
    result = cookiecutter_cli(tmp_path / "out", f"{field}={value}")

    assert result.returncode == 1, result.stdout + result.stderr
    [line] = (result.stdout + result.stderr).strip().splitlines()
    assert line.startswith(f"Invalid {field} {value!r}: ")
    assert rule in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
