"""Where the Prefect server is, and one clear message when it cannot be reached or refuses us."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from prefect.settings import get_current_settings

from ..errors import KedroPrefectError
from ..report import say, warn

DEFAULT_API_URL = "http://127.0.0.1:4200/api"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class ServerUnreachable(KedroPrefectError):
    """The Prefect API did not answer; the message says how to start or point at a server."""


def api_url() -> str:
    """The API URL clients use: ``PREFECT_API_URL`` if set, else the server the project remembers
    (its Prefect profile, ``address.py``), else Prefect's default address."""
    return (get_current_settings().api.url or DEFAULT_API_URL).rstrip("/")


def ui_url(api: str | None = None) -> str:
    """The UI lives at the API URL without its ``/api`` suffix."""
    api = api or api_url()
    return api[: -len("/api")] if api.endswith("/api") else api


def is_healthy(api: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for_server(seconds: float) -> None:
    """Give a server that is still starting (``make server`` in another terminal) time to answer."""
    import time

    api = api_url()
    deadline = time.monotonic() + seconds
    if is_healthy(api):
        return
    say(f"Waiting up to {seconds:.0f} s for the Prefect server at {api} to answer...")
    while time.monotonic() < deadline and not is_healthy(api, timeout=1.0):
        time.sleep(0.5)


def require_server(timeout: float = 5.0) -> str:
    """Return the API URL, or stop with one line saying how to get a server there."""
    api = api_url()
    try:
        response = httpx.get(f"{api}/health", timeout=timeout)
    except httpx.HTTPError as error:
        raise ServerUnreachable(
            f"Cannot reach the Prefect server at {api} ({type(error).__name__}). "
            "Start one with `make server` (or `make up`), or set PREFECT_API_URL to a running server."
        ) from None
    if response.status_code != 200:
        raise ServerUnreachable(
            f"The Prefect server at {api} answered HTTP {response.status_code} to a health check. "
            "Check PREFECT_API_URL points at a Prefect 3 server's /api."
        )
    # The health check is open even on a server with basic auth: ask something that is not.
    auth = client_auth()
    if httpx.get(f"{api}/admin/version", auth=auth, timeout=timeout).status_code == 401:
        given = "wrong credentials" if auth else "no credentials"
        raise ServerUnreachable(
            f"The Prefect server at {api} requires basic auth and refused {given} (HTTP 401). "
            "Set PREFECT_AUTH=user:pass to the server's, e.g. `export PREFECT_AUTH=...` before make."
        )
    return api


def client_auth() -> tuple[str, str] | None:
    """Basic-auth user and password for the API, from PREFECT_API_AUTH_STRING (the Makefile sets it)."""
    secret = get_current_settings().api.auth_string
    if secret is None:
        return None
    user, _, password = secret.get_secret_value().partition(":")
    return user, password


def warn_if_exposed(host: str) -> None:
    """A server reachable from other machines without auth lets anyone run code on its workers."""
    if host in LOOPBACK_HOSTS or get_current_settings().server.api.auth_string is not None:
        return
    warn(
        f"Warning: the Prefect server listens on {host} without authentication: anyone who can reach "
        "it can read your runs and start code on your workers. Set PREFECT_AUTH=user:pass to require "
        "basic auth (README, Security).",
    )


@contextmanager
def using_server(api: str) -> Iterator[None]:
    """Clients of this process talk to ``api``: the server ``up`` starts, whatever else is configured."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api}):
        yield
