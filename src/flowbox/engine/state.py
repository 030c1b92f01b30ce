"""The runner's state that outlives one step: node runs, the stack's tasks, and the Wait signal
(`flowbox.engine.snapshot` freezes and thaws them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flowbox.node import Item


@dataclass
class RunData:
    """One run of one node: its items per output, and its error (None when it succeeded)."""

    node: str
    run_index: int
    inputs: list[list[Item]]
    outputs: list[list[Item]]
    error: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    source: str | None = None

    def __repr__(self) -> str:  # short: asyncio may repr a finished task's result
        return f"RunData({self.node!r}, run {self.run_index}, {[len(o) for o in self.outputs]} items)"

    def outputs_json(self) -> list[list[dict[str, Any]]]:
        return [[item.json for item in output] for output in self.outputs]


@dataclass
class Task:
    """A node waiting on the runner's stack, with its inputs and where they came from."""

    node: str
    inputs: list[list[Item]]
    source: tuple[str, int] | None
    output: list[list[Item]] | None = None  # set when resuming a Wait: the run's result, no call to the node


class Suspend(BaseException):  # noqa: N818 - a control-flow signal, not an error
    """Raised by a Wait node (through its context) to park the execution until a time or a webhook call."""

    def __init__(self, until: dt.datetime | None, resume: str) -> None:
        super().__init__(f"suspend until {until}" if until else "suspend until a webhook call")
        self.until = until
        self.resume = resume
