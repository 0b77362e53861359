"""The layer's one error base, and the one place that reads pydantic's errors.

Every mistake a user can fix (a bad answer in prefect.yml, a flow parameter, a missing server) is a
``KedroPrefectError`` whose message names the problem and the fix. The layer raises them; only
``cli`` turns them into one ``Error: ...`` line and exit status 1, and in a flow run they end the
run Failed with the same message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from pydantic import ValidationError


class KedroPrefectError(Exception):
    """A problem the user can fix; the message says what it is and how."""


class Problem(NamedTuple):
    """The first error of a pydantic validation, in the words the layer's messages use."""

    location: tuple[str | int, ...]
    message: str
    kind: str
    given: Any

    @property
    def field(self) -> str:
        """The location as a dotted name (``execution.dask.n_workers``); empty at the top level."""
        return ".".join(str(part) for part in self.location)


def first_problem(error: ValidationError) -> Problem:
    """Pydantic lists every error; the first is enough to fix, and one line reads better than ten.
    A validator's own ``ValueError`` loses pydantic's "Value error, " prefix."""
    first = error.errors()[0]
    return Problem(tuple(first["loc"]), first["msg"].removeprefix("Value error, "), first["type"], first.get("input"))
