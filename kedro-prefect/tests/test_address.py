"""Where the project's server is: its API URL, and the profile `make server` remembers it in."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from kedro_prefect.operations.address import (
    PROFILE_NAME,
    ServerAddress,
    remember,
    remembered_api_url,
    server_address,
)


@pytest.fixture
def prefect_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project's `.prefect/` state folder, as `enter_project_environment` names it."""
    home = tmp_path / ".prefect"
    monkeypatch.setenv("PREFECT_HOME", str(home))
    return home


def read_profiles(home: Path) -> dict:
    return tomllib.loads((home / "profiles.toml").read_text(encoding="utf-8"))


def test_api_url_puts_an_ipv6_host_in_brackets():
    assert ServerAddress("127.0.0.1", 4200).api_url == "http://127.0.0.1:4200/api"
    assert ServerAddress("::1", 4300).api_url == "http://[::1]:4300/api"


@pytest.mark.parametrize("address", [ServerAddress("127.0.0.1", 4200), ServerAddress("::1", 4300)])
def test_an_api_url_reads_back_as_the_address_it_was_made_from(address: ServerAddress):
    assert ServerAddress.from_api_url(address.api_url) == address


@pytest.mark.parametrize(
    "url",
    [
        "https://prefect.example.com:443/api",  # not a server this project starts
        "http://localhost/api",  # no port
        "http://localhost:notaport/api",
        "http://localhost:99999/api",  # port out of range
        "http://:4200/api",  # no host
        "not a url",
        "",
    ],
)
def test_anything_but_an_http_host_and_port_url_has_no_address(url: str):
    assert ServerAddress.from_api_url(url) is None


def test_without_a_profile_the_server_starts_at_the_default_address(prefect_home: Path):
    assert server_address(None, None) == ServerAddress("127.0.0.1", 4200)
    assert remembered_api_url() is None


def test_a_remembered_address_is_reused_and_a_given_host_or_port_wins_over_it(prefect_home: Path):
    remember(ServerAddress("0.0.0.0", 4395))
    assert server_address(None, None) == ServerAddress("0.0.0.0", 4395)
    assert server_address(None, 4500) == ServerAddress("0.0.0.0", 4500)
    assert server_address("127.0.0.2", None) == ServerAddress("127.0.0.2", 4395)
    assert server_address("127.0.0.2", 4500) == ServerAddress("127.0.0.2", 4500)


def test_remember_makes_the_projects_profile_active_and_reads_back(prefect_home: Path):
    remember(ServerAddress("127.0.0.1", 4395))
    profiles = read_profiles(prefect_home)
    assert profiles["active"] == PROFILE_NAME
    assert profiles["profiles"] == {PROFILE_NAME: {"PREFECT_API_URL": "http://127.0.0.1:4395/api"}}
    assert remembered_api_url() == "http://127.0.0.1:4395/api"
    assert not (prefect_home / "profiles.toml.tmp").exists()


def test_remember_keeps_other_profiles_and_the_projects_other_settings(prefect_home: Path):
    """A user's own profiles, and settings they added to the project's one, survive a new port."""
    prefect_home.mkdir()
    (prefect_home / "profiles.toml").write_text(
        'active = "mine"\n\n'
        '[profiles.mine]\nPREFECT_API_URL = "https://cloud.example/api"\n\n'
        '[profiles."dotted.name"]\nPREFECT_LOGGING_LEVEL = "DEBUG"\n\n'
        f'[profiles.{PROFILE_NAME}]\nPREFECT_API_URL = "http://127.0.0.1:4200/api"\nPREFECT_LOGGING_LEVEL = "INFO"\n'
    )
    remember(ServerAddress("127.0.0.1", 4395))
    profiles = read_profiles(prefect_home)
    assert profiles["active"] == PROFILE_NAME
    assert profiles["profiles"] == {
        "mine": {"PREFECT_API_URL": "https://cloud.example/api"},
        "dotted.name": {"PREFECT_LOGGING_LEVEL": "DEBUG"},
        PROFILE_NAME: {"PREFECT_API_URL": "http://127.0.0.1:4395/api", "PREFECT_LOGGING_LEVEL": "INFO"},
    }


def test_an_unreadable_profiles_file_is_replaced_by_the_projects_profile(prefect_home: Path):
    """Prefect itself would refuse the broken file, so nothing of it is worth keeping."""
    prefect_home.mkdir()
    (prefect_home / "profiles.toml").write_text("[profiles.mine\nnot toml")
    assert remembered_api_url() is None
    remember(ServerAddress("127.0.0.1", 4395))
    assert read_profiles(prefect_home)["profiles"] == {PROFILE_NAME: {"PREFECT_API_URL": "http://127.0.0.1:4395/api"}}


def test_a_remembered_url_that_is_not_a_local_server_falls_back_to_the_defaults(prefect_home: Path):
    prefect_home.mkdir()
    (prefect_home / "profiles.toml").write_text(
        f'[profiles.{PROFILE_NAME}]\nPREFECT_API_URL = "https://cloud.example/api"\n'
    )
    assert remembered_api_url() == "https://cloud.example/api"
    assert server_address(None, None) == ServerAddress("127.0.0.1", 4200)
