"""What the layer's commands tell the person running them, through one output the CLI chooses.

Operations narrate (a pool created, a run's state, where to look next) with ``say`` and ``warn``
and never import click: presentation is ``cli``'s, which installs click's echo (it copes with a
closed pipe and colours a warning). Until then, and in a flow run, plain ``print`` writes them.
"""

from __future__ import annotations

import sys
from typing import Protocol


class Output(Protocol):
    def __call__(self, message: str, *, err: bool, warning: bool) -> None: ...


def _print(message: str, *, err: bool, warning: bool) -> None:
    print(message, file=sys.stderr if err else sys.stdout, flush=True)


_output: Output = _print


def use_output(output: Output) -> None:
    """Send every later message to ``output``."""
    global _output
    _output = output


def say(message: str, *, err: bool = False) -> None:
    """A line of progress or a result (``err``: about the command itself, such as Ctrl-C, on stderr)."""
    _output(message, err=err, warning=False)


def warn(message: str) -> None:
    """Something the person should act on, though the command goes on: on stderr, highlighted."""
    _output(message, err=True, warning=True)
