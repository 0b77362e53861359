"""Where the project's Prefect server is, remembered in the project's Prefect profile.

``make server`` and ``make up`` are the only commands that are told a port; they write the server's
address to the profile ``kedro-prefect`` in ``.prefect/profiles.toml`` and make it the active one.
Prefect reads that profile in every later command run in the project: ``make agent``, ``make
deploy``, ``make run``, ``kedro prefect ...``, ``register_prefect_flow.py``, and a plain
``prefect ...`` (the project's ``prefect.toml`` points Prefect there). A profile that names the
server also keeps ``prefect server start`` from asking which profile to use when it runs in a
terminal. Only the address is written: credentials stay in the environment.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..environment import state_dir

PROFILE_NAME = "kedro-prefect"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4200


@dataclass(frozen=True)
class ServerAddress:
    host: str
    port: int

    @property
    def api_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/api"

    @classmethod
    def from_api_url(cls, url: str) -> ServerAddress | None:
        """The address of an ``http://HOST:PORT/api`` URL; None for anything else."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return None
        if parts.scheme != "http" or not parts.hostname or port is None:
            return None
        return cls(parts.hostname, port)


def profiles_file() -> Path:
    return state_dir() / "profiles.toml"


def _read_profiles(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError):
        return {}  # unreadable: rewritten with only this profile, as Prefect would refuse it anyway


def remembered_api_url() -> str | None:
    """The API URL ``make server`` or ``make up`` last started the project's server at."""
    profile = _read_profiles(profiles_file()).get("profiles", {}).get(PROFILE_NAME, {})
    url = profile.get("PREFECT_API_URL")
    return url if isinstance(url, str) else None


def remembered_address() -> ServerAddress | None:
    url = remembered_api_url()
    return ServerAddress.from_api_url(url) if url else None


def server_address(host: str | None, port: int | None) -> ServerAddress:
    """The address a server starts at: what was given, else what was remembered, else 127.0.0.1:4200."""
    remembered = remembered_address()
    return ServerAddress(
        host or (remembered.host if remembered else DEFAULT_HOST),
        port or (remembered.port if remembered else DEFAULT_PORT),
    )


def remember(address: ServerAddress) -> None:
    """Make the project's profile, holding this address, the active profile; keep any other profile."""
    path = profiles_file()
    data = _read_profiles(path)
    profiles = {name: dict(values) for name, values in data.get("profiles", {}).items() if isinstance(values, dict)}
    profiles[PROFILE_NAME] = {**profiles.get(PROFILE_NAME, {}), "PREFECT_API_URL": address.api_url}
    lines = [
        "# Written by `make server` and `make up` (kedro_prefect.operations.address): the project's",
        "# Prefect server. Prefect reads it in every command run in the project.",
        f"active = {json.dumps(PROFILE_NAME)}",
    ]
    for name, values in profiles.items():
        lines += ["", f"[profiles.{json.dumps(name)}]"]
        lines += [f"{key} = {json.dumps(str(value))}" for key, value in values.items()]
    temporary = path.with_suffix(".toml.tmp")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    temporary.replace(path)
