"""A project generated from an older layout of the template updates with `copier update` to today's,
where the Prefect layer is the kedro-prefect dependency, and still deploys and runs.

Two older layouts, each this repository's own last commit with it, read from git history: the layer
inside the user's package (`src/<package>/prefect_flow/`), and the layer copied into every project
(`src/kedro_prefect/`). The new template is the working tree as git would give it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import DEV_BIN, OUTPUTS, TEMPLATE, Project, copy_template, project_env, run

OLD_LAYOUTS = {
    "prefect_flow": "ac400af",  # "Tidy after review: one planning core ...": the last src/<package>/prefect_flow/
    "copied_layer": "78d09d3",  # "make lint type-checks the Prefect layer ...": the last src/kedro_prefect/ copy
}


def git(*args: str, cwd: Path) -> str:
    command = ["git", "-c", "user.name=Template Tests", "-c", "user.email=tests@example.invalid", *args]
    return run(command, cwd=cwd, timeout=60).stdout


@pytest.fixture(scope="module", params=sorted(OLD_LAYOUTS))
def template_history(request, tmp_path_factory) -> tuple[str, Path]:
    """A git repository of the template: v1.0.0 an old layout, v2.0.0 today's."""
    old_commit = OLD_LAYOUTS[request.param]
    repo = tmp_path_factory.mktemp("history") / "kedro-prefect-starter"
    repo.mkdir()
    archive = subprocess.run(["git", "archive", old_commit], cwd=TEMPLATE, capture_output=True, timeout=60, check=False)
    if archive.returncode != 0:
        pytest.fail(f"git cannot read commit {old_commit}; this test needs the repository's history (a full clone)")
    subprocess.run(["tar", "-x", "-C", str(repo)], input=archive.stdout, check=True, timeout=60)
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    git("add", "--all", "--force", cwd=repo)
    git("commit", "--quiet", "-m", f"v1.0.0: {request.param}", cwd=repo)
    git("tag", "v1.0.0", cwd=repo)
    git("rm", "--quiet", "-r", ".", cwd=repo)
    copy_template(repo)
    git("add", "--all", "--force", cwd=repo)
    git("commit", "--quiet", "-m", "v2.0.0: the kedro-prefect dependency", cwd=repo)
    git("tag", "v2.0.0", cwd=repo)
    return request.param, repo


def copier(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([str(DEV_BIN / "copier"), *args], cwd=cwd, env=project_env(), timeout=300)


def test_copier_update_moves_an_old_project_to_the_new_layout_and_it_still_runs(tmp_path, template_history):
    layout, history = template_history
    path = tmp_path / "old-ledger"
    copier("copy", "--trust", "--defaults", "--quiet", "--vcs-ref=v1.0.0", "--data=project_name=Old Ledger",
           str(history), str(path), cwd=tmp_path)  # fmt: skip
    old_layer = {
        "prefect_flow": path / "src" / "old_ledger" / "prefect_flow",
        "copied_layer": path / "src" / "kedro_prefect",
    }[layout]
    assert (old_layer / ("flow.py" if layout == "prefect_flow" else "execution/flow.py")).is_file()
    git("init", "--quiet", "--initial-branch=main", cwd=path)
    git("add", "--all", cwd=path)
    git("commit", "--quiet", "-m", "Project from the old template", cwd=path)

    copier("update", "--trust", "--defaults", "--quiet", "--vcs-ref=v2.0.0", cwd=path)

    assert not old_layer.exists()
    assert sorted(child.name for child in (path / "src").iterdir()) == ["old_ledger"]
    assert len(list((path / "vendor").glob("kedro_prefect-*.whl"))) == 1
    assert yaml.safe_load((path / ".copier-answers.yml").read_text())["_commit"] == "v2.0.0"
    leftovers = [p.name for p in path.rglob("*") if p.suffix in {".rej", ".orig"}]
    assert leftovers == []
    for tracked in ("Makefile", "pyproject.toml", "register_prefect_flow.py"):
        assert "<<<<<<<" not in (path / tracked).read_text(), tracked

    project = Project.installed(path, tmp_path / "venv")
    try:
        project.make("up")
        assert "Registered deployment 'old-ledger/default'" in project.make("deploy").stdout
        result = project.make("run", timeout=600)
        assert "Completed" in result.stdout.splitlines()[-1]
        for output in OUTPUTS:
            assert (path / output).is_file(), output
    finally:
        project.make("down", check=False, timeout=120)
