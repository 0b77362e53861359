"""Logs without secrets: ``python -m kedro_prefect.operations.redaction LOG -- COMMAND...``.

``make up`` writes the server's and the worker's output to ``.prefect/server.log`` and
``.prefect/worker.log``. Prefect's server printed the basic-auth secret there in plain text (an
events websocket that sent its auth message twice got a validation error showing its input, as a
client reconnecting may), and any library may print a database URL with its password. So those
processes write to a pipe, and this process copies it to the log with every secret the
environment holds replaced by ``***``: the auth strings, their passwords and Basic-auth forms, and
the password of the server's database URL.

It runs the command as its child in its own process group: signals sent to the group reach the
command, and this process, which ignores them, writes until the command's output ends, then exits
with the command's exit code.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

AUTH_VARIABLES = ("PREFECT_SERVER_API_AUTH_STRING", "PREFECT_API_AUTH_STRING")
DATABASE_VARIABLE = "PREFECT_SERVER_DATABASE_CONNECTION_URL"
MASK = b"***"
SHORTEST_PASSWORD = 4
"""A password part shorter than this is masked only as part of its whole secret (masking every
``ab`` in a log would hide more than secrets)."""


def secrets(env: Mapping[str, str]) -> list[str]:
    """Every form in which the environment's secrets could be printed, longest first."""
    found: set[str] = set()
    for name in AUTH_VARIABLES:
        secret = env.get(name)
        if secret:
            found |= {secret, base64.b64encode(secret.encode()).decode()}
            found |= _password_forms(secret.partition(":")[2])
    url = env.get(DATABASE_VARIABLE)
    if url:
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        # A URL holds its password percent-encoded (`p%40ss`): the password itself is `p@ss`.
        found |= _password_forms(password or "") | _password_forms(unquote(password or ""))
    return sorted(found, key=len, reverse=True)


def _password_forms(password: str) -> set[str]:
    if len(password) < SHORTEST_PASSWORD:
        return set()
    return {password, quote(password, safe="")}


def redact(line: bytes, masked: Iterable[bytes]) -> bytes:
    for secret in masked:
        line = line.replace(secret, MASK)
    return line


def copy_redacted(source: Iterable[bytes], log: Path, masked: list[bytes]) -> None:
    with log.open("ab") as out:
        for line in source:
            out.write(redact(line, masked))
            out.flush()


def main(arguments: list[str]) -> int:
    log, separator, *command = arguments
    if separator != "--" or not command:
        print("usage: python -m kedro_prefect.operations.redaction LOG -- COMMAND...", file=sys.stderr)
        return 2
    masked = [secret.encode() for secret in secrets(os.environ)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    # Set only now: the child must not inherit ignored signals. A signal to the group stops the
    # child; this process goes on copying its last lines.
    for stop_signal in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop_signal, signal.SIG_IGN)
    assert child.stdout is not None  # stdout=PIPE
    copy_redacted(child.stdout, Path(log), masked)
    return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
