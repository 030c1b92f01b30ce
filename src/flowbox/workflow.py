"""Workflows: the n8n-shaped JSON file, its dataclasses, and validation before a run.

`load_workflow(data)` turns the JSON (DESIGN §2) into a `Workflow`, and
`validate(workflow)` refuses what cannot run — an unknown node type, a bad
parameter value, a connection to a missing node, output or input, a cycle that
does not pass through a `loop` node, a duplicate name — with a
`WorkflowInvalid` that names the node.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowbox import registry
from flowbox.errors import WorkflowInvalid
from flowbox.node import NodeSpec, Param

ON_ERROR = ("stop", "continue", "errorOutput", "stopWorkflow", "continueRegularOutput", "continueErrorOutput")


@dataclass(frozen=True)
class Node:
    """One node of a workflow as written in the file (camelCase fields translated here)."""

    name: str
    type: str
    parameters: dict[str, Any] = field(default_factory=dict)
    position: tuple[float, float] = (0, 0)
    disabled: bool = False
    on_error: str = "stop"
    retry_on_fail: bool = False
    max_tries: int = 3
    wait_between_tries: int = 1000
    always_output_data: bool = False
    credentials: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    type_version: float | None = None
    notes: str | None = None


@dataclass(frozen=True)
class Connection:
    """Output `output` of node `source` feeds input `input` of node `target`."""

    source: str
    output: int
    target: str
    input: int = 0


@dataclass
class Workflow:
    """A loaded workflow. `data` keeps the original JSON for storage and export."""

    name: str
    nodes: dict[str, Node]
    connections: list[Connection]
    settings: dict[str, Any] = field(default_factory=dict)
    pin_data: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    compiled: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False, compare=False)
    """Compiled parameter values by (node, parameter), shared by every run of this loaded workflow."""

    def __post_init__(self) -> None:
        self._out: dict[str, dict[int, list[Connection]]] = {}
        self._in: dict[str, list[Connection]] = {}
        for c in self.connections:
            self._out.setdefault(c.source, {}).setdefault(c.output, []).append(c)
            self._in.setdefault(c.target, []).append(c)

    def targets(self, name: str, output: int) -> list[Connection]:
        """Connections leaving output `output` of node `name`, in file order."""
        return self._out.get(name, {}).get(output, [])

    def successors(self, name: str) -> list[str]:
        """Every node fed by any output of `name`."""
        return [c.target for conns in self._out.get(name, {}).values() for c in conns]

    def ancestors(self, name: str) -> set[str]:
        """Every node from which data can reach `name` (not including `name` unless on a cycle)."""
        seen: set[str] = set()
        todo = [name]
        while todo:
            for c in self._in.get(todo.pop(), []):
                if c.source not in seen:
                    seen.add(c.source)
                    todo.append(c.source)
        return seen

    def incoming(self, name: str) -> list[Connection]:
        return self._in.get(name, [])

    def connected_inputs(self, name: str) -> set[int]:
        return {c.input for c in self._in.get(name, [])}

    @property
    def timezone(self) -> str:
        return str(self.settings.get("timezone") or "UTC")


def _as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")


def load_workflow(data: Mapping[str, Any] | str | Path, *, id: str | None = None) -> Workflow:
    """Build a `Workflow` from its JSON (a dict, JSON text or a file path); checks its shape only."""
    if isinstance(data, Path):
        try:
            data = json.loads(data.read_text())
        except (OSError, ValueError) as exc:
            raise WorkflowInvalid(f"cannot read workflow file {data}: {exc}") from None
    elif isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise WorkflowInvalid(f"workflow is not valid JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise WorkflowInvalid("a workflow must be a JSON object with 'nodes' and 'connections'")
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, list):
        raise WorkflowInvalid("workflow field 'nodes' must be a list", field="nodes")
    nodes: dict[str, Node] = {}
    for index, raw in enumerate(raw_nodes):
        _add_node(nodes, raw, index)
    connections = _load_connections(data.get("connections") or {}, nodes)
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise WorkflowInvalid("workflow field 'settings' must be an object", field="settings")
    pin_data = data.get("pinData") or {}
    if not isinstance(pin_data, dict):
        raise WorkflowInvalid("workflow field 'pinData' must be an object", field="pinData")
    return Workflow(name=str(data.get("name") or "Untitled"), nodes=nodes, connections=connections,
                    settings=dict(settings), pin_data=dict(pin_data), id=id or data.get("id"), data=dict(data))


def _add_node(nodes: dict[str, Node], raw: Any, index: int) -> None:
    """Parse one node entry into `nodes`, refusing duplicates and malformed fields."""
    if not isinstance(raw, Mapping):
        raise WorkflowInvalid(f"node #{index + 1} must be an object", field="nodes")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise WorkflowInvalid(f"node #{index + 1} has no name", field="name")
    if name in nodes:
        raise WorkflowInvalid(f"duplicate node name '{name}': node names must be unique", node=name, field="name")
    type_ = raw.get("type")
    if not isinstance(type_, str) or not type_:
        raise WorkflowInvalid(f"node '{name}' has no type", node=name, field="type")
    params = raw.get("parameters") or {}
    if not isinstance(params, dict):
        raise WorkflowInvalid(f"node '{name}': 'parameters' must be an object", node=name, field="parameters")
    on_error = raw.get("onError") or ("continue" if raw.get("continueOnFail") else "stop")
    if on_error not in ON_ERROR:
        raise WorkflowInvalid(f"node '{name}': onError must be one of stop, continue, errorOutput; got {on_error!r}",
                              node=name, field="onError")
    on_error = {"stopWorkflow": "stop", "continueRegularOutput": "continue",
                "continueErrorOutput": "errorOutput"}.get(on_error, on_error)
    try:
        max_tries = int(raw.get("maxTries", 3))
        wait_ms = int(raw.get("waitBetweenTries", 1000))
    except (TypeError, ValueError):
        raise WorkflowInvalid(f"node '{name}': maxTries and waitBetweenTries must be integers",
                              node=name, field="maxTries") from None
    position = raw.get("position") or (0, 0)
    nodes[name] = Node(
        name=name, type=type_, parameters=dict(params),
        position=(position[0], position[1]) if isinstance(position, (list, tuple)) and len(position) >= 2 else (0, 0),
        disabled=_as_bool(raw.get("disabled", False)), on_error=on_error,
        retry_on_fail=_as_bool(raw.get("retryOnFail", False)), max_tries=max(1, min(max_tries, 10)),
        wait_between_tries=max(0, min(wait_ms, 300_000)),
        always_output_data=_as_bool(raw.get("alwaysOutputData", False)),
        credentials=dict(raw.get("credentials") or {}), id=raw.get("id"), type_version=raw.get("typeVersion"),
        notes=raw.get("notes"),
    )


def _load_connections(raw: Any, nodes: Mapping[str, Node]) -> list[Connection]:
    if not isinstance(raw, Mapping):
        raise WorkflowInvalid("workflow field 'connections' must be an object", field="connections")
    out: list[Connection] = []
    for source, by_type in raw.items():
        if source not in nodes:
            raise WorkflowInvalid(f"connection from unknown node '{source}'", node=source, field="connections")
        if not isinstance(by_type, Mapping):
            raise WorkflowInvalid(f"node '{source}': connections must be an object", node=source,
                                  field="connections")
        for kind, outputs in by_type.items():
            if kind != "main":
                continue
            if not isinstance(outputs, list):
                raise WorkflowInvalid(f"node '{source}': connections.main must be a list", node=source,
                                      field="connections")
            for output, targets in enumerate(outputs):
                for target in targets or []:
                    if not isinstance(target, Mapping) or not isinstance(target.get("node"), str):
                        raise WorkflowInvalid(f"node '{source}': output {output} has a malformed connection",
                                              node=source, field="connections")
                    name = target["node"]
                    if name not in nodes:
                        raise WorkflowInvalid(f"node '{source}' connects to missing node '{name}'",
                                              node=source, field="connections")
                    try:
                        index = int(target.get("index", 0) or 0)
                    except (TypeError, ValueError):
                        raise WorkflowInvalid(f"node '{source}': connection to '{name}' has a bad input index",
                                              node=source, field="connections") from None
                    out.append(Connection(source, output, name, index))
    return out


def is_template(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


def output_count(spec: NodeSpec, node: Node) -> int:
    """Outputs of a node, including the extra error output of `onError: errorOutput`."""
    n = spec.output_count({**spec.defaults(), **node.parameters})
    return n + 1 if node.on_error == "errorOutput" else n


def validate(workflow: Workflow) -> dict[str, NodeSpec]:
    """Check everything that can be checked before running; returns each node's spec by name."""
    specs = {name: registry.get(node.type, name) for name, node in workflow.nodes.items()}
    check_timezone(workflow.timezone, "settings.timezone")
    for name, node in workflow.nodes.items():
        check_params(name, specs[name].params, {**specs[name].defaults(), **node.parameters})
    for c in workflow.connections:
        n_out = output_count(specs[c.source], workflow.nodes[c.source])
        if c.output >= n_out:
            raise WorkflowInvalid(
                f"node '{c.source}' has no output {c.output} (it has {n_out}); it cannot connect to '{c.target}'",
                node=c.source, field="connections")
        n_in = specs[c.target].inputs
        if c.input >= n_in or c.input < 0:
            raise WorkflowInvalid(
                f"node '{c.target}' has no input {c.input} (it has {n_in}); connection from '{c.source}'",
                node=c.target, field="connections")
    for name, items in workflow.pin_data.items():
        if name not in workflow.nodes:
            raise WorkflowInvalid(f"pinData names missing node '{name}'", node=name, field="pinData")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise WorkflowInvalid(f"pinData for node '{name}' must be a list of objects", node=name,
                                  field="pinData")
    cycle = find_cycle(workflow, {n for n, s in specs.items() if s.cycle_ok})
    if cycle:
        path = " -> ".join(f"'{n}'" for n in [*cycle, cycle[0]])
        raise WorkflowInvalid(f"cycle without a loop node: {path}", node=cycle[0], field="connections")
    return specs


def check_timezone(name: str, field: str, node: str | None = None) -> None:
    """Refuse a timezone name that zoneinfo does not know."""
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        where = f"node '{node}': " if node else ""
        raise WorkflowInvalid(f"{where}{field}: unknown timezone {name!r} (use an IANA name like 'Europe/Berlin')",
                              node=node, field=field) from None


def check_params(node: str, params: Iterable[Param], values: Mapping[str, Any], prefix: str = "") -> None:
    """Refuse parameter values that can never work: a value outside `options`, a wrong type, a missing one."""
    for p in params:
        if not p.shown(values):
            continue
        value = values.get(p.name, p.default)
        where = f"{prefix}{p.name}"
        if is_template(value):
            continue
        if p.required and (value is None or value == ""):
            raise WorkflowInvalid(f"node '{node}': parameter '{where}' is required", node=node, field=where)
        if value is None:
            continue
        if p.kind == "options" and p.options and value not in p.options:
            choices = ", ".join(repr(o) for o in p.options)
            raise WorkflowInvalid(f"node '{node}': parameter '{where}' must be one of {choices}; got {value!r}",
                                  node=node, field=where)
        if p.kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                try:
                    value = float(value)
                except (TypeError, ValueError):
                    raise WorkflowInvalid(f"node '{node}': parameter '{where}' must be a number; got {value!r}",
                                          node=node, field=where) from None
            if p.min is not None and value < p.min:
                raise WorkflowInvalid(f"node '{node}': parameter '{where}' must be at least {p.min:g}; got {value}",
                                      node=node, field=where)
            if p.max is not None and value > p.max:
                raise WorkflowInvalid(f"node '{node}': parameter '{where}' must be at most {p.max:g}; got {value}",
                                      node=node, field=where)
        if p.kind == "boolean" and not isinstance(value, bool) and str(value).lower() not in (
                "true", "false", "1", "0"):
            raise WorkflowInvalid(f"node '{node}': parameter '{where}' must be true or false; got {value!r}",
                                  node=node, field=where)
        if p.kind == "list" and p.fields:
            if not isinstance(value, list):
                raise WorkflowInvalid(f"node '{node}': parameter '{where}' must be a list", node=node, field=where)
            for i, row in enumerate(value):
                if isinstance(row, dict):
                    check_params(node, p.fields, row, f"{where}[{i}].")
        if p.kind == "collection" and p.fields and isinstance(value, dict):
            check_params(node, p.fields, value, f"{where}.")


def find_cycle(workflow: Workflow, allowed: set[str]) -> list[str] | None:
    """A cycle that does not pass through a node of `allowed` (loop nodes), as a list of names, or None."""
    graph: dict[str, list[str]] = {name: [] for name in workflow.nodes if name not in allowed}
    for c in workflow.connections:
        if c.source in graph and c.target in graph:
            graph[c.source].append(c.target)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(start: str) -> list[str] | None:
        # iterative DFS: (node, iterator over its targets)
        work = [(start, iter(graph[start]))]
        state[start] = 1
        stack.append(start)
        while work:
            name, it = work[-1]
            nxt = next(it, None)
            if nxt is None:
                work.pop()
                stack.pop()
                state[name] = 2
            elif state.get(nxt) == 1:
                return stack[stack.index(nxt):]
            elif nxt not in state:
                state[nxt] = 1
                stack.append(nxt)
                work.append((nxt, iter(graph[nxt])))
        return None

    for name in graph:
        if name not in state:
            found = visit(name)
            if found:
                return found
    return None
