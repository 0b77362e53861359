"""Tests of the kedro-prefect distribution, run against the *installed* package (``make test-layer``
in the template repository builds the wheel and installs it first): no bake, no server."""

from __future__ import annotations

from pathlib import Path

import pytest

PREFECT_YML = """\
execution:
  max_workers: 4
  task_defaults:
    retries: 0
    retry_delay_seconds: 5
deployments:
  - name: default
    pipeline: __default__
  - name: daily-reports
    pipeline: reporting
    schedule:
      cron: "0 6 * * *"
      timezone: UTC
"""


@pytest.fixture
def kedro_project(tmp_path: Path) -> Path:
    """A minimal Kedro project folder: pyproject.toml and a conf/base/prefect.yml with two deployments."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.kedro]\npackage_name = "toy_project"\nproject_name = "Toy Project"\nkedro_init_version = "1.7.0"\n'
    )
    (tmp_path / "conf" / "base").mkdir(parents=True)
    (tmp_path / "conf" / "local").mkdir()
    (tmp_path / "conf" / "base" / "prefect.yml").write_text(PREFECT_YML)
    return tmp_path
