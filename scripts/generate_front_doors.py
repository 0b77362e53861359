"""Write copier.yml and prompts.yml from cookiecutter.json, the one place the questions live.

copier reads its questions from copier.yml and `kedro new --starter` its prompts from
prompts.yml; both files are derived here, never edited by hand. `--check` exits 1 when either
file differs from what cookiecutter.json gives (the template tests run it), so the three front
doors cannot drift apart. Validation is not copied: every copier validator calls the same rule
functions as cookiecutter (hooks/kedro_prefect_answers.py), so the messages are the same too.
Nor are the "next steps": copier's `_message_after_copy` is hooks/next_steps.py's message, the
one cookiecutter's post-generation hook prints.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TEMPLATE_ROOT))  # `hooks` as a package, also when run as a script

from hooks.next_steps import next_steps  # noqa: E402

COOKIECUTTER_JSON = TEMPLATE_ROOT / "cookiecutter.json"
COPIER_YML = TEMPLATE_ROOT / "copier.yml"
PROMPTS_YML = TEMPLATE_ROOT / "prompts.yml"
PROJECT_FOLDER = "{{cookiecutter.repo_name}}"

# `kedro new --config FILE` refuses a file that lacks any prompted key, so Kedro prompts for the
# name alone; every other answer derives from it or has a default, and a config file may set it.
# (`kedro new` passes its own kedro_version, and its --telemetry flag writes .telemetry.)
PROMPTED_BY_KEDRO = ("project_name",)

# The folder copier created, as the user named it on the command line (relative stays relative).
# Not `repo_name`: `copier copy TEMPLATE DEST` writes into DEST, whatever repo_name answers.
COPIER_DESTINATION = "{{ _copier_conf.dst_path }}"

HEADER = """\
# GENERATED from cookiecutter.json by scripts/generate_front_doors.py: do not edit by hand.
# Change cookiecutter.json, then run `make front-doors`; `make test` fails when the two drift.
"""


def _questions(cookiecutter: dict[str, Any]) -> dict[str, Any]:
    """The public questions, in cookiecutter.json's order (keys starting with `_` are settings)."""
    return {key: value for key, value in cookiecutter.items() if not key.startswith("_")}


def _copier_default(value: Any) -> Any:
    # copier renders each default with the earlier answers as plain variables.
    return re.sub(r"\bcookiecutter\.(\w+)", r"\1", value) if isinstance(value, str) else value


def _extension_file(module_path: str) -> str:
    """`hooks.kedro_prefect_answers.AnswerChecks` as copier-templates-extensions' `file.py:Class`."""
    module, _, class_name = module_path.rpartition(".")
    return f"{module.replace('.', '/')}.py:{class_name}"


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as `|` blocks, so the generated file reads like the message it prints."""


def _str_block(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str_block)


def copier_yml(cookiecutter: dict[str, Any]) -> str:
    prompts = cookiecutter.get("__prompts__", {})
    settings: dict[str, Any] = {
        "_min_copier_version": "9.4.0",
        # The project folder is the same one cookiecutter renders; copier must not render its name.
        "_subdirectory": "{% raw %}" + PROJECT_FOLDER + "{% endraw %}",
        "_templates_suffix": "",
        "_answers_file": ".copier-answers.yml",
        "_jinja_extensions": [
            "copier_templates_extensions.TemplateExtensionLoader",
            *(_extension_file(extension) for extension in cookiecutter.get("_extensions", [])),
        ],
        # Printed to stderr after `copier copy` (not with --quiet), rendered like any template text.
        "_message_after_copy": next_steps(COPIER_DESTINATION),
    }
    questions: dict[str, Any] = {}
    for name, value in _questions(cookiecutter).items():
        questions[name] = {
            "type": "bool" if isinstance(value, bool) else "str",
            "help": prompts.get(name, name),
            "default": _copier_default(value),
            "validator": f"{{{{ answer_error({name!r}, {name}) }}}}",
        }
    # Never asked: the answers gathered under `cookiecutter`, so `{{ cookiecutter.x }}` renders.
    answers = ", ".join(f"{name!r}: {name}" for name in _questions(cookiecutter))
    questions["cookiecutter"] = {"type": "json", "when": False, "default": f"{{{{ {{{answers}}} | tojson }}}}"}
    return (
        HEADER
        + yaml.dump(settings, Dumper=_Dumper, sort_keys=False, width=10_000)
        + "\n"
        + yaml.safe_dump(questions, sort_keys=False, width=200)
    )


def prompts_yml(cookiecutter: dict[str, Any]) -> str:
    prompts = cookiecutter.get("__prompts__", {})
    questions = _questions(cookiecutter)
    others = ", ".join(name for name in questions if name not in PROMPTED_BY_KEDRO)
    entries = {
        name: {
            "title": prompts.get(name, name),
            "text": f"Press Enter for {questions[name]!r}. Other answers ({others}) can be set with --config.",
        }
        for name in PROMPTED_BY_KEDRO
    }
    return HEADER + yaml.safe_dump(entries, sort_keys=False, width=10_000)


def generated_files() -> dict[Path, str]:
    cookiecutter = json.loads(COOKIECUTTER_JSON.read_text(encoding="utf-8"))
    return {COPIER_YML: copier_yml(cookiecutter), PROMPTS_YML: prompts_yml(cookiecutter)}


def main(argv: list[str]) -> int:
    stale = [path for path, text in generated_files().items() if not path.is_file() or path.read_text() != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path.name} is out of date with cookiecutter.json: run `make front-doors`", file=sys.stderr)
        return 1 if stale else 0
    for path, text in generated_files().items():
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
