"""Where a run saved its persisted datasets: for the run summary, and ``make run``'s last line.

``DataCatalog.to_config()`` gives each persisted dataset's configuration as the run resolved it
(dataset factories included; in-memory datasets have none). Its ``filepath`` (or ``path``) is the
location: shown relative to the project when it lies inside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol


def dataset_locations(catalog: CatalogProtocol, names: Iterable[str], project_path: Path) -> dict[str, str]:
    """The location of each named dataset that has one."""
    try:
        # DataCatalog's: Kedro's CatalogProtocol does not declare it.
        configs = catalog.to_config()[0]  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a dataset built from objects cannot be described: no locations
        return {}
    locations = {}
    for name in names:
        config = configs.get(name) or {}
        location = config.get("filepath") or config.get("path")
        if isinstance(location, str | Path):
            locations[name] = _shown(str(location), project_path)
    return locations


def _shown(location: str, project_path: Path) -> str:
    try:
        return Path(location).relative_to(project_path).as_posix()
    except ValueError:
        return location
