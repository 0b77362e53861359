"""Which Kedro node tags a task run carries: those a Prefect tag concurrency limit governs.

Prefect asks the server for a concurrency slot on ``tag:<tag>`` for every tag of a task run before
the task starts. On the default SQLite server that request waits for the database's write lock,
and at a run's start, while the run's own events are being written, it waited seconds: the
example's six nodes took 0.1 s with untagged tasks and 0.2–4.2 s with their tags (``make bench``'s
``make run`` section). So one read of the server's limits at the start of a run decides: a node's
tag that has a limit (``prefect concurrency-limit create TAG N``) goes on its task run and limits
it; the others stay Kedro's (selection with ``tags``, ``tag_overrides``) and cost nothing. A limit
created while a run is going applies from the next run on.
"""

from __future__ import annotations

from collections.abc import Iterable

TAG_LIMIT_PREFIX = "tag:"
"""How Prefect 3 names the global concurrency limit behind a tag limit."""

PAGE_SIZE = 200
MAX_PAGES = 50


def tags_with_limits(tags: Iterable[str], active_limit_names: Iterable[str]) -> frozenset[str]:
    """The tags among ``tags`` that one of the active limits (by name) governs."""
    limited = {name.removeprefix(TAG_LIMIT_PREFIX) for name in active_limit_names if name.startswith(TAG_LIMIT_PREFIX)}
    return frozenset(tags) & limited


def limited_tags(tags: Iterable[str]) -> frozenset[str]:
    """The tags among ``tags`` with an active tag concurrency limit on the server (no call when none)."""
    wanted = frozenset(tags)
    if not wanted:
        return frozenset()
    from prefect.client.orchestration import get_client

    names: list[str] = []
    with get_client(sync_client=True) as client:
        for page in range(MAX_PAGES):
            limits = client.read_global_concurrency_limits(limit=PAGE_SIZE, offset=page * PAGE_SIZE)
            names.extend(limit.name for limit in limits if limit.active)
            if len(limits) < PAGE_SIZE:
                break
    return tags_with_limits(wanted, names)
