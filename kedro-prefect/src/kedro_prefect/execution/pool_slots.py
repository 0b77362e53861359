"""A flow run's slot of its work pool's limit (``make agent POOL_LIMIT=N``), held while its nodes run.

Prefect's own pool limit is checked when a worker asks for work, so two workers can both take the
last free slot; ``operations.pools`` therefore also creates a global concurrency limit of the same
size under ``limit_name(pool)``, whose slots the server hands out atomically. A run that got past
the workers' check waits here for one of those slots, and its log says so.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound


def limit_name(pool: str) -> str:
    """The global concurrency limit that holds a work pool to its limit exactly."""
    return f"work-pool:{pool}"


@contextmanager
def pool_slot() -> Iterator[None]:
    """Hold one slot of this run's work pool limit, if the pool has one (``make agent POOL_LIMIT=N``).

    Runs outside a deployment, or on a pool without a limit, go straight on.
    """
    from prefect.concurrency.sync import concurrency
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    pool = context.flow_run.work_pool_name if context and context.flow_run else None
    if not pool or not _has_limit(pool):
        yield
        return
    started = time.monotonic()
    with concurrency(limit_name(pool), occupy=1, strict=True):
        waited = time.monotonic() - started
        if waited > 1:
            from prefect import get_run_logger

            get_run_logger().info("Waited %.0f s for a free slot of work pool '%s' (POOL_LIMIT)", waited, pool)
        yield


def _has_limit(pool: str) -> bool:
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(limit_name(pool))
        except ObjectNotFound:
            return False
    return True
