"""Work pools and queues: created when missing, and held to ``POOL_LIMIT`` flow runs at once.

At most ``POOL_LIMIT`` flow runs of a work pool at once, however many workers serve it.

Prefect's own pool limit is checked when a worker asks for work: two workers asking at the same
moment can both take the last free slot (measured here: 4 runs at once under a limit of 3 with
two workers). So the limit is set twice: on the pool, which keeps workers from taking much more
than it allows, and as a global concurrency limit of the same name and size, whose slots the
server hands out atomically. Each flow run holds one of those slots while its nodes run
(``execution.pool_slots``).
"""

from __future__ import annotations

from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
    WorkPoolCreate,
    WorkPoolUpdate,
)
from prefect.client.schemas.objects import WorkPool
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from ..errors import KedroPrefectError
from ..execution.pool_slots import limit_name
from ..report import say


def default_job_template(pool_type: str) -> dict[str, Any]:
    """The base job template of an installed worker type (process ships with Prefect)."""
    from prefect.workers.base import BaseWorker

    worker_class = BaseWorker.get_worker_class_from_type(pool_type)
    if worker_class is None:
        raise KedroPrefectError(
            f"Work pool type '{pool_type}' needs its worker package where `make agent` runs "
            f"(prefect-docker for docker, prefect-kubernetes for kubernetes): pip install prefect-{pool_type}. "
            "Or use the default: WORK_POOL_TYPE=process."
        )
    return worker_class.get_default_base_job_template()


def ensure_work_pool(pool: str, queue: str, pool_type: str = "process") -> None:
    """Create the work pool and its queue when missing; leave existing ones untouched."""
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
        except ObjectNotFound:
            try:
                client.create_work_pool(
                    WorkPoolCreate(name=pool, type=pool_type, base_job_template=default_job_template(pool_type))
                )
                say(f"Created work pool '{pool}' (type {pool_type})")
            except ObjectAlreadyExists:
                pass
        try:
            client.read_work_queue_by_name(queue, work_pool_name=pool)
        except ObjectNotFound:
            try:
                client.create_work_queue(name=queue, work_pool_name=pool)
                say(f"Created work queue '{queue}' in pool '{pool}'")
            except ObjectAlreadyExists:
                pass


def require_work_pools(names: set[str]) -> dict[str, WorkPool]:
    """The pools by name; stop with one line when a deployment's work pool does not exist yet."""
    pools = {}
    with get_client(sync_client=True) as client:
        for name in sorted(names):
            try:
                pools[name] = client.read_work_pool(name)
            except ObjectNotFound:
                raise KedroPrefectError(
                    f"Work pool '{name}' does not exist on the server. Create it with `make agent` "
                    f"(or `prefect work-pool create {name} --type process`), then deploy again."
                ) from None
    return pools


def check_job_variables(pool: WorkPool, variables: dict[str, Any]) -> None:
    """Refuse, as one line, variables the pool's job template does not have or whose type is wrong.

    Prefect's server checks types too, but only while registering, by which time earlier
    deployments of the same ``make deploy`` would be registered already.
    """
    from prefect.utilities.schema_tools import ValidationError, validate

    schema = pool.base_job_template.get("variables", {})
    unknown = sorted(set(variables) - set(schema.get("properties", {})))
    if unknown:
        known = ", ".join(sorted(schema.get("properties", {})))
        raise ValueError(f"{unknown} not among the job variables of {pool.type} pool '{pool.name}' ({known})")
    try:
        validate(variables, schema, raise_on_error=True, ignore_required=True, allow_none_with_default=True)
    except ValidationError as error:
        raise ValueError(
            str(error).removeprefix("Validation failed for field ").replace(". Failure reason:", ":")
        ) from None


def set_pool_limit(pool: str, limit: int) -> None:
    """Set the pool's limit and the global concurrency limit that makes it hold exactly."""
    with get_client(sync_client=True) as client:
        client.update_work_pool(pool, WorkPoolUpdate(concurrency_limit=limit))
        try:
            client.read_global_concurrency_limit_by_name(limit_name(pool))
            client.update_global_concurrency_limit(limit_name(pool), GlobalConcurrencyLimitUpdate(limit=limit))
        except ObjectNotFound:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=limit_name(pool), limit=limit))
