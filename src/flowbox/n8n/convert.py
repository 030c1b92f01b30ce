"""An n8n workflow export converted to a flowbox workflow (DESIGN §10), with a report of every node.

Each node's converter is declared on the flowbox node that takes it (`NodeSpec.n8n`, found through
`flowbox.registry.for_n8n`); this module does what every node shares: the node options (onError,
retries, disabled, notes, ...), credentials, connections, settings, pinData and staticData. An n8n
type without a flowbox node, or a node whose converter reports something "unsupported", becomes an
`n8nPlaceholder` that keeps the original node JSON and refuses to run. A file that cannot be read as
n8n JSON, or a typeVersion a converter does not know, is a `WorkflowInvalid` naming the node and the
field: nothing is converted halfway.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowbox import registry
from flowbox.errors import WorkflowInvalid
from flowbox.n8n import item_lists
from flowbox.workflow import Workflow, load_workflow

PREFIXES = ("n8n-nodes-base.", "@n8n/n8n-nodes-langchain.")
LEVELS = ("mapped", "approximated", "unsupported")
PLACEHOLDER = "n8nPlaceholder"

# n8n node fields kept as they are (flowbox reads the same names, or ignores them and keeps them)
_KEPT_FIELDS = ("id", "position", "notes", "notesInFlow", "webhookId", "retryOnFail", "maxTries",
                "waitBetweenTries", "alwaysOutputData", "disabled")
_ON_ERROR = {"stopWorkflow": "stop", "continueRegularOutput": "passThrough", "continueErrorOutput": "errorOutput"}
_SAVE_SETTINGS = {"saveDataSuccessExecution": ("all", "none"), "saveDataErrorExecution": ("all", "none"),
                  "saveManualExecutions": (True, False), "saveExecutionProgress": (True, False)}


@dataclass(frozen=True)
class Entry:
    """One line of the report: what happened to a node (None: the workflow) at `level`."""

    node: str | None
    level: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "level": self.level, "message": self.message}


@dataclass
class Conversion:
    """The converted flowbox workflow JSON and the report."""

    workflow: dict[str, Any]
    report: list[Entry] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    """Names of the nodes kept as placeholders (the workflow cannot run until they are replaced)."""

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        """The API's `conversion` field: `{"mapped": [...], "approximated": [...], "unsupported": [...]}`,
        each entry `{"node", "message"}`."""
        return report_json(self.report)


def report_json(report: list[Entry]) -> dict[str, list[dict[str, Any]]]:
    """A report grouped by level: `{"mapped": [{"node", "message"}, ...], "approximated": ..., "unsupported": ...}`."""
    out: dict[str, list[dict[str, Any]]] = {level: [] for level in LEVELS}
    for entry in report:
        out[entry.level].append({"node": entry.node, "message": entry.message})
    return out


def is_n8n(data: Any) -> bool:
    """Whether `data` is n8n workflow JSON: a node type with n8n's package prefix, or a node with a
    `typeVersion` whose type is no flowbox node's (a community package's). A flowbox workflow may carry
    `typeVersion` too (DESIGN §2; the editor writes it): on flowbox's own types it stays flowbox JSON."""
    nodes = data.get("nodes") if isinstance(data, Mapping) else None
    return isinstance(nodes, list) and any(
        isinstance(n, Mapping) and (str(n.get("type", "")).startswith(PREFIXES) or (
            "typeVersion" in n and registry.get_or_none(str(n.get("type", ""))) is None))
        for n in nodes)


def accept(data: Any) -> tuple[Any, Conversion | None]:
    """Workflow JSON as flowbox takes it: n8n JSON converted (with its report), anything else unchanged."""
    if is_n8n(data):
        conversion = convert(data)
        return conversion.workflow, conversion
    return data, None


def read_workflow_file(path: Path) -> tuple[Any, Conversion | None]:
    """A workflow file's JSON as flowbox takes it (`accept`): the CLI's files and sub-workflow files alike.
    `OSError` when it cannot be read, `WorkflowInvalid` when it is not JSON or not convertible."""
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise WorkflowInvalid(f"{path} is not valid JSON: {exc}") from None
    return accept(data)


def load_workflow_file(path: Path) -> Workflow:
    """A sub-workflow's file (flowbox's or n8n's JSON) as a `Workflow`; `WorkflowInvalid` when it cannot be."""
    try:
        data, _ = read_workflow_file(path)
    except OSError as exc:
        raise WorkflowInvalid(f"cannot read workflow file {path}: {exc.strerror}") from None
    return load_workflow(data)


def convert(data: Mapping[str, Any]) -> Conversion:
    """Convert n8n workflow JSON; `WorkflowInvalid` naming node and field when it cannot be read."""
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, list):
        raise WorkflowInvalid("n8n workflow field 'nodes' must be a list", field="nodes")
    report: list[Entry] = []
    connections = _connections(data.get("connections") or {})
    names: set[str] = set()
    nodes, placeholders = [], []
    for index, raw in enumerate(raw_nodes):
        node, kept = _node(raw, index, connections, report)
        if kept:
            placeholders.append(node["name"])
        if node["name"] in names:
            raise WorkflowInvalid(f"duplicate node name '{node['name']}': node names must be unique",
                                  node=node["name"], field="name")
        names.add(node["name"])
        nodes.append(node)
    out = {k: v for k, v in data.items() if k not in ("nodes", "connections", "settings", "pinData", "active")}
    if data.get("active"):
        report.append(Entry(None, "approximated", "the workflow was active in n8n; it is imported inactive "
                                                  "(activate it once its credentials are set up)"))
    out.update(nodes=nodes, connections=connections, settings=_settings(data.get("settings"), report),
               pinData=_pin_data(data.get("pinData"), names))
    if data.get("staticData"):
        report.append(Entry(None, "approximated", "staticData is kept in the workflow file; flowbox's triggers "
                                                  "keep their own state, so polling starts afresh"))
    return Conversion(out, report, placeholders)


def _node(raw: Any, index: int, connections: Mapping[str, Any],
          report: list[Entry]) -> tuple[dict[str, Any], bool]:
    """One n8n node as a flowbox node, or as a placeholder (then True); its notes added to `report`."""
    if not isinstance(raw, Mapping):
        raise WorkflowInvalid(f"node #{index + 1} must be an object", field="nodes")
    name, n8n_type = raw.get("name"), raw.get("type")
    if not isinstance(name, str) or not name.strip():
        raise WorkflowInvalid(f"node #{index + 1} has no name", field="name")
    if not isinstance(n8n_type, str) or not n8n_type:
        raise WorkflowInvalid(f"node '{name}' has no type", node=name, field="type")
    version = raw.get("typeVersion", 1)
    if isinstance(version, bool) or not isinstance(version, (int, float)):
        raise WorkflowInvalid(f"node '{name}': typeVersion must be a number; got {json.dumps(version)[:40]}",
                              node=name, field="typeVersion")
    params = {} if raw.get("parameters") is None else raw["parameters"]
    if not isinstance(params, dict):
        raise WorkflowInvalid(f"node '{name}': 'parameters' must be an object; got {json.dumps(params)[:40]}",
                              node=name, field="parameters")
    original = json.loads(json.dumps(params))  # as exported, before any routing or conversion
    what = f"{n8n_type} v{version:g}"
    node: dict[str, Any] = {"name": name, **{k: raw[k] for k in _KEPT_FIELDS if k in raw}}
    notes = _options(raw, node)
    target, target_version = n8n_type, version
    if n8n_type == item_lists.TYPE:  # legacy Item Lists: each operation is a standalone n8n node now
        try:
            routed, target_version, params = item_lists.route(params, float(version))
        except WorkflowInvalid as exc:
            field = exc.field if exc.field == "typeVersion" else f"parameters.{exc.field}"
            raise WorkflowInvalid(f"node '{name}' ({what}): {exc.message}", node=name, field=field) from None
        target = routed or ""
        if routed is None:
            notes.append(("unsupported", f"operation {params.get('operation')!r} is not supported"))
    found = registry.for_n8n(target) if target else None
    try:
        rerouted = found[1].route(dict(params), float(target_version)) if found and found[1].route else None
    except WorkflowInvalid as exc:
        raise WorkflowInvalid(f"node '{name}' ({what}): {exc.message}", node=name,
                              field=f"parameters.{exc.field}" if exc.field else "parameters") from None
    if rerouted is not None:  # a layout another n8n type's converter takes (Sort by code -> Code)
        target, target_version, params = rerouted
        found = registry.for_n8n(target)
        notes.append(("approximated", f"converted as {target} v{target_version:g}"))
    if found is None and target:
        notes.append(("unsupported", "no flowbox node converts this n8n type"))
        flowbox_type, converted = PLACEHOLDER, {}
    elif found is None:
        flowbox_type, converted = PLACEHOLDER, {}
    else:
        spec, way = found
        if way.versions and float(target_version) not in way.versions:
            known = ", ".join(f"{v:g}" for v in way.versions)
            raise WorkflowInvalid(f"node '{name}': {n8n_type} typeVersion {version:g} is not one flowbox knows "
                                  f"(it converts {known})", node=name, field="typeVersion")
        try:
            converted, more = way.convert(dict(params), float(target_version))
        except WorkflowInvalid as exc:
            raise WorkflowInvalid(f"node '{name}' ({what}): {exc.message}", node=name,
                                  field=f"parameters.{exc.field}" if exc.field else "parameters") from None
        notes = [*notes, *more]
        flowbox_type = spec.type
        for theirs, ours in way.credentials.items():
            if theirs in node.get("credentials", {}):
                node["credentials"][ours] = node["credentials"].pop(theirs)
    if any(level == "unsupported" for level, _ in notes):
        reasons = [message for level, message in notes if level == "unsupported"]
        outputs = max((len(v) for v in (connections.get(name) or {}).values()), default=1)
        converted = {"n8nType": n8n_type, "typeVersion": version, "reason": "; ".join(reasons),
                     "outputs": max(outputs, 1), "node": json.loads(json.dumps(raw))}
        node.pop("alwaysOutputData", None)
        node.update(type=PLACEHOLDER, parameters=converted)
        report.extend(Entry(name, "unsupported", f"{what}: {reason} (kept as a placeholder that refuses to run)")
                      for reason in reasons)
        return node, True
    # typeVersion stays (a node that follows n8n version by version reads it); `n8n` keeps the origin for export
    # the original parameters too: an export of the unedited node writes them back (flowbox.n8n.export)
    node.update(type=flowbox_type, typeVersion=target_version, parameters=converted,
                n8n={"type": n8n_type, "typeVersion": version, "parameters": original})
    report.append(Entry(name, "mapped", f"{what} -> {flowbox_type}"))
    report.extend(Entry(name, level, message) for level, message in notes)
    return node, False


def _options(raw: Mapping[str, Any], node: dict[str, Any]) -> list[tuple[str, str]]:
    """The node settings every n8n node has, into `node`; returns their notes."""
    notes: list[tuple[str, str]] = []
    on_error = raw.get("onError")
    if on_error is None and raw.get("continueOnFail"):
        on_error = "continueRegularOutput"
    if on_error is not None:
        if on_error not in _ON_ERROR:
            raise WorkflowInvalid(f"node '{raw.get('name')}': onError must be one of {', '.join(_ON_ERROR)}; "
                                  f"got {on_error!r}", node=raw.get("name"), field="onError")
        node["onError"] = _ON_ERROR[on_error]
    if raw.get("executeOnce"):
        notes.append(("unsupported", "executeOnce (run the node for the first item only) is not supported"))
    credentials = raw.get("credentials") or {}
    if not isinstance(credentials, dict):
        raise WorkflowInvalid(f"node '{raw.get('name')}': credentials must be an object", node=raw.get("name"),
                              field="credentials")
    if credentials:
        node["credentials"] = {}
        for kind, ref in credentials.items():
            ref_id = ref.get("id") if isinstance(ref, dict) else ref
            label = ref.get("name") if isinstance(ref, dict) else None
            node["credentials"][kind] = str(ref_id or label or "")
            notes.append(("approximated", f"credential {kind} {label or ref_id!r} keeps n8n's id {ref_id!r}: "
                                          "create it in flowbox with that id (or pick another one)"))
    return notes


def _connections(raw: Any) -> dict[str, Any]:
    """n8n's connections, every type (`main`, `ai_tool`, ...) kept as it is once its shape is checked."""
    if not isinstance(raw, dict):
        raise WorkflowInvalid("n8n workflow field 'connections' must be an object", field="connections")
    for source, by_type in raw.items():
        if not isinstance(by_type, dict):
            raise WorkflowInvalid(f"node '{source}': connections must be an object", node=source,
                                  field="connections")
        for kind, outputs in by_type.items():
            if not isinstance(outputs, list) or not all(o is None or isinstance(o, list) for o in outputs):
                raise WorkflowInvalid(f"node '{source}': connections.{kind} must be a list of lists",
                                      node=source, field="connections")
    return json.loads(json.dumps(raw))


def _settings(raw: Any, report: list[Entry]) -> dict[str, Any]:
    """n8n's workflow settings as flowbox's; one flowbox does not have is reported, not kept."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise WorkflowInvalid("n8n workflow field 'settings' must be an object", field="settings")
    out: dict[str, Any] = {"expressionLanguage": "javascript", "executionOrder": "v1"}
    order = raw.get("executionOrder", "v0")
    if order not in ("v0", "v1"):
        raise WorkflowInvalid(f"settings.executionOrder must be 'v0' or 'v1'; got {order!r}",
                              field="settings.executionOrder")
    if order == "v0":
        out["executionOrder"] = "v0"
        report.append(Entry(None, "approximated", "executionOrder v0 (n8n's legacy order) runs in flowbox's "
                                                  "v1 order: each branch depth-first, output 0 first; of v0's own "
                                                  "rules only one is kept: a node waiting on an input nothing fed "
                                                  "first runs the never-run nodes without inputs that feed it"))
    for key, value in raw.items():
        if key == "executionOrder" or value == "DEFAULT":  # n8n's "use the instance default"
            continue
        if key == "timezone" or key == "errorWorkflow":
            if not isinstance(value, str):
                raise WorkflowInvalid(f"settings.{key} must be text; got {json.dumps(value)[:40]}",
                                      field=f"settings.{key}")
            out[key] = value
            if key == "errorWorkflow":
                report.append(Entry(None, "approximated", f"settings.errorWorkflow {value!r} is n8n's workflow "
                                                          "id: import that workflow with the same id"))
        elif key in _SAVE_SETTINGS:
            if value not in _SAVE_SETTINGS[key]:
                raise WorkflowInvalid(f"settings.{key} must be one of {_SAVE_SETTINGS[key]}; got {value!r}",
                                      field=f"settings.{key}")
            out[key] = value
        else:
            report.append(Entry(None, "unsupported", f"setting {key} = {json.dumps(value)[:60]} is not "
                                                     "supported and was left out"))
    return out


def _pin_data(raw: Any, names: set[str]) -> dict[str, list[dict[str, Any]]]:
    """n8n's pinned items (`[{"json": {...}, "binary": ..., "pairedItem": ...}]` or plain objects) as
    flowbox's: the item json, `{"json", "binary"}` when it has binary data."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise WorkflowInvalid("n8n workflow field 'pinData' must be an object", field="pinData")
    out: dict[str, list[dict[str, Any]]] = {}
    for name, items in raw.items():
        if name not in names:
            raise WorkflowInvalid(f"pinData names missing node '{name}'", node=name, field="pinData")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise WorkflowInvalid(f"pinData for node '{name}' must be a list of objects", node=name,
                                  field="pinData")
        out[name] = []
        for item in items:
            if isinstance(item.get("json"), dict) and set(item) <= {"json", "binary", "pairedItem", "index"}:
                out[name].append({"json": item["json"], "binary": item["binary"]} if item.get("binary")
                                 else item["json"])
            else:
                out[name].append(item)
    return out
