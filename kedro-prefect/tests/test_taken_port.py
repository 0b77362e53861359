"""The README's "Port taken" promise: a port another program listens on is refused in one line that
names the port and the fix, before any server starts. A real listening socket; no Prefect server."""

from __future__ import annotations

import socket

import pytest

from kedro_prefect.errors import KedroPrefectError
from kedro_prefect.operations.address import ServerAddress
from kedro_prefect.operations.processes import _refuse_taken_port


def test_a_port_held_by_another_program_is_refused_with_the_port_and_the_fix():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # accepts connections, never answers HTTP: not a Prefect server
        port = listener.getsockname()[1]
        with pytest.raises(KedroPrefectError) as refused:
            _refuse_taken_port(ServerAddress("127.0.0.1", port))
    message = str(refused.value)
    assert "\n" not in message
    assert f"Port {port} on 127.0.0.1 is taken by something that is not a Prefect server" in message
    assert f"make up PREFECT_PORT={port + 1}" in message


def test_a_free_port_is_not_refused():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _refuse_taken_port(ServerAddress("127.0.0.1", port))  # nothing listens there any more
