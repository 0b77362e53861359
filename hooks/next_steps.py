"""The "next steps" every front door prints once a project is created: the one copy of the text.

cookiecutter, cruft and `kedro new --starter` print it from hooks/post_gen_project.py; copier
prints copier.yml's `_message_after_copy`, which scripts/generate_front_doors.py derives from
``MESSAGE``. The only placeholder is ``{repo_name}``, the folder the project was created in.
Plain Python: no cookiecutter, copier or Jinja needed to import it.
"""

from __future__ import annotations

MESSAGE = """\
Created {repo_name}. Next steps:
  cd {repo_name}
  make install    # .venv with Kedro, Prefect and the project (about a minute)
  make up         # Prefect server and worker in the background (or `make server` and `make agent` in two terminals)
  make deploy     # register the pipelines as Prefect deployments
  make run        # run the default deployment and follow it to the end
  make help       # every target"""


def next_steps(repo_name: str) -> str:
    """The message for a project created in the folder `repo_name` (no trailing newline)."""
    return MESSAGE.format(repo_name=repo_name)
