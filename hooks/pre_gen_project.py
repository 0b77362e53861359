"""Refuse unusable answers before any file is written (see hooks/kedro_prefect_answers.py)."""

import json
import sys

sys.path.insert(0, json.loads({{ template_root | jsonify | jsonify }}))

from hooks.kedro_prefect_answers import InvalidAnswer, check_answers  # noqa: E402

try:
    check_answers(json.loads({{ cookiecutter | jsonify | jsonify }}))
except InvalidAnswer as error:
    print(error, file=sys.stderr)
    sys.exit(1)
