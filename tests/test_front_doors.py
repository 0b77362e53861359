"""The other front doors: copier (copy and update), `kedro new --starter` and cruft, all offline.

Each runs against a local copy of this template: a plain folder for copying, and a git
repository with two tags (v1.0.0, then v1.1.0 with a template change) for the update round trips.
"""

from __future__ import annotations

import filecmp
import json
import re
import string
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
import yaml

from hooks import next_steps as next_steps_module
from hooks.kedro_prefect_answers import InvalidAnswer, check_answers
from hooks.next_steps import next_steps
from scripts import generate_front_doors
from tests.helpers import DEV_BIN, OUTPUTS, TEMPLATE, Project, bake, copy_template, project_env, run
from tests.test_answers import BAD_ANSWERS, GOOD
from tests.test_bake import MATRIX, all_files, expected_files

# The template change v1.1.0 brings, and the user's own edits it must not lose.
TEMPLATE_OLD_LINE = "WORKER_POLL_SECONDS ?= 1\n"
TEMPLATE_NEW_LINE = "WORKER_POLL_SECONDS ?= 2\n"
USER_TARGET = "\nbackup: ## The user's own target\n\ttar czf backup.tgz data\n"
USER_TOP_N = "top_n: ${runtime_params:top_n, 25}"


def git(*args: str, cwd: Path) -> str:
    command = ["git", "-c", "user.name=Template Tests", "-c", "user.email=tests@example.invalid", *args]
    return run(command, cwd=cwd, timeout=60).stdout


@pytest.fixture(scope="module")
def template_dir(tmp_path_factory) -> Path:
    """A plain folder, as a downloaded template would be (copier then renders it without git)."""
    return copy_template(tmp_path_factory.mktemp("template") / "kedro-prefect-starter")


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory) -> Path:
    """A git repository of the template with v1.0.0 and a later v1.1.0 that changes the Makefile."""
    repo = copy_template(tmp_path_factory.mktemp("template-repo") / "kedro-prefect-starter")
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    # -f: the generated project's own .gitignore (conf/local/...) lives inside the template.
    git("add", "--all", "--force", cwd=repo)
    git("commit", "--quiet", "-m", "v1.0.0", cwd=repo)
    git("tag", "v1.0.0", cwd=repo)
    makefile = repo / "{{cookiecutter.repo_name}}" / "Makefile"
    text = makefile.read_text()
    assert TEMPLATE_OLD_LINE in text
    makefile.write_text(text.replace(TEMPLATE_OLD_LINE, TEMPLATE_NEW_LINE))
    git("commit", "--quiet", "-am", "v1.1.0: workers poll every 2 s", cwd=repo)
    git("tag", "v1.1.0", cwd=repo)
    return repo


def copier(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """copier's own command line, no terminal (so no questions: answers come from --data)."""
    return run([str(DEV_BIN / "copier"), *args], cwd=cwd, env=project_env(), timeout=180, check=check)


def copier_copy(template: Path, destination: Path, answers: dict, *extra: str, check: bool = True, quiet: bool = True):
    """`copier copy` into `destination`, named relative to its parent as a user in that folder would."""
    data = [f"--data={name}={value}" for name, value in answers.items()]
    return copier(
        "copy",
        "--trust",
        "--defaults",
        *(["--quiet"] if quiet else []),
        *data,
        *extra,
        str(template),
        destination.name,
        cwd=destination.parent,
        check=check,
    )


def differences(left: Path, right: Path, ignore: set[str]) -> list[str]:
    """Files that exist on one side only, or differ in bytes or permissions."""
    names = {str(path.relative_to(left)) for path in all_files(left)} | {
        str(path.relative_to(right)) for path in all_files(right)
    }
    found = []
    for name in sorted(names - ignore):
        a, b = left / name, right / name
        if not (a.is_file() and b.is_file()):
            found.append(f"{name}: only in {'left' if a.is_file() else 'right'}")
        elif not filecmp.cmp(a, b, shallow=False):
            found.append(f"{name}: contents differ")
        elif a.stat().st_mode != b.stat().st_mode:
            found.append(f"{name}: permissions differ")
    return found


# --- one source of questions ---------------------------------------------------------------


def test_copier_yml_and_prompts_yml_are_generated_from_cookiecutter_json():
    result = subprocess.run(
        [sys.executable, "scripts/generate_front_doors.py", "--check"],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_drift_check_catches_a_question_added_to_cookiecutter_json():
    cookiecutter = yaml.safe_load((TEMPLATE / "cookiecutter.json").read_text())
    cookiecutter["owner_email"] = "data@example.com"
    assert generate_front_doors.copier_yml(cookiecutter) != (TEMPLATE / "copier.yml").read_text()
    assert "owner_email" in yaml.safe_load(generate_front_doors.copier_yml(cookiecutter))


def test_copier_questions_mirror_cookiecutter_json():
    cookiecutter = yaml.safe_load((TEMPLATE / "cookiecutter.json").read_text())
    copier_config = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
    questions = [name for name in copier_config if not name.startswith("_") and name != "cookiecutter"]
    assert questions == [name for name in cookiecutter if not name.startswith("_")]
    for name in questions:
        assert copier_config[name]["help"] == cookiecutter["__prompts__"][name]
        assert copier_config[name]["validator"] == f"{{{{ answer_error('{name}', {name}) }}}}"


# --- one source of the next steps ------------------------------------------------------------


def test_next_steps_has_the_folder_as_its_only_placeholder():
    fields = {field for _, field, _, _ in string.Formatter().parse(next_steps_module.MESSAGE) if field is not None}
    assert fields == {"repo_name"}
    assert next_steps("rocket-launch-planner").splitlines()[:2] == [
        "Created rocket-launch-planner. Next steps:",
        "  cd rocket-launch-planner",
    ]


def test_copier_message_after_copy_is_the_next_steps_naming_the_destination():
    # copier writes into the destination the user named, whatever repo_name answers.
    copier_config = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
    assert copier_config["_message_after_copy"] == next_steps("{{ _copier_conf.dst_path }}")


def test_post_gen_hook_prints_the_next_steps_and_leaves_no_file(tmp_path, capfd):
    project = bake(tmp_path, project_name="Rocket Launch Planner")

    assert capfd.readouterr().out == next_steps("rocket-launch-planner") + "\n"
    assert list(tmp_path.iterdir()) == [project]
    expected = expected_files("rocket_launch_planner")
    assert {str(path.relative_to(project)) for path in all_files(project)} == expected


# --- copier: the same tree as cookiecutter ---------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "repo_name", "package"), MATRIX, ids=[case[1] + str(index) for index, case in enumerate(MATRIX)]
)
def test_copier_renders_what_cookiecutter_renders(tmp_path, template_dir, answers, repo_name, package):
    baked = run(
        [str(DEV_BIN / "cookiecutter"), "--no-input", "--output-dir", str(tmp_path / "cc"), str(template_dir)]
        + [f"{name}={value}" for name, value in answers.items()],
        cwd=tmp_path,
    )
    from_cookiecutter = tmp_path / "cc" / repo_name
    from_copier = tmp_path / "copier" / repo_name
    from_copier.parent.mkdir()
    copied = copier_copy(template_dir, from_copier, answers, quiet=False)

    # Both print the same next steps: cookiecutter's post-generation hook to stdout, copier's
    # _message_after_copy to stderr (after its list of created files).
    assert baked.stdout == next_steps(repo_name) + "\n"
    assert next_steps(repo_name) + "\n" in copied.stderr
    assert copied.stderr.count("Next steps:") == 1
    assert "Next steps:" not in copied.stdout

    assert differences(from_cookiecutter, from_copier, ignore={".copier-answers.yml"}) == []
    expected = expected_files(package) | {".copier-answers.yml"}
    assert {str(path.relative_to(from_copier)) for path in all_files(from_copier)} == expected
    recorded = yaml.safe_load((from_copier / ".copier-answers.yml").read_text())
    assert (recorded["repo_name"], recorded["python_package"]) == (repo_name, package)


@pytest.mark.parametrize(("field", "value", "rule"), BAD_ANSWERS, ids=[f"{f}={v!r}"[:40] for f, v, _ in BAD_ANSWERS])
def test_copier_refuses_bad_answers_with_the_hooks_message(tmp_path, template_dir, field, value, rule):
    with pytest.raises(InvalidAnswer) as expected:
        check_answers({**GOOD, field: value})
    destination = tmp_path / "out" / "project"
    destination.parent.mkdir()

    result = copier_copy(template_dir, destination, {**GOOD, field: value}, check=False)

    assert result.returncode == 1
    assert result.stderr.strip() == str(expected.value), result.stderr
    assert not destination.exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_copier_at_a_terminal_shows_the_message_and_asks_again(tmp_path, template_dir):
    """Interactive copier through a pseudo-terminal: a bad name is refused in place, then fixed.

    Each keypress waits for the question it answers to be on the screen (no fixed reading windows).
    """
    spec = yaml.safe_load((template_dir / "copier.yml").read_text())
    questions = [q["help"] for key, q in spec.items() if not key.startswith("_") and q.get("when") is not False]
    destination = tmp_path / "interactive"
    screen = tmp_path / "copier-screen.log"
    child = pexpect.spawn(
        str(DEV_BIN / "copier"),
        ["copy", "--trust", str(template_dir), str(destination)],
        env=project_env(),
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 250),
    )
    child.logfile_read = screen.open("w")
    try:
        child.expect_exact(questions[0])
        child.expect_exact(spec["project_name"]["default"])  # the input line is drawn
        child.send("\x15x\r")  # Ctrl-U clears the default; the name "x" is too short
        child.expect(r"Invalid\s+project_name")
        child.send("\x15Terminal Project\r")
        for question in questions[1:]:  # accept every other default
            child.expect_exact(question)
            child.send("\r")
        child.expect(pexpect.EOF, timeout=120)
    finally:
        child.close(force=True)
        child.logfile_read.close()

    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.read_text(errors="replace")).replace("\r\n", "\n")
    assert "Invalid project_name 'x'" in text, text[-3000:]
    # The next steps name the folder copier wrote to (as typed), not the repo_name answer.
    assert next_steps(str(destination)) + "\n" in text
    assert (destination / "src" / "terminal_project" / "pipeline_registry.py").is_file()
    assert len(list((destination / "vendor").glob("kedro_prefect-*.whl"))) == 1  # the layer, as a wheel


# --- copier update ---------------------------------------------------------------------------


def user_project(path: Path) -> None:
    """What a user does after creating a project: commit it, then change two files and commit."""
    git("init", "--quiet", "--initial-branch=main", cwd=path)
    git("add", "--all", cwd=path)
    git("commit", "--quiet", "-m", "New project", cwd=path)
    with (path / "Makefile").open("a") as makefile:
        makefile.write(USER_TARGET)
    parameters = path / "conf" / "base" / "parameters.yml"
    parameters.write_text(parameters.read_text().replace("top_n: ${runtime_params:top_n, 10}", USER_TOP_N))
    git("commit", "--quiet", "-am", "Our own target and report size", cwd=path)


def assert_update_kept_both(path: Path) -> None:
    makefile = (path / "Makefile").read_text()
    assert TEMPLATE_NEW_LINE in makefile and TEMPLATE_OLD_LINE not in makefile, "template change missing"
    assert makefile.endswith(USER_TARGET), "user's Makefile edit lost"
    assert USER_TOP_N in (path / "conf" / "base" / "parameters.yml").read_text(), "user's parameter lost"
    assert "<<<<<<<" not in makefile


def test_copier_update_brings_template_change_and_keeps_user_edits(tmp_path, template_repo):
    project = tmp_path / "hangar-inventory"
    copier_copy(template_repo, project, {"project_name": "Hangar Inventory"}, "--vcs-ref=v1.0.0")
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "v1.0.0"
    assert TEMPLATE_OLD_LINE in (project / "Makefile").read_text()
    user_project(project)

    copier("update", "--trust", "--defaults", "--quiet", "--vcs-ref=v1.1.0", cwd=project)

    assert_update_kept_both(project)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v1.1.0"
    assert answers["project_name"] == "Hangar Inventory"


# --- cruft ------------------------------------------------------------------------------------


def cruft(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """cruft's own command line, no terminal."""
    return run([str(DEV_BIN / "cruft"), *args], cwd=cwd, env=project_env(), timeout=180, check=check)


def test_cruft_create_then_update_brings_template_change(tmp_path, template_repo):
    created = cruft(
        *["create", "--no-input", "--checkout", "v1.0.0", "--output-dir", str(tmp_path)],
        *["--extra-context", '{"project_name": "Dock Scheduler"}', str(template_repo)],
        cwd=tmp_path,
    )
    project = tmp_path / "dock-scheduler"
    assert created.stdout == next_steps("dock-scheduler") + "\n"  # cookiecutter's post-generation hook
    assert (project / ".cruft.json").is_file()
    baked = bake(tmp_path / "cc", project_name="Dock Scheduler")
    assert differences(baked, project, ignore={".cruft.json"}) == []
    user_project(project)

    cruft("update", "--skip-apply-ask", "--checkout", "v1.1.0", cwd=project)

    assert_update_kept_both(project)
    assert '"checkout": "v1.1.0"' in (project / ".cruft.json").read_text()


@pytest.mark.parametrize(("field", "value", "rule"), BAD_ANSWERS, ids=[f"{f}={v!r}"[:40] for f, v, _ in BAD_ANSWERS])
def test_cruft_refuses_bad_answers_with_one_line_and_writes_nothing(tmp_path, template_repo, field, value, rule):
    with pytest.raises(InvalidAnswer) as expected:
        check_answers({**GOOD, field: value})
    out = tmp_path / "out"
    out.mkdir()
    context = json.dumps({**GOOD, field: value})
    result = cruft(
        "create",
        "--no-input",
        "--output-dir",
        str(out),
        "--extra-context",
        context,
        str(template_repo),
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert (result.stdout + result.stderr).strip() == str(expected.value)
    assert list(out.iterdir()) == []


def test_a_cookiecutter_project_adopts_cruft_with_cruft_link_then_updates(tmp_path, template_repo):
    project = bake(tmp_path, project_name="Linked Depot")  # made at what v1.0.0 holds
    user_project(project)
    cruft(
        "link",
        "--no-input",
        "--checkout",
        "v1.0.0",
        "--extra-context",
        '{"project_name": "Linked Depot"}',
        str(template_repo),
        cwd=project,
    )
    git("add", ".cruft.json", cwd=project)
    git("commit", "--quiet", "-m", "Linked to the template", cwd=project)

    cruft("update", "--skip-apply-ask", "--checkout", "v1.1.0", cwd=project)

    assert_update_kept_both(project)


def edit_the_line_the_template_changes(project: Path) -> None:
    makefile = project / "Makefile"
    makefile.write_text(makefile.read_text().replace(TEMPLATE_OLD_LINE, "WORKER_POLL_SECONDS ?= 5\n"))
    git("commit", "--quiet", "-am", "Workers poll every 5 s", cwd=project)


def assert_conflict_marked(project: Path) -> None:
    """The user's line and the template's, between conflict markers, for the user to resolve."""
    conflict = r"^<<<<<<< .*\nWORKER_POLL_SECONDS \?= 5\n=======\nWORKER_POLL_SECONDS \?= 2\n>>>>>>> "
    assert re.search(conflict, (project / "Makefile").read_text(), re.M)


def test_copier_update_without_a_ref_goes_to_the_latest_tag_and_marks_conflicts(tmp_path, template_repo):
    project = tmp_path / "conflicted"
    copier_copy(template_repo, project, {"project_name": "Conflicted"}, "--vcs-ref=v1.0.0")
    user_project(project)
    edit_the_line_the_template_changes(project)

    copier("update", "--trust", "--defaults", "--quiet", cwd=project)

    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "v1.1.0"
    assert_conflict_marked(project)


def test_cruft_update_without_a_checkout_goes_to_the_latest_commit_and_marks_conflicts(tmp_path, template_repo):
    cruft(
        "create",
        "--no-input",
        "--checkout",
        "v1.0.0",
        "--output-dir",
        str(tmp_path),
        "--extra-context",
        '{"project_name": "Crossed Lines"}',
        str(template_repo),
        cwd=tmp_path,
    )
    project = tmp_path / "crossed-lines"
    user_project(project)
    edit_the_line_the_template_changes(project)

    cruft("update", "--skip-apply-ask", cwd=project, check=False)

    latest = git("rev-parse", "HEAD", cwd=template_repo).strip()
    assert json.loads((project / ".cruft.json").read_text())["commit"] == latest
    assert_conflict_marked(project)


# --- kedro new --starter -----------------------------------------------------------------------


def kedro_new(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DEV_BIN / "kedro"), "new", *args],
        cwd=cwd,
        env=project_env(),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize("telemetry", ["yes", "no"])
def test_kedro_new_with_config_file_and_telemetry_flag(tmp_path, template_dir, telemetry):
    config = tmp_path / "config.yml"
    config.write_text(
        yaml.safe_dump({"output_dir": str(tmp_path), "project_name": "Crater Survey", "work_queue_name": "nightly"})
    )
    result = kedro_new(tmp_path, "--starter", str(template_dir), "--config", str(config), "--telemetry", telemetry)
    assert result.returncode == 0, result.stdout + result.stderr

    project = tmp_path / "crater-survey"
    # The starter's post-generation hook prints the next steps, then Kedro its congratulations.
    assert result.stdout.count(next_steps("crater-survey") + "\n") == 1
    assert result.stdout.index(next_steps("crater-survey")) < result.stdout.index("Congratulations!")
    consent = yaml.safe_load((project / ".telemetry").read_text())["consent"]
    assert consent is (telemetry == "yes")
    baked = bake(tmp_path / "cc", project_name="Crater Survey", work_queue_name="nightly")
    assert differences(baked, project, ignore={".telemetry"}) == []


def test_kedro_new_asks_the_prompts_of_prompts_yml(tmp_path, template_dir):
    result = kedro_new(tmp_path, "--starter", str(template_dir), stdin="Comet Tail Survey\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "project name (human readable)" in result.stdout.lower()  # Kedro title-cases it
    project = tmp_path / "comet-tail-survey"
    assert next_steps("comet-tail-survey") + "\n" in result.stdout
    assert (project / "src" / "comet_tail_survey" / "pipeline_registry.py").is_file()
    assert len(list((project / "vendor").glob("kedro_prefect-*.whl"))) == 1  # the layer, as a wheel
    # Without --telemetry the template's own answer applies: no consent, so Kedro never asks.
    assert yaml.safe_load((project / ".telemetry").read_text()) == {"consent": False}


KEDRO_BAD = BAD_ANSWERS[::2]  # 15 of them: each `kedro new` takes a few seconds


@pytest.mark.parametrize(("field", "value", "rule"), KEDRO_BAD, ids=[f"{f}={v!r}"[:40] for f, v, _ in KEDRO_BAD])
def test_kedro_new_refuses_a_bad_answer_with_one_line(tmp_path, template_dir, field, value, rule):
    config = tmp_path / "config.yml"
    answers = {"output_dir": str(tmp_path / "out"), "project_name": "Good Name", field: value}
    (tmp_path / "out").mkdir()
    config.write_text(yaml.safe_dump(answers))

    result = kedro_new(tmp_path, "--starter", str(template_dir), "--config", str(config))

    assert result.returncode == 1, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    # Kedro checks the project name and keyword or standard-library package names with its own
    # rules first; every other answer reaches the template's rules and their message.
    assert repr(value) in line or f"'{value}' is an invalid" in line, line
    assert list((tmp_path / "out").iterdir()) == []


# --- a copier project, used as a user would ---------------------------------------------------


def test_copier_project_installs_deploys_and_runs_to_completed(tmp_path, template_dir):
    """The README's copier path end to end: copy, install, up, deploy, run, down."""
    project_path = tmp_path / "meteor-watch"
    copier_copy(template_dir, project_path, {"project_name": "Meteor Watch"})
    project = Project.installed(project_path, tmp_path / "venv")
    try:
        project.make("up")
        deploy = project.make("deploy")
        assert "Registered deployment 'meteor-watch/default'" in deploy.stdout
        result = project.make("run", timeout=600)
        assert "Completed" in result.stdout.splitlines()[-1]
        for output in OUTPUTS:
            assert (project_path / output).stat().st_size > 0, output
    finally:
        project.make("down", check=False, timeout=120)
