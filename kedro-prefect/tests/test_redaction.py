"""Logs without secrets: every form of the environment's secrets is masked in `.prefect/*.log`."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kedro_prefect.operations.redaction import redact, secrets

AUTH = "admin:s3cr3t/pw"
BASIC = base64.b64encode(AUTH.encode()).decode()


def masked(env: dict[str, str]) -> list[bytes]:
    return [secret.encode() for secret in secrets(env)]


@pytest.mark.parametrize("variable", ["PREFECT_API_AUTH_STRING", "PREFECT_SERVER_API_AUTH_STRING"])
def test_an_auth_string_is_masked_whole_as_basic_auth_and_its_password_plain_and_url_quoted(variable: str):
    assert set(secrets({variable: AUTH})) == {AUTH, BASIC, "s3cr3t/pw", "s3cr3t%2Fpw"}


def test_the_database_urls_password_is_masked_as_written_and_decoded():
    """A URL holds its password percent-encoded; a library may print either form."""
    env = {"PREFECT_SERVER_DATABASE_CONNECTION_URL": "postgresql+asyncpg://prefect:p%40ss%2fword@db:5432/prefect"}
    found = set(secrets(env))
    assert {"p%40ss%2fword", "p@ss/word", "p%40ss%2Fword"} <= found
    assert "prefect" not in found  # the user name is no secret


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"PREFECT_API_AUTH_STRING": ""},
        {"PREFECT_SERVER_DATABASE_CONNECTION_URL": "sqlite+aiosqlite:///.prefect/prefect.db"},
        {"PREFECT_SERVER_DATABASE_CONNECTION_URL": "postgresql://u:pw@[bad/db"},  # unparsable: ignored
    ],
)
def test_an_environment_without_secrets_masks_nothing(env: dict[str, str]):
    assert secrets(env) == []


def test_a_short_password_is_masked_only_within_its_whole_secret():
    """Masking every `abc` in a log would hide more than secrets."""
    found = secrets({"PREFECT_API_AUTH_STRING": "admin:abc"})
    assert set(found) == {"admin:abc", base64.b64encode(b"admin:abc").decode()}
    assert redact(b"abc admin:abc", [secret.encode() for secret in found]) == b"abc ***"


def test_secrets_come_longest_first_so_a_whole_secret_is_masked_before_its_password():
    found = secrets({"PREFECT_API_AUTH_STRING": AUTH})
    assert [len(secret) for secret in found] == sorted((len(secret) for secret in found), reverse=True)
    assert redact(f"auth={AUTH}".encode(), masked({"PREFECT_API_AUTH_STRING": AUTH})) == b"auth=***"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"input: '{AUTH}'\n", b"input: '***'\n"),
        (f"Authorization: Basic {BASIC}\n", b"Authorization: Basic ***\n"),
        ("password=s3cr3t/pw\n", b"password=***\n"),
        ("url=http://admin:s3cr3t%2Fpw@host/api\n", b"url=http://admin:***@host/api\n"),
        ("nothing secret here\n", b"nothing secret here\n"),
    ],
)
def test_redact_masks_each_form_of_the_secret(line: str, expected: bytes):
    assert redact(line.encode(), masked({"PREFECT_API_AUTH_STRING": AUTH})) == expected


def run_redaction(log: Path, *command: str) -> subprocess.CompletedProcess:
    env = os.environ | {
        "PREFECT_API_AUTH_STRING": AUTH,
    }
    return subprocess.run(
        [sys.executable, "-m", "kedro_prefect.operations.redaction", str(log), *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_entry_point_writes_the_commands_output_masked_and_exits_with_its_code(tmp_path: Path):
    log = tmp_path / "server.log"
    log.write_text("earlier run\n")
    child = (
        "import os, sys; secret = os.environ['PREFECT_API_AUTH_STRING']; "
        "print('auth', secret, flush=True); print('to stderr', secret, file=sys.stderr); sys.exit(3)"
    )
    result = run_redaction(log, "--", sys.executable, "-c", child)
    assert result.returncode == 3
    assert log.read_text() == "earlier run\nauth ***\nto stderr ***\n"  # appended, stderr included
    assert AUTH not in result.stdout + result.stderr


def test_the_entry_point_without_a_separator_prints_its_usage(tmp_path: Path):
    result = run_redaction(tmp_path / "server.log", sys.executable, "-c", "pass")
    assert result.returncode == 2
    assert "usage: python -m kedro_prefect.operations.redaction LOG -- COMMAND..." in result.stderr
    assert not (tmp_path / "server.log").exists()
