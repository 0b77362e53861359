"""Print the next steps (hooks/next_steps.py) once cookiecutter, cruft or `kedro new` made the project."""

# cookiecutter renders this file with Jinja before running it, so ruff cannot read it as Python.
# ruff: noqa: F821
# fmt: off

import json
import sys

sys.path.insert(0, json.loads({{ template_root | jsonify | jsonify }}))

from hooks.next_steps import next_steps  # noqa: E402

print(next_steps(json.loads({{ cookiecutter.repo_name | jsonify | jsonify }})))
