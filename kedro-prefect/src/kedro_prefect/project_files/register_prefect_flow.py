"""Register this Kedro project's pipelines as Prefect deployments.

    python register_prefect_flow.py                      # every deployment in conf/<env>/prefect.yml
    python register_prefect_flow.py --deployment-name X  # one of them, or a new one from the options
    python register_prefect_flow.py --pipeline data_processing --deployment-name dp --version 1.0

The successor of the script on Kedro's old Prefect page, with the same options, for Prefect 3. It is
``kedro prefect deploy`` (and ``make deploy``): the code lives in the kedro-prefect package.
"""

import os
from pathlib import Path

if __name__ == "__main__":
    project = Path(__file__).resolve().parent
    os.chdir(project)  # the project, wherever the script is started from
    # Before Prefect is first imported: it reads its home and the usage-data switch once.
    from kedro_prefect.environment import enter_project_environment

    enter_project_environment(project)
    from kedro_prefect.cli import deploy

    deploy(prog_name="register_prefect_flow.py")
