"""Register this Kedro project's pipelines as Prefect deployments.

    python register_prefect_flow.py                      # every deployment in conf/<env>/prefect.yml
    python register_prefect_flow.py --deployment-name X  # one of them, or a new one from the options
    python register_prefect_flow.py --pipeline data_processing --deployment-name dp --version 1.0

The successor of the script on Kedro's old Prefect page, with the same options, for Prefect 3. It is
``kedro prefect deploy`` (and ``make deploy``): the code lives in ``src/kedro_prefect/``.
"""

import os
from pathlib import Path

if __name__ == "__main__":
    from kedro_prefect.cli import deploy

    os.chdir(Path(__file__).resolve().parent)  # the project, wherever the script is started from
    deploy(prog_name="register_prefect_flow.py")
