"""Run a Kedro project's pipelines as Prefect 3 deployments, one Prefect task per node.

Two halves, one concern each:

- ``kedro_prefect.execution``: what runs a pipeline inside a flow run: the flow, the Kedro runner
  that maps nodes to tasks, one execution strategy per task runner (threads, Dask), memory-dataset
  policies, log forwarding and the run summary.
- ``kedro_prefect.operations``: what operates Prefect around it: the server and worker processes,
  work pools and queues, crashed-run detection, registering deployments and triggering runs.

``config`` (``conf/<env>/prefect.yml``), ``options`` (the flow's parameters) and ``project`` (what
this package reads from ``pyproject.toml``) serve both halves. ``cli`` is ``kedro prefect``.

Nothing here depends on a template answer: the project's package and flow name are read at run
time, so the same files serve any Kedro project. Importing any module has no side effects.
"""

__version__ = "0.2.0"
