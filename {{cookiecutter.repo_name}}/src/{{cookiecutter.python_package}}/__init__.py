"""{{ cookiecutter.project_name }}: a Kedro project deployed to Prefect."""

__version__ = "0.1"
