"""Every test: the template tree must stay as git has it.

The unit tests import `kedro_prefect` straight from `{{cookiecutter.repo_name}}/src`, and Python would
leave `__pycache__` folders there, which a later `cookiecutter .` from this checkout would copy into
projects. Bakes in the tests copy only what git tracks (tests/helpers.py), but a user's would not.
"""

import sys

sys.dont_write_bytecode = True
