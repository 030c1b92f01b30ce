"""Workflows: the n8n-shaped JSON file, its dataclasses, and validation before a run.

`load_workflow(data)` turns the JSON (DESIGN §2) into a `Workflow`, and
`validate(workflow)` refuses what cannot run — an unknown node type, a bad
parameter value, a parameter the node's schema does not declare (it would be
ignored; "did you mean" names a close one), a missing required one, a connection
to a missing node, output or input, a cycle that does not pass through a `loop`
node, a duplicate name — with a `WorkflowInvalid` that names the node.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowbox import registry
from flowbox.errors import NodeError, WorkflowInvalid
from flowbox.node import NodeSpec, Param, is_js_expression

ON_ERROR = ("stop", "continue", "passThrough", "errorOutput", "stopWorkflow", "continueRegularOutput", "continueErrorOutput")
MAX_NAME = 200  # characters in a workflow's or a node's name
MAX_TEXT = 1_000_000  # characters in one text parameter (code included)
MAX_TRIES, MAX_WAIT_BETWEEN_TRIES = 10, 300_000  # retryOnFail bounds (tries, ms)

SETTINGS = (
    Param("timezone", "string", "UTC", description="IANA zone for $now, $today and schedules"),
    Param("errorWorkflow", "string", None, description="Id of the workflow to run when this one fails"),
    Param("saveDataSuccessExecution", "options", "all", options=("all", "none")),
    Param("saveDataErrorExecution", "options", "all", options=("all", "none")),
    Param("saveManualExecutions", "boolean", True),
    Param("saveExecutionProgress", "boolean", False),
    Param("maxConcurrency", "number", 0, min=0, max=10_000, integer=True,
          description="Executions of this workflow running at once (0: no limit)"),
    Param("retryOnCrash", "boolean", False, description="Run an execution again after a crash interrupted it"),
    Param("executionOrder", "options", "v1", options=("v1", "v0"),
          description="n8n's execution order: flowbox runs v1 (depth-first, DESIGN §3); v0 (n8n's legacy order) "
                      "adds one of its rules: a node waiting on an input that nothing fed first runs the nodes "
                      "without inputs that feed it and never ran"),
    Param("expressionLanguage", "options", "python", options=("python", "javascript"),
          description='How `{{ }}` is read: "python" (DESIGN §4), or "javascript" (n8n: a value starting with '
                      '`=` is an expression, its `{{ }}` segments are JavaScript; DESIGN §10)'),
    Param("codeNetwork", "json", [], check=lambda value: _check_code_network(value),
          description='Hosts the code node may reach, "host:port" (docs/code-sandbox.md); none by default'),
)
"""Every workflow setting: an unknown one, or one of the wrong type, is refused when the workflow is saved."""


def _check_code_network(value: Any) -> None:
    """Refuse a `settings.codeNetwork` the code sandbox could not read (imported here: only a workflow that
    sets it pays for the sandbox module)."""
    from flowbox.engine.codesandbox import Allowlist

    try:
        Allowlist(value)
    except NodeError as exc:
        raise ValueError(str(exc).removeprefix("settings.codeNetwork: ")) from None


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
        """`settings.timezone`, else FLOWBOX_TIMEZONE (the instance's zone, as n8n's GENERIC_TIMEZONE), else UTC."""
        return str(self.settings.get("timezone") or os.environ.get("FLOWBOX_TIMEZONE") or "UTC")

    @property
    def javascript(self) -> bool:
        """Whether expressions are n8n's JavaScript (`settings.expressionLanguage: "javascript"`, DESIGN §10)."""
        return self.settings.get("expressionLanguage") == "javascript"


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
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise WorkflowInvalid(f"workflow field 'name' must be text; got {type(name).__name__}", field="name")
    check_name(name or "", "workflow name")
    return Workflow(name=str(name or "Untitled"), nodes=nodes, connections=connections,
                    settings=dict(settings), pin_data=dict(pin_data), id=id or data.get("id"), data=dict(data))


def _add_node(nodes: dict[str, Node], raw: Any, index: int) -> None:
    """Parse one node entry into `nodes`, refusing duplicates and malformed fields."""
    if not isinstance(raw, Mapping):
        raise WorkflowInvalid(f"node #{index + 1} must be an object", field="nodes")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise WorkflowInvalid(f"node #{index + 1} has no name", field="name")
    check_name(name, f"node #{index + 1}'s name")
    if name in nodes:
        raise WorkflowInvalid(f"duplicate node name '{name}': node names must be unique", node=name, field="name")
    type_ = raw.get("type")
    if not isinstance(type_, str) or not type_:
        raise WorkflowInvalid(f"node '{name}' has no type", node=name, field="type")
    params = raw.get("parameters", {})
    if not isinstance(params, dict):
        raise WorkflowInvalid(f"node '{name}': 'parameters' must be an object; got {json.dumps(params)[:40]}",
                              node=name, field="parameters")
    on_error = raw.get("onError") or ("continue" if raw.get("continueOnFail") else "stop")
    if on_error not in ON_ERROR:
        raise WorkflowInvalid(f"node '{name}': onError must be one of stop, continue, passThrough, errorOutput (or n8n's "
                              f"stopWorkflow, continueRegularOutput, continueErrorOutput); got {on_error!r}",
                              node=name, field="onError")
    on_error = {"stopWorkflow": "stop", "continueRegularOutput": "continue",
                "continueErrorOutput": "errorOutput"}.get(on_error, on_error)
    max_tries = _whole(raw.get("maxTries", 3), name, "maxTries", 1, MAX_TRIES)
    wait_ms = _whole(raw.get("waitBetweenTries", 1000), name, "waitBetweenTries", 0, MAX_WAIT_BETWEEN_TRIES)
    position = raw.get("position") or (0, 0)
    nodes[name] = Node(
        name=name, type=type_, parameters=dict(params),
        position=(position[0], position[1]) if isinstance(position, (list, tuple)) and len(position) >= 2 else (0, 0),
        disabled=_as_bool(raw.get("disabled", False)), on_error=on_error,
        retry_on_fail=_as_bool(raw.get("retryOnFail", False)), max_tries=max_tries, wait_between_tries=wait_ms,
        always_output_data=_as_bool(raw.get("alwaysOutputData", False)),
        credentials=dict(raw.get("credentials") or {}), id=raw.get("id"), type_version=raw.get("typeVersion"),
        notes=raw.get("notes"),
    )


def check_name(name: str, what: str) -> None:
    """Refuse a name too long to show or store sensibly, or one holding control characters."""
    if len(name) > MAX_NAME:
        raise WorkflowInvalid(f"{what} is {len(name):,} characters long (at most {MAX_NAME})", field="name")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise WorkflowInvalid(f"{what} {name[:40]!r} holds a control character", field="name")


def _whole(value: Any, node: str, field: str, low: int, high: int) -> int:
    """A node-level integer setting within [low, high], or WorkflowInvalid naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer() \
            or not low <= value <= high:
        raise WorkflowInvalid(f"node '{node}': {field} must be a whole number from {low} to {high:,}; "
                              f"got {value!r}", node=node, field=field)
    return int(value)


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


def is_template(value: Any, javascript: bool = False) -> bool:
    """Whether a parameter value is evaluated per item: `{{ }}` text, or (JavaScript mode) text starting with `=`."""
    if javascript:
        return is_js_expression(value)
    return isinstance(value, str) and "{{" in value


def output_count(spec: NodeSpec, node: Node) -> int:
    """Outputs of a node, including the extra error output of `onError: errorOutput`."""
    n = spec.output_count({**spec.defaults(), **node.parameters})
    return n + 1 if node.on_error == "errorOutput" else n


def validate(workflow: Workflow) -> dict[str, NodeSpec]:
    """Check everything that can be checked before running; returns each node's spec by name."""
    specs = {name: registry.get(node.type, name) for name, node in workflow.nodes.items()}
    check_params(None, SETTINGS, workflow.settings, "settings.")
    check_timezone(workflow.timezone, "settings.timezone")
    javascript = workflow.javascript
    for name, node in workflow.nodes.items():
        check_params(name, specs[name].params, {**specs[name].defaults(), **node.parameters}, javascript=javascript)
        if javascript:
            check_javascript(name, node.parameters)
    for c in workflow.connections:
        n_out = output_count(specs[c.source], workflow.nodes[c.source])
        if c.output >= n_out:
            raise WorkflowInvalid(
                f"node '{c.source}' has no output {c.output} (it has {n_out}); it cannot connect to '{c.target}'",
                node=c.source, field="connections")
        n_in = specs[c.target].input_count(workflow.nodes[c.target].parameters)
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


def validate_for_run(workflow: Workflow) -> dict[str, NodeSpec]:
    """`validate`, then refuse a node that may be saved but never run (an n8n placeholder: its spec's
    `refuse_run` says why), naming the node. Every run and every activation goes through here; saving
    checks `validate` only, so such a workflow can be stored and fixed in the editor."""
    specs = validate(workflow)
    for name, spec in specs.items():
        if spec.refuse_run is not None and not workflow.nodes[name].disabled:
            reason = spec.refuse_run({**spec.defaults(), **workflow.nodes[name].parameters})
            if reason:
                raise WorkflowInvalid(f"node '{name}' cannot run: {reason}", node=name, field="type")
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


def check_javascript(node: str, parameters: Mapping[str, Any]) -> None:
    """Refuse a JavaScript-mode expression that does not parse, naming node and parameter (imported here: only
    JavaScript-mode workflows load the JavaScript engine)."""
    from flowbox.engine.javascript import check_js_value
    from flowbox.errors import ExpressionError

    for key, value in parameters.items():
        try:
            check_js_value(value, node=node, parameter=key)
        except ExpressionError as exc:
            raise WorkflowInvalid(f"node '{node}': {exc}", node=node, field=exc.parameter or key) from None


def check_params(node: str | None, params: Iterable[Param], values: Mapping[str, Any], prefix: str = "", *,
                 javascript: bool = False) -> None:
    """Refuse parameter values that can never work: a key the schema does not declare (it would be ignored),
    a value outside `options`, of the wrong type or outside its bounds, a missing or empty required one,
    one its `check` refuses. `node` None checks the workflow's settings; `javascript`: values starting with
    `=` are expressions (checked when they run)."""
    params = tuple(params)
    check_known(node, params, values, prefix)
    for p in params:
        if not p.shown(values):
            continue
        value = values.get(p.name, p.default)
        where = f"{prefix}{p.name}"
        if is_template(value, javascript):
            if javascript and "{{" not in value:
                value = value[1:]  # n8n's `=text` without {{ }} is the text: check it as written
            else:
                continue

        def refuse(message: str, where: str = where) -> WorkflowInvalid:
            subject = f"node '{node}': parameter" if node is not None else "workflow setting"
            return WorkflowInvalid(f"{subject} '{where}' {message}", node=node, field=where)

        if p.required and (value is None or value == "" or value == [] or value == {}):
            raise refuse("is required")
        if value is None or (value == "" and p.default is None):  # empty text where there is no default: unset
            continue
        _check_kind(p, value, refuse)
        if p.check is not None:
            try:
                p.check(value)
            except ValueError as exc:
                raise refuse(str(exc)) from None
        if p.kind == "list" and p.fields:
            for i, row in enumerate(value):
                if not isinstance(row, dict):
                    raise refuse(f"must be an object with {', '.join(f.name for f in p.fields)}; got "
                                 f"{json.dumps(row)[:40]}", f"{where}[{i}]")
                check_params(node, p.fields, row, f"{where}[{i}].", javascript=javascript)
        if p.kind == "collection" and p.fields:
            check_params(node, p.fields, value, f"{where}.", javascript=javascript)


_JSON_TYPES = {dict: "an object", list: "a list"}


def _check_kind(p: Param, value: Any, refuse: Any) -> None:
    """Refuse a fixed value that is not of `p`'s kind: what `Param.coerce` (the engine's own conversion)
    refuses, plus what it would convert but nobody means (an object where text goes)."""
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise refuse(f"is {len(value):,} characters long (at most {MAX_TEXT:,})")
    if p.kind in ("string", "datetime", "credential") and isinstance(value, (dict, list)):
        raise refuse(f"must be text; got {_JSON_TYPES[type(value)]}")
    if p.kind == "code" and not isinstance(value, str):
        raise refuse(f"must be code (text); got {json.dumps(value)[:40]}")
    if p.kind == "list" and p.fields and not isinstance(value, list):
        raise refuse(f"must be a list; got {json.dumps(value)[:40]}")
    if p.kind == "json" and type(p.default) in _JSON_TYPES and type(value) is not type(p.default):
        raise refuse(f"must be {_JSON_TYPES[type(p.default)]}; got {json.dumps(value)[:40]}")
    try:
        p.coerce(value)
    except ValueError as exc:
        raise refuse(str(exc)) from None


def check_known(node: str | None, params: Iterable[Param], values: Mapping[str, Any], prefix: str = "") -> None:
    """Refuse the keys of `values` that no parameter declares, naming each and the nearest declared name."""
    known = [p.name for p in params]
    unknown = [str(key) for key in values if key not in known]
    if not unknown:
        return
    lowered = {name.lower(): name for name in known}
    named, guessed = [], 0
    for key in unknown:
        close = difflib.get_close_matches(key.lower(), list(lowered), n=1) or sorted(
            (name for name in lowered if len(name) > 3 and name in key.lower()), key=len)[-1:]  # jsCode: code
        named.append(f"'{prefix}{key}'" + (f" (did you mean '{prefix}{lowered[close[0]]}'?)" if close else ""))
        guessed += bool(close)
    what = f"node '{node}': unknown parameter" if node is not None else "unknown workflow setting"
    text = f"{what}{'s' if len(unknown) > 1 else ''} {', '.join(named)}"
    if not known:
        text += "; it takes no parameters"
    elif guessed < len(unknown):
        text += f"; '{prefix[:-1]}' takes: " if prefix else "; its parameters are: "
        text += ", ".join(known)
    raise WorkflowInvalid(text, node=node, field=f"{prefix}{unknown[0]}")


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
