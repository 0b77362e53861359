"""``python -m kedro_prefect ...``: the ``kedro prefect`` commands without Kedro's CLI start-up."""

from .cli import prefect

if __name__ == "__main__":
    prefect(prog_name="kedro prefect")
