"""Format the generated project's Python with ruff, through a bake.

The template's .py files contain Jinja, which ruff cannot read. This bakes a project with
recognisable answers, runs `ruff check --fix` and `ruff format` on it, maps the answers back to
their Jinja expressions and writes back only the files that changed.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
PROJECT_TREE = TEMPLATE / "{{cookiecutter.repo_name}}"
ANSWERS = {
    "project_name": "Formatting Probe",
    "work_pool_name": "fmtprobe-pool",
    "work_queue_name": "fmtprobe-queue",
}
# Most specific first: the pool name contains the repo name.
BACK = [
    ("fmtprobe-pool", "{{ cookiecutter.work_pool_name }}"),
    ("fmtprobe-queue", "{{ cookiecutter.work_queue_name }}"),
    ("formatting_probe", "{{ cookiecutter.python_package }}"),
    ("formatting-probe", "{{ cookiecutter.repo_name }}"),
    ("Formatting Probe", "{{ cookiecutter.project_name }}"),
]


def main() -> int:
    ruff = str(Path(sys.executable).with_name("ruff"))
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(cookiecutter(str(TEMPLATE), no_input=True, extra_context=ANSWERS, output_dir=scratch))
        subprocess.run([ruff, "check", "--fix", "--quiet", "."], cwd=project, check=False)
        subprocess.run([ruff, "format", "--quiet", "."], cwd=project, check=True)
        for baked in project.rglob("*.py"):
            relative = (
                baked.relative_to(project).as_posix().replace("formatting_probe", "{{cookiecutter.python_package}}")
            )
            text = baked.read_text()
            for value, expression in BACK:
                text = text.replace(value, expression)
            source = PROJECT_TREE / relative
            if source.read_text() != text:
                source.write_text(text)
                print(f"formatted {relative}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
