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


def configured_locations(catalog: CatalogProtocol, names: Iterable[str]) -> dict[str, str]:
    """The ``filepath`` (or ``path``) of each named dataset that has one, as its configuration says."""
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
            locations[name] = str(location)
    return locations


def written_locations(catalog: CatalogProtocol, names: Iterable[str]) -> dict[str, str]:
    """Where this run wrote each named persisted dataset: a versioned one's configured location is
    the folder of all its versions, and Kedro writes ``<filepath>/<save version>/<file name>``."""
    locations = configured_locations(catalog, names)
    try:
        configs, _, _, save_version = catalog.to_config()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - as in configured_locations
        return locations
    for name, location in locations.items():
        if (configs.get(name) or {}).get("versioned") and save_version:
            locations[name] = f"{location.rstrip('/')}/{save_version}/{location.rstrip('/').rsplit('/', 1)[-1]}"
    return locations


def location_uri(location: str, project_path: Path) -> str:
    """``s3://bucket/key`` as it is; a local path as ``file:///...``, resolved against the project."""
    if "://" in location:
        return location
    path = Path(location)
    return (path if path.is_absolute() else project_path / path).resolve().as_uri()


def shown_location(location: str, project_path: Path) -> str:
    """Relative to the project when inside it."""
    try:
        return Path(location).relative_to(project_path).as_posix()
    except ValueError:
        return location
