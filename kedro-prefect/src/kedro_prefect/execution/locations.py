"""Where a run saved its persisted datasets: for the run summary, and ``make run``'s last line.

``DataCatalog.to_config()`` gives each persisted dataset's configuration as the run resolved it
(dataset factories included; in-memory datasets have none). Its ``filepath`` (or ``path``) is the
location: shown relative to the project when it lies inside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol


def _described(catalog: CatalogProtocol) -> tuple[dict[str, Any], str | None]:
    """Each persisted dataset's configuration, and the run's save version."""
    try:
        # DataCatalog's: Kedro's CatalogProtocol does not declare it.
        configs, _, _, save_version = catalog.to_config()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a dataset built from objects cannot be described: no locations
        return {}, None
    return configs, save_version


def _locations(configs: dict[str, Any], names: Iterable[str]) -> dict[str, str]:
    locations = {}
    for name in names:
        config = configs.get(name) or {}
        location = config.get("filepath") or config.get("path")
        if isinstance(location, str | Path):
            locations[name] = str(location)
    return locations


def configured_locations(catalog: CatalogProtocol, names: Iterable[str]) -> dict[str, str]:
    """The ``filepath`` (or ``path``) of each named dataset that has one, as its configuration says."""
    return _locations(_described(catalog)[0], names)


def written_locations(catalog: CatalogProtocol, names: Iterable[str]) -> dict[str, str]:
    """Where this run wrote each named persisted dataset: a versioned one's configured location is
    the folder of all its versions, and Kedro writes ``<filepath>/<save version>/<file name>``."""
    configs, save_version = _described(catalog)
    locations = _locations(configs, names)
    for name, location in locations.items():
        if configs[name].get("versioned") and save_version:
            folder = location.rstrip("/")
            locations[name] = f"{folder}/{save_version}/{folder.rsplit('/', 1)[-1]}"
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
