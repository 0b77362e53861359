"""Print the generated project's dependencies (runtime, dev and dask), one per line, for pip/uv.

The template's dev environment installs these so that baked projects in the tests share one
environment; reading them from the template's own pyproject.toml keeps a single list.
"""

import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "{{cookiecutter.repo_name}}" / "pyproject.toml"

project = tomllib.loads(PYPROJECT.read_text())["project"]
for requirement in [
    *project["dependencies"],
    *project["optional-dependencies"]["dev"],
    *project["optional-dependencies"]["dask"],
]:
    print(requirement)
