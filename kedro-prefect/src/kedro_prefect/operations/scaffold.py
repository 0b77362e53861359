"""``kedro prefect init``: what a Kedro project needs to deploy with kedro-prefect, written into it.

The files are the ones the kedro-prefect-starter template ships (``project_files/``, tested equal
to the template's), plus a ``prefect.yml`` with one deployment per pipeline the project registers.
Everything is planned before anything is written: a file that exists and differs from ours, or a
Makefile whose targets or variables clash with ours, stops the command in one line with nothing
written, unless ``--force``. What a user wrote is never replaced silently: an existing Makefile
gains one ``include`` line, ``pyproject.toml``, ``requirements.txt`` and ``.gitignore`` gain lines.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Literal

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import Version

from .. import __version__
from ..config import parse_prefect_config
from ..errors import KedroPrefectError
from ..project import NAME_PATTERN, KedroProject, slug

PROJECT_FILES = files("kedro_prefect") / "project_files"
INCLUDED_MAKEFILE = "kedro-prefect.mk"
INCLUDE_BLOCK = f"\n# kedro-prefect's targets (written by `kedro prefect init`; `make help` lists them).\ninclude {INCLUDED_MAKEFILE}\n"
DEV_REQUIREMENTS = ("pytest>=8,<10", "ruff>=0.12,<1", "uv>=0.9,<1")
"""What ``make install`` adds for ``make test``, ``make lint`` and ``make image`` (the template's dev extra)."""
IGNORED = (".prefect/", ".venv/")
"""The local server's database, logs and PID files; the venv ``make install`` makes."""

Action = Literal["create", "overwrite", "update", "unchanged"]


class InitRefused(KedroPrefectError):
    """``kedro prefect init`` would replace something the user wrote; nothing was written."""


def layer_requirement(version: str = __version__) -> str:
    """The range a project pins: this release and later ones of the same minor version (0.x) or major."""
    release = Version(version).release
    upper = f"0.{release[1] + 1}" if release[0] == 0 else f"{release[0] + 1}"
    return f"kedro-prefect>={version},<{upper}"


def project_file(name: str) -> str:
    return PROJECT_FILES.joinpath(name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Change:
    """One file as ``init`` leaves it."""

    path: str
    """Relative to the project, with ``/``."""
    action: Action
    text: str = ""
    detail: str = ""


def deployment_names(pipelines: Iterable[str]) -> dict[str, str]:
    """Pipeline -> deployment name: ``__default__`` is ``default``, the others keep their names
    (made URL-safe when they are not), so ``make run`` runs the whole project."""
    names: dict[str, str] = {}
    ordered = sorted(pipelines, key=lambda name: (name != "__default__", name))
    for pipeline in ordered:
        name = "default" if pipeline == "__default__" else pipeline
        if not re.match(NAME_PATTERN, name):
            name = slug(name)
        while name in names.values():
            name += "-pipeline"
        names[pipeline] = name
    return names


def prefect_yml(pipelines: Iterable[str]) -> str:
    """conf/base/prefect.yml: the execution defaults, then one deployment per pipeline."""
    entries = [
        {"name": name, "pipeline": pipeline, "description": f"Kedro pipeline {pipeline}."}
        for pipeline, name in deployment_names(pipelines).items()
    ]
    text = project_file("prefect.yml") + "\n" + yaml.safe_dump({"deployments": entries}, sort_keys=False)
    parse_prefect_config(yaml.safe_load(text), source="the prefect.yml kedro prefect init writes")  # a bug if not
    return text


_RULE = re.compile(r"^([^\s#:=$][^:=#\n]*?)\s*::?(?!=)", re.M)
_VARIABLE = re.compile(r"^(?:(?:export|override)\s+)*([A-Za-z_][A-Za-z0-9_.-]*)\s*(?::{1,3}|\?|\+|!)?=", re.M)
_DEFINE = re.compile(r"^define\s+([A-Za-z_][A-Za-z0-9_.-]*)", re.M)


def makefile_names(text: str) -> set[str]:
    """The targets and variables a Makefile defines (special targets such as ``.PHONY`` left out)."""
    targets = {name for match in _RULE.finditer(text) for name in match[1].split()}
    variables = {*_VARIABLE.findall(text), *_DEFINE.findall(text)}
    return {name for name in targets | variables if not name.startswith(".") and "%" not in name}


def with_listed(text: str, key: str, values: list[str]) -> str | None:
    """``text`` (TOML) with ``values`` appended to the multi-line array ``key = [`` of its first
    table that has one, keeping every other byte; None when the layout is not that simple."""
    lines = text.splitlines(keepends=True)
    opening = next((i for i, line in enumerate(lines) if re.match(rf"{re.escape(key)}\s*=\s*\[\s*(#.*)?$", line)), None)
    if opening is None:
        return None
    closing = next((i for i in range(opening + 1, len(lines)) if lines[i].strip() == "]"), None)
    if closing is None:
        return None
    last = next((i for i in range(closing - 1, opening, -1) if lines[i].split("#")[0].strip()), None)
    if last is not None and not lines[last].split("#")[0].rstrip().endswith(","):
        code, hash_sign, comment = lines[last].partition("#")
        lines[last] = code.rstrip() + "," + (f"  #{comment}" if hash_sign else "\n")
    added = "".join(f'    "{value}",\n' for value in values)
    return "".join(lines[:closing]) + added + "".join(lines[closing:])


def _names(requirements: Iterable[str]) -> set[str]:
    names = set()
    for requirement in requirements:
        try:
            names.add(Requirement(requirement).name.lower().replace("_", "-"))
        except InvalidRequirement:
            continue
    return names


def pyproject_with_layer(text: str, requirement: str) -> tuple[str, list[str], list[str]]:
    """pyproject.toml with kedro-prefect in ``[project] dependencies`` and a ``dev`` extra for the
    Makefile's tools when it has none; also what was added, and what could not be (said, not failed)."""
    added: list[str] = []
    skipped: list[str] = []
    project = tomllib.loads(text).get("project", {})
    if "kedro-prefect" not in _names(project.get("dependencies", [])):
        edited = with_listed(text, "dependencies", [requirement])
        if edited is None or requirement not in tomllib.loads(edited)["project"].get("dependencies", []):
            skipped.append(f'add "{requirement}" to [project] dependencies')
        else:
            text = edited
            added.append(f"depends on {requirement}")
    extras = project.get("optional-dependencies", {})
    if "dev" not in extras:
        dev = "dev = [" + ", ".join(f'"{value}"' for value in DEV_REQUIREMENTS) + "]\n"
        header = re.search(r"^\[project\.optional-dependencies\][^\n]*\n", text, re.M)
        if header:
            edited = text[: header.end()] + dev + text[header.end() :]
        elif extras:  # written as an inline table or dotted keys: not ours to reshape
            edited = None
        else:
            edited = text.rstrip("\n") + "\n\n[project.optional-dependencies]\n" + dev
        if edited is None or "dev" not in tomllib.loads(edited).get("project", {}).get("optional-dependencies", {}):
            skipped.append(f"add a dev extra with {', '.join(DEV_REQUIREMENTS)}")
        else:
            text = edited
            added.append("dev extra: pytest, ruff, uv")
    return text, added, skipped


@dataclass
class InitPlan:
    """Every change ``init`` would make, and what stops it."""

    root: Path
    force: bool
    changes: list[Change] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    """Files that exist and differ, which only ``--force`` replaces."""
    clashes: set[str] = field(default_factory=set)
    """Makefile names the user's Makefile and ours both define."""

    def current(self, relative: str) -> str | None:
        path = self.root / relative
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def ours(self, relative: str, text: str, detail: str = "") -> None:
        """A file kedro-prefect provides whole."""
        current = self.current(relative)
        if current is None:
            self.changes.append(Change(relative, "create", text, detail))
        elif current == text:
            self.changes.append(Change(relative, "unchanged", detail=detail))
        elif self.force:
            self.changes.append(Change(relative, "overwrite", text, detail))
        else:
            self.replaced.append(relative)

    def edit(self, relative: str, edit: Callable[[str], tuple[str, str]]) -> None:
        """A file the user owns, which gains lines: ``edit`` returns the new text and what it added."""
        current = self.current(relative)
        if current is None:
            return
        text, detail = edit(current)
        if text == current:
            self.changes.append(Change(relative, "unchanged", detail=detail))  # a detail says what could not be done
        else:
            self.changes.append(Change(relative, "update", text, detail))

    def makefile(self) -> None:
        ours = project_file("Makefile")
        current = self.current("Makefile")
        included = current is not None and re.search(rf"^-?include\s+{re.escape(INCLUDED_MAKEFILE)}\s*$", current, re.M)
        if current is None or current == ours:
            self.ours("Makefile", ours)
            return
        if included:
            self.ours(INCLUDED_MAKEFILE, ours, "included by Makefile")
            return
        clashes = makefile_names(current) & makefile_names(ours)
        if clashes and not self.force:
            self.clashes = clashes
        elif clashes:
            self.changes.append(Change("Makefile", "overwrite", ours))
        else:
            self.ours(INCLUDED_MAKEFILE, ours)
            self.changes.append(
                Change(
                    "Makefile", "update", current.rstrip("\n") + "\n" + INCLUDE_BLOCK, f"includes {INCLUDED_MAKEFILE}"
                )
            )

    def refusal(self) -> str | None:
        """One line for everything that stops ``init``, or None."""
        problems, fixes = [], []
        if self.replaced:
            verbs = "exists and differs" if len(self.replaced) == 1 else "exist and differ"
            problems.append(f"{', '.join(self.replaced)} already {verbs} from kedro-prefect's")
            fixes.append("keep yours")
        if self.clashes:
            problems.append(
                f"your Makefile defines {', '.join(sorted(self.clashes))}, as kedro-prefect's Makefile does"
            )
            fixes.append("rename those in your Makefile")
        if not problems:
            return None
        return (
            f"{'; '.join(problems)}. Nothing was written: {' and '.join(fixes)}, or run `kedro prefect init --force` "
            "to replace them with kedro-prefect's."
        )


def plan_init(root: Path, pipelines: list[str], conf_source: str = "conf", force: bool = False) -> InitPlan:
    """What ``init`` would write into the project at ``root`` whose pipelines with nodes are ``pipelines``."""
    if not pipelines:
        raise InitRefused(
            "No registered pipeline has nodes yet, so there is nothing to deploy. Create one "
            "(kedro pipeline create <name>, then add nodes), then run kedro prefect init again."
        )
    names = deployment_names(pipelines)
    plan = InitPlan(root, force)
    plan.ours(f"{conf_source}/base/prefect.yml", prefect_yml(pipelines), f"deployments: {', '.join(names.values())}")
    plan.ours("register_prefect_flow.py", project_file("register_prefect_flow.py"))
    plan.ours("prefect.toml", project_file("prefect.toml"), "Prefect's state stays in .prefect/")
    plan.ours("tests/test_deploy.py", project_file("test_deploy.py"), "make test-deploy")
    plan.makefile()
    requirement = layer_requirement()

    def pyproject(text: str) -> tuple[str, str]:
        edited, added, skipped = pyproject_with_layer(text, requirement)
        undone = [f"could not {what}: do it by hand" for what in skipped]
        return edited, "; ".join(added + undone)

    def requirements(text: str) -> tuple[str, str]:
        lines = [line.split("#")[0].strip() for line in text.splitlines()]
        if "kedro-prefect" in _names(line for line in lines if line and not line.startswith("-")):
            return text, ""
        return text.rstrip("\n") + f"\n{requirement}\n", f"adds {requirement}"

    def gitignore(text: str) -> tuple[str, str]:
        present = {line.strip().strip("/") for line in text.splitlines()}
        missing = [entry for entry in IGNORED if entry.strip("/") not in present]
        if not missing:
            return text, ""
        block = "\n# kedro-prefect: the local Prefect server's database, logs and PID files; make install's venv\n"
        return text.rstrip("\n") + "\n" + block + "".join(
            f"{entry}\n" for entry in missing
        ), f"ignores {', '.join(missing)}"

    plan.edit("pyproject.toml", pyproject)
    plan.edit("requirements.txt", requirements)
    if plan.current(".gitignore") is None:
        plan.ours(".gitignore", "".join(f"{entry}\n" for entry in IGNORED))
    else:
        plan.edit(".gitignore", gitignore)
    if plan.current(".telemetry") is None:
        plan.ours(".telemetry", "consent: false\n", "Kedro never asks about usage data")
    return plan


def init_project(project: KedroProject, force: bool = False) -> list[Change]:
    """``kedro prefect init`` in ``project``: its pipelines with nodes found through Kedro's registry."""
    import sys

    from kedro.framework.project import settings

    from ..execution.selection import registered_pipelines
    from ..project import configure_kedro

    source = str(project.path / project.source_dir)
    if source not in sys.path:  # as bootstrap_project does: the package need not be installed yet
        sys.path.insert(0, source)
    configure_kedro(project.package_name)
    pipelines = [name for name, pipeline in registered_pipelines().items() if pipeline.nodes]
    return write_plan(plan_init(project.path, pipelines, str(settings.CONF_SOURCE), force))


def write_plan(plan: InitPlan) -> list[Change]:
    """Refuse in one line with nothing written, or write every change (each file whole, by rename)."""
    refusal = plan.refusal()
    if refusal:
        raise InitRefused(refusal)
    for change in plan.changes:
        if change.action in ("create", "overwrite", "update"):
            path = plan.root / change.path
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.kedro-prefect-init")
            partial.write_text(change.text, encoding="utf-8")
            os.replace(partial, path)
    return plan.changes
