"""Registers the ``deploy`` marker of a project's deploy test (``make test-deploy``) with pytest.

Loaded through the ``pytest11`` entry point wherever kedro-prefect is installed, so a project that
``kedro prefect init`` set up needs no pytest configuration of its own for the marker.
"""

from __future__ import annotations

from typing import Any


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", "deploy: deploys this project to a real Prefect server and runs it (make test-deploy)"
    )
