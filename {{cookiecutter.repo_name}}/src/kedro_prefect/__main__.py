"""``python -m kedro_prefect ...``: the ``kedro prefect`` commands without Kedro's CLI start-up."""

import warnings

from .cli import prefect

if __name__ == "__main__":
    # Kedro 1.7's config loader calls an OmegaConf API that OmegaConf has deprecated: not the user's concern.
    warnings.filterwarnings("ignore", message="register_new_resolver", category=UserWarning)
    prefect(prog_name="kedro prefect")
