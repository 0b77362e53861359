"""Heartbeats: their interval, and none outside a deployment run (the crash tests prove them live)."""

from __future__ import annotations

import threading

import pytest
from kedro_prefect.execution.heartbeat import HEARTBEAT_ENV, heartbeat_seconds, heartbeats


@pytest.mark.parametrize(("value", "seconds"), [(None, 30.0), ("5", 5.0), ("0", 0.0), ("-3", 0.0), ("soon", 30.0)])
def test_interval_comes_from_the_environment(monkeypatch, value, seconds):
    if value is None:
        monkeypatch.delenv(HEARTBEAT_ENV, raising=False)
    else:
        monkeypatch.setenv(HEARTBEAT_ENV, value)
    assert heartbeat_seconds() == seconds


def test_no_thread_outside_a_deployment_run():
    before = {thread.name for thread in threading.enumerate()}
    with heartbeats():
        assert {thread.name for thread in threading.enumerate()} == before


def test_loading_the_deployment_flow_switches_prefects_own_heartbeat_off():
    from kedro_prefect.execution.heartbeat import without_prefect_heartbeat
    from prefect.settings import get_current_settings, temporary_settings

    with temporary_settings(updates={"flows.heartbeat_frequency": 60}):
        assert get_current_settings().flows.heartbeat_frequency == 60
        without_prefect_heartbeat()
        assert get_current_settings().flows.heartbeat_frequency is None
