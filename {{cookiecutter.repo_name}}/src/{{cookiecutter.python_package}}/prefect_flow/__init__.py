"""The Prefect layer of the project: a runner that maps nodes to tasks, the flow, and the CLIs
that deploy it, run it and manage a local server and worker.

Importing this package stays cheap on purpose: ``flow`` bootstraps the Kedro project, so only the
modules that need it import it.
"""

FLOW_NAME = "{{ cookiecutter.repo_name }}"
"""The Prefect flow name; deployments are addressed as ``FLOW_NAME/<deployment>``."""
