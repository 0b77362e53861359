"""Run a Kedro project's pipelines as Prefect 3 deployments, one Prefect task per node.

Two halves, one concern each:

- ``kedro_prefect.execution``: what runs a pipeline inside a flow run: the flow, the Kedro runner
  that maps nodes to tasks, one execution strategy per task runner (threads, Dask), memory-dataset
  policies, log forwarding and the run summary.
- ``kedro_prefect.operations``: what operates Prefect around it: the server and worker processes,
  work pools and queues, crashed-run detection, registering deployments and triggering runs.

``config`` (``conf/<env>/prefect.yml``), ``options`` (the flow's parameters), ``project`` (what
this package reads from the project's ``pyproject.toml``) and ``errors`` serve both halves. ``cli``
is ``kedro prefect``, registered through the ``kedro.project_commands`` entry point.

Nothing here depends on the project it serves: its package and flow name are read at run time, so
one installed package serves any Kedro project. Importing any module has no side effects.
"""

__version__ = "0.3.0"
