"""The template's answer rules: the one place that decides whether an answer is usable.

cookiecutter renders ``cookiecutter.json`` through Jinja before it creates any folder, so the
``AnswerChecks`` extension runs these rules at that point: a bad answer stops generation with
nothing written. ``hooks/pre_gen_project.py`` calls the same rules again for tools that skip
that rendering. copier loads the same extension (copier.yml, generated from cookiecutter.json)
and calls ``answer_error`` from each question's validator, so both print the same message.
Every message is one line: the value, the rule broken and an example that works.

This module must import without cookiecutter installed: copier users may not have it.
"""

from __future__ import annotations

import keyword
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from jinja2.ext import Extension

try:
    from cookiecutter.exceptions import FailedHookException
except ImportError:  # copier without cookiecutter: nothing will catch it by that name

    class FailedHookException(Exception):  # type: ignore[no-redef]
        """Stands in for cookiecutter's exception when cookiecutter is not installed."""


TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
MAX_NAME_LENGTH = 64
MIN_KEDRO = (1, 7)
MAX_KEDRO_MAJOR = 1

# Names a project package must not take: importing the project would hide the real module.
RESERVED_PACKAGES = frozenset(
    {
        "kedro",
        "kedro_datasets",
        "kedro_telemetry",
        "prefect",
        "pandas",
        "numpy",
        "click",
        "pydantic",
        "test",
        "tests",
        "testing",
        "conftest",
        "pytest",
        "setup",
        "src",
        "conf",
        "data",
        "pipelines",
        "hooks",
        "settings",
    }
)

_PROJECT_NAME_RE = re.compile(r"[\w -]{2,}\Z")
_PACKAGE_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
_FOLDER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_PREFECT_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_VERSION_RE = re.compile(r"(\d+)\.(\d+)(\.\d+)?\S*\Z")


class InvalidAnswer(FailedHookException):
    """A template answer that cannot produce a working project.

    It subclasses ``FailedHookException`` because that is what cookiecutter's command line prints
    as a plain line (no traceback) before exiting with status 1.
    """


def _fail(field: str, value: object, rule: str, example: str) -> InvalidAnswer:
    return InvalidAnswer(f"Invalid {field} {value!r}: {rule}. Example of a valid {field}: {example!r}.")


def check_project_name(value: str) -> None:
    # Kedro's own rule for project names; it also keeps quotes and braces out of generated code.
    if not value.strip() or not _PROJECT_NAME_RE.match(value):
        raise _fail(
            "project_name",
            value,
            "use at least 2 letters, digits, spaces, '-' or '_' (no other punctuation)",
            "Sales Forecast",
        )
    if len(value) > MAX_NAME_LENGTH * 2:
        raise _fail("project_name", value, f"it must be at most {MAX_NAME_LENGTH * 2} characters", "Sales Forecast")


def check_repo_name(value: str) -> None:
    example = "sales-forecast"
    if not value.strip():
        raise _fail("repo_name", value, "the project folder name cannot be empty", example)
    if "/" in value or "\\" in value or value in {".", ".."}:
        raise _fail("repo_name", value, "it is a folder name, not a path (no '/', '\\', '.' or '..')", example)
    if len(value) > MAX_NAME_LENGTH:
        raise _fail("repo_name", value, f"it must be at most {MAX_NAME_LENGTH} characters", example)
    if not _FOLDER_RE.match(value):
        raise _fail(
            "repo_name",
            value,
            "use ASCII letters, digits, '-', '_' and '.', starting with a letter or digit",
            example,
        )


def check_python_package(value: str) -> None:
    example = "sales_forecast"
    if not value.strip():
        raise _fail("python_package", value, "the package name cannot be empty", example)
    if len(value) > MAX_NAME_LENGTH:
        raise _fail("python_package", value, f"it must be at most {MAX_NAME_LENGTH} characters", example)
    if not value.isascii():
        raise _fail("python_package", value, "it must be ASCII (letters a-z, digits, '_')", example)
    if not _PACKAGE_RE.match(value):
        raise _fail(
            "python_package",
            value,
            "it must start with a lowercase letter and contain only a-z, 0-9 and '_'",
            example,
        )
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        raise _fail("python_package", value, "it is a Python keyword", f"{value}_project")
    if value in sys.stdlib_module_names:
        raise _fail(
            "python_package", value, "it would shadow the standard library module of that name", f"{value}_project"
        )
    if value in RESERVED_PACKAGES:
        raise _fail(
            "python_package", value, "it would shadow a library or test module the project uses", f"{value}_project"
        )


def check_kedro_version(value: str) -> None:
    match = _VERSION_RE.match(value.strip())
    if not match:
        raise _fail("kedro_version", value, "it must be a version number", "1.7.0")
    major, minor = int(match[1]), int(match[2])
    if (major, minor) < MIN_KEDRO or major > MAX_KEDRO_MAJOR:
        raise _fail("kedro_version", value, "this template needs Kedro >=1.7,<2", "1.7.0")


def check_prefect_name(field: str, value: str, example: str) -> None:
    if not _PREFECT_NAME_RE.match(value) or len(value) > MAX_NAME_LENGTH:
        raise _fail(
            field,
            value,
            f"use up to {MAX_NAME_LENGTH} ASCII letters, digits, '-', '_' and '.', starting with a letter or digit",
            example,
        )


def as_bool(value: Any) -> bool:
    """Read a yes/no answer the way cookiecutter does, whether it arrived as a bool or a string."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "t", "yes", "y", "on"}:
        return True
    if text in {"0", "false", "f", "no", "n", "off"}:
        return False
    raise _fail("telemetry_consent", value, "answer yes or no (or true or false)", "no")


# One rule per question, in the order cookiecutter asks them.
RULES: dict[str, Callable[[Any], object]] = {
    "project_name": lambda value: check_project_name(str(value)),
    "repo_name": lambda value: check_repo_name(str(value)),
    "python_package": lambda value: check_python_package(str(value)),
    "kedro_version": lambda value: check_kedro_version(str(value)),
    "telemetry_consent": as_bool,
    "work_pool_name": lambda value: check_prefect_name("work_pool_name", str(value), "sales-forecast-pool"),
    "work_queue_name": lambda value: check_prefect_name("work_queue_name", str(value), "default"),
}


class AnswerRefused(SystemExit):
    """Ends a copier run that cannot ask again, printing only the message.

    copier turns anything a validator raises into a ValueError with a traceback; SystemExit is
    the one exception it lets through, and Python prints its message as one line, exit status 1.
    """


def check_answers(answers: Mapping[str, Any]) -> str:
    """Raise ``InvalidAnswer`` for the first unusable answer; return '' so it can sit in a template."""
    try:
        for field, rule in RULES.items():
            rule(answers[field])
    except InvalidAnswer as error:
        if "kedro.framework.cli.starters" in sys.modules:
            # `kedro new` (Kedro 1.7) replaces any cookiecutter error with its own generic one
            # and then prints "NoneType: None": say what is wrong here, once.
            print(error, file=sys.stderr)
        elif "cruft" in sys.modules:
            # cruft lets cookiecutter's errors through to its command line, which prints each as a
            # traceback: the line alone, and status 1.
            print(error, file=sys.stderr)
            raise SystemExit(1) from None
        raise
    return ""


def answer_error(field: str, value: Any) -> str:
    """copier's validator: '' when the answer is fine, else the same message cookiecutter gives.

    At a terminal copier shows the message and asks again. Without one (``--defaults``,
    ``--data`` in scripts and CI) it cannot ask again, so the run ends with the message alone.
    """
    try:
        RULES[field](value)
    except InvalidAnswer as error:
        if not sys.stdin or not sys.stdin.isatty():
            raise AnswerRefused(str(error)) from None
        return str(error)
    return ""


def slugify(text: str, separator: str = "-") -> str:
    """cookiecutter's ``slugify`` filter, for copier, which has none.

    The same library when it is installed (cookiecutter depends on it); otherwise accents are
    folded to ASCII, which gives the same result for names in Latin scripts.
    """
    try:
        from slugify import slugify as python_slugify
    except ImportError:
        ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
        return re.sub(r"[^a-z0-9]+", separator, ascii_text.lower()).strip(separator)
    return python_slugify(text, separator=separator)


class AnswerChecks(Extension):
    """Jinja extension giving templates the answer rules, ``template_root`` and ``as_bool``.

    Loaded by cookiecutter (``_extensions`` in cookiecutter.json) and by copier (copier.yml).
    """

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        environment.globals["check_answers"] = check_answers
        environment.globals["answer_error"] = answer_error
        # cookiecutter brings its own slugify filter; copier has none.
        environment.filters.setdefault("slugify", slugify)
        # cookiecutter's own `_repo_dir` is relative when the template is given as `.`, and hooks
        # run from the new project's folder; the hooks need the template's absolute path.
        environment.globals["template_root"] = str(TEMPLATE_ROOT)
        environment.filters["as_bool"] = as_bool
