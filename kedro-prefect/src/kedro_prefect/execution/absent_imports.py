"""Optional data libraries that are not installed, remembered as absent for the rest of the process.

Kedro's ``MemoryDataset`` picks how to copy data on every load and save by importing pandas,
numpy and ibis (``kedro.io.memory_dataset._infer_copy_mode``). Python does not remember a failed
import: each one searches every ``sys.path`` folder again, two searches per node when one of them
is not installed. In a flow those file-system calls release the GIL on the node's critical path,
and each one waits to get it back from Prefect's busy threads (event and log sending): a cost
every trivial node paid, which ``kedro run`` pays too but bare Prefect tasks do not.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable

OPTIONAL_DATA_LIBRARIES = ("pandas", "numpy", "ibis")
"""What ``_infer_copy_mode`` tries to import."""


def remember_absent_data_libraries(names: Iterable[str] = OPTIONAL_DATA_LIBRARIES) -> list[str]:
    """Mark the libraries that cannot be imported as absent, so that importing them fails at once.

    ``None`` in ``sys.modules`` is Python's own "known to be missing": ``import ibis`` then raises
    ``ModuleNotFoundError`` without a search. Libraries that are installed are left alone. Cheap
    to call again: a name already marked is found in ``sys.modules``.
    """
    absent = []
    for name in names:
        try:
            missing = importlib.util.find_spec(name) is None
        except (ImportError, ValueError):  # a broken install: leave it to the import to report
            missing = False
        if missing:
            sys.modules[name] = None  # type: ignore[assignment]
            absent.append(name)
    return absent
