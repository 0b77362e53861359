"""Kedro's and the project's log records, sent to the Prefect API of the current run."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from prefect.logging.handlers import APILogHandler


@contextmanager
def kedro_logs_to_prefect(package_name: str) -> Iterator[None]:
    """Attach Prefect's API log handler to Kedro's, the project's and this layer's loggers while this runs.

    Kedro's logging configuration replaces the handlers of the ``kedro`` logger, so Prefect's
    ``PREFECT_LOGGING_EXTRA_LOGGERS`` is not enough. Records emitted inside a task are attached to
    that task run by the handler itself, in the flow's process or on a Dask worker.
    """
    handler = APILogHandler()
    layer = __package__.partition(".")[0]  # kedro_prefect: memory policies, pool slots, the runner
    loggers = [logging.getLogger(name) for name in ("kedro", package_name, layer)]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
