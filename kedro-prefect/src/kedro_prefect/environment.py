"""The environment every command of the project runs in, set before Prefect is imported.

Prefect reads its settings once, when it is first imported, and Kedro and Prefect decide whether to
send usage data from environment variables. So ``kedro prefect ...``, ``make`` targets and
``register_prefect_flow.py`` enter this environment first: the project's own state folder
(``.prefect/``: the server's database, the profile that remembers the server's address, PID files
and logs), and no usage data when the project's telemetry answer was no. Variables the user set
win over every value here.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import yaml

STATE_FOLDER = ".prefect"
"""The project's Prefect home, beside its code; gitignored."""


def telemetry_consent(project_path: Path) -> bool:
    """The answer in the project's ``.telemetry`` file; anything but ``consent: true`` is no."""
    try:
        answer = yaml.safe_load((project_path / ".telemetry").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(answer, dict) and answer.get("consent") is True


def no_tracking_environment(project_path: Path) -> dict[str, str]:
    """What keeps Kedro and Prefect from collecting usage data, unless the project consented.

    ``DO_NOT_TRACK`` is the variable both honour (Prefect's client-side telemetry reads nothing
    else); Kedro's own switch is set too, for older kedro-telemetry releases.
    """
    if telemetry_consent(project_path):
        return {}
    return {"DO_NOT_TRACK": "1", "KEDRO_DISABLE_TELEMETRY": "true"}


def project_environment(project_path: Path) -> dict[str, str]:
    """The variables the project's commands run with, unless already set."""
    return {
        "PREFECT_HOME": str(project_path / STATE_FOLDER),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        **no_tracking_environment(project_path),
    }


def enter_project_environment(project_path: Path) -> None:
    """Set the project's variables in this process (and so in every process it starts), quietly."""
    for name, value in project_environment(project_path).items():
        os.environ.setdefault(name, value)
    if not telemetry_consent(project_path):
        mark_usage_notice_shown(Path(os.environ["PREFECT_HOME"]))
    silence_library_noise()


def mark_usage_notice_shown(home: Path) -> None:
    """Keep plain ``prefect`` commands in the project from announcing usage data it will not send.

    Prefect prints its notice once per home in a terminal, whatever the server says; with the
    project's "no", the project's server has analytics off (prefect.toml), and Prefect's client
    sends nothing to a server that does. Its marker file says the notice was shown.
    """
    marker = home / ".sdk_telemetry" / "notice_shown"
    if not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()


LIBRARY_WARNINGS = (("register_new_resolver", UserWarning),)
"""Warnings that say nothing a user can act on: Kedro 1.7's config loader calls an OmegaConf API
that OmegaConf has deprecated, five times a run."""


class _LoggingConfigNotice(logging.Filter):
    """Kedro announces which logging configuration it applied each time it is imported."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Using '"))


def silence_library_noise() -> None:
    """Hide, in this process, the libraries' notices that are not the user's concern.

    Called before Kedro is imported: by the commands, and by a flow run's pull step.
    """
    for message, category in LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    notices = logging.getLogger("kedro.framework.project")
    if not any(isinstance(existing, _LoggingConfigNotice) for existing in notices.filters):
        notices.addFilter(_LoggingConfigNotice())


def state_dir() -> Path:
    """The project's Prefect home (``PREFECT_HOME``), created when missing."""
    path = Path(os.environ.get("PREFECT_HOME") or STATE_FOLDER)
    path.mkdir(parents=True, exist_ok=True)
    return path
