"""Freeze a runner's state to JSON and thaw it, so an execution can stop and go on later.

Used when a Wait node suspends an execution (it resumes on time or on a call to
`/webhook-waiting/<id>`, also after a restart) and when an execution fails (so a
retry can start again at the failed node, reusing the data of the nodes before it).

Items are shared objects with lineage (`item.source`), so they are written once
into an item table and referred to by index everywhere else: in run inputs and
outputs, pending tasks, merges that wait for their other input, and node state
(Loop keeps items there, tagged as `{"$item": index}`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import orjson

from flowbox.engine.state import RunData, Task
from flowbox.node import Item

if TYPE_CHECKING:
    from flowbox.engine.runner import Runner

VERSION = 1


class _Encoder:
    def __init__(self) -> None:
        self.index: dict[int, int] = {}
        self.items: list[Item] = []

    def ref(self, item: Item) -> int:
        found = self.index.get(id(item))
        if found is not None:
            return found
        chain = []
        current: Item | None = item
        while current is not None and id(current) not in self.index:  # sources first, so they get lower indexes
            chain.append(current)
            current = current.source
        for link in reversed(chain):
            self.index[id(link)] = len(self.items)
            self.items.append(link)
        for link in chain:
            for other in link.also:
                self.ref(other)
        return self.index[id(item)]

    def refs(self, lists: list[list[Item]]) -> list[list[int]]:
        return [[self.ref(i) for i in items] for items in lists]

    def value(self, value: Any) -> Any:
        if isinstance(value, Item):
            return {"$item": self.ref(value)}
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value

    def table(self) -> list[dict[str, Any]]:
        return [{"json": i.json, "binary": i.binary,
                 "source": self.index.get(id(i.source)) if i.source is not None else None,
                 **({"also": [self.index[id(a)] for a in i.also]} if i.also else {})} for i in self.items]


def _time(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def freeze(runner: Runner, stack: list[Task], waiting: dict[str, dict[int, list[Item]]], pending: Task,
           reason: str, **extra: Any) -> bytes:
    """The runner's state with `pending` (the Wait or failed node's task) to run first when thawed."""
    enc = _Encoder()

    def task(t: Task) -> dict[str, Any]:
        return {"node": t.node, "inputs": enc.refs(t.inputs), "source": list(t.source) if t.source else None}

    state = {
        "version": VERSION, "reason": reason, "pending": task(pending), "stack": [task(t) for t in stack],
        "waiting": {name: {str(k): [enc.ref(i) for i in v] for k, v in slots.items()}
                    for name, slots in waiting.items()},
        "runs": {name: [{"run_index": r.run_index, "inputs": enc.refs(r.inputs), "outputs": enc.refs(r.outputs),
                         "error": r.error, "started_at": _time(r.started_at), "finished_at": _time(r.finished_at),
                         "source": r.source} for r in runs] for name, runs in runner.runs.items()},
        "node_state": enc.value(runner.node_state),
        "last_node": runner.last_node, "total_runs": runner._total_runs, "custom_data": runner.custom_data,
        **extra,
    }
    state["items"] = enc.table()
    return orjson.dumps(state, default=str)


def thaw(runner: Runner, data: bytes) -> tuple[list[Task], dict[str, dict[int, list[Item]]], Task, dict[str, Any]]:
    """Restore `runner` from `freeze` output; returns (stack, waiting, pending task, the whole state)."""

    state = orjson.loads(data)
    if state.get("version") != VERSION:
        raise ValueError(f"snapshot version {state.get('version')} is not supported")
    items = [Item(row["json"], row.get("binary")) for row in state["items"]]
    for item, row in zip(items, state["items"], strict=True):
        if row.get("source") is not None:
            item.source = items[row["source"]]
        if row.get("also"):
            item.also = tuple(items[n] for n in row["also"])

    def lists(refs: list[list[int]]) -> list[list[Item]]:
        return [[items[i] for i in r] for r in refs]

    def task(t: dict[str, Any]) -> Task:
        return Task(t["node"], lists(t["inputs"]), tuple(t["source"]) if t.get("source") else None)

    def value(v: Any) -> Any:
        if isinstance(v, dict):
            if set(v) == {"$item"}:
                return items[v["$item"]]
            return {k: value(x) for k, x in v.items()}
        if isinstance(v, list):
            return [value(x) for x in v]
        return v

    runner.runs = {name: [RunData(name, r["run_index"], lists(r["inputs"]), lists(r["outputs"]), r.get("error"),
                                  _parse(r.get("started_at")), _parse(r.get("finished_at")), r.get("source"))
                          for r in runs] for name, runs in state["runs"].items()}
    runner.node_state = value(state.get("node_state") or {})
    runner.last_node = state.get("last_node")
    runner.custom_data = dict(state.get("custom_data") or {})
    runner._total_runs = int(state.get("total_runs") or 0)
    waiting = {name: {int(k): [items[i] for i in v] for k, v in slots.items()}
               for name, slots in state.get("waiting", {}).items()}
    return [task(t) for t in state["stack"]], waiting, task(state["pending"]), state


def _parse(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def mark(data: bytes, **changes: Any) -> bytes:
    """A copy of a snapshot with top-level fields changed (e.g. the webhook call that resumes it)."""
    state = orjson.loads(data)
    state.update(changes)
    return orjson.dumps(state, default=str)

