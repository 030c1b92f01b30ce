"""A flowbox workflow written back as n8n workflow JSON (DESIGN §10, `flowbox export --format n8n`).

A placeholder gives back the n8n node it keeps. A node converted from n8n carries its origin in its
`"n8n"` meta (type, typeVersion, the original parameters): when converting those originals again still
gives the node's current parameters (nobody edited it), the originals are written; otherwise the node's
`N8n.export` writes its parameters as n8n's. A node with neither is reported and written as n8n's No Op
with a note, so the workflow's connections stay whole. The node options (onError, retries, disabled,
notes, credentials), connections of every type, settings and pinData are mapped back here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from flowbox import registry
from flowbox.n8n.convert import _KEPT_FIELDS, _ON_ERROR, _SAVE_SETTINGS, PLACEHOLDER, Entry
from flowbox.node import N8n

NO_OP = "n8n-nodes-base.noOp"
_ON_ERROR_BACK = {flowbox: n8n for n8n, flowbox in _ON_ERROR.items()} | {"continue": "continueRegularOutput"}
_FLOWBOX_ONLY = ("id", "version", "createdAt", "updatedAt", "conversion", "active", "nodes", "connections",
                 "settings", "pinData")
_ID_SPACE = uuid.UUID("6f1d7c0e-3b7a-4c41-9d55-0f1b0c8e2a11")


def to_n8n(data: Mapping[str, Any], credential_names: Mapping[str, str] | None = None,
           ) -> tuple[dict[str, Any], list[Entry]]:
    """n8n workflow JSON for flowbox workflow JSON `data`, and a report of what each node became; a node's
    credential is `{"id", "name"}` with its name from `credential_names` (by id; else the id)."""
    report: list[Entry] = []
    names = credential_names or {}
    nodes = [_node(raw, report, names) for raw in data.get("nodes") or [] if isinstance(raw, Mapping)]
    out: dict[str, Any] = {"name": data.get("name", "")}
    out.update(nodes=nodes, connections=_copy(data.get("connections") or {}),
               settings=_settings(data.get("settings") or {}, report), pinData=_pin_data(data.get("pinData")))
    out.update({k: _copy(v) for k, v in data.items() if k not in _FLOWBOX_ONLY})
    out["active"] = False
    return out, report


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _node(raw: Mapping[str, Any], report: list[Entry], names: Mapping[str, str]) -> dict[str, Any]:
    """One flowbox node as an n8n node; what happened is added to `report`."""
    name = str(raw.get("name", ""))
    params = _copy(raw.get("parameters") or {})
    if raw.get("type") == PLACEHOLDER and isinstance(params.get("node"), Mapping):
        node = _copy(params["node"])
        node.update(name=name, **({"position": raw["position"]} if "position" in raw else {}))
        report.append(Entry(name, "mapped", f"{node.get('type')}: the original n8n node, as imported"))
        return node
    n8n_type, version, n8n_params, notes = _parameters(raw, params)
    node = {"parameters": n8n_params, "id": raw.get("id") or str(uuid.uuid5(_ID_SPACE, name)), "name": name,
            "type": n8n_type, "typeVersion": version, "position": list(raw.get("position") or [0, 0])}
    node.update({k: _copy(raw[k]) for k in _KEPT_FIELDS if k in raw and k not in node})
    on_error = raw.get("onError")
    if on_error in _ON_ERROR_BACK and on_error != "stop":
        node["onError"] = _ON_ERROR_BACK[on_error]
    if raw.get("credentials"):
        spec = registry.get_or_none(str(raw.get("type", "")))
        back = {ours: theirs for way in (spec.n8n if spec is not None else ()) if n8n_type in way.types
                for theirs, ours in way.credentials.items()}  # flowbox's mysql is n8n's mySql
        node["credentials"] = {back.get(kind, kind): ref if isinstance(ref, Mapping) else
                               {"id": str(ref), "name": names.get(str(ref), str(ref))}
                               for kind, ref in raw["credentials"].items()}
    for level, message in notes:
        report.append(Entry(name, level, message))
        if level == "unsupported":
            node["notes"] = "\n".join(filter(None, [node.get("notes"), f"flowbox: {message}"]))
    return node


def _parameters(raw: Mapping[str, Any], params: dict[str, Any]) -> tuple[str, float, dict[str, Any], list[tuple[str, str]]]:
    """n8n's type, typeVersion and parameters for a flowbox node, with the notes."""
    flowbox_type = str(raw.get("type", ""))
    spec = registry.get_or_none(flowbox_type)
    meta = raw.get("n8n") if isinstance(raw.get("n8n"), Mapping) else None
    ways = spec.n8n if spec is not None else ()
    if meta is not None:
        n8n_type, version = str(meta.get("type")), meta.get("typeVersion", raw.get("typeVersion", 1))
        way = next((w for w in ways if n8n_type in w.types), None)
        original = meta.get("parameters")
        if isinstance(original, dict) and way is not None and _unedited(way, original, float(version), params):
            return n8n_type, version, _copy(original), [("mapped", f"{flowbox_type} -> {n8n_type} v{version:g} "
                                                                   "(its n8n parameters, unedited)")]
        if way is not None and way.export is None:  # another layout of the node may write it (cron -> schedule)
            way = next((w for w in ways if w.export is not None), way)
        if way is not None and way.export is not None:
            out, written, more = way.export(params, float(version))
            return way.types[0], _number(written), out, [
                ("mapped", f"{flowbox_type} -> {way.types[0]} v{written:g} (edited in flowbox, parameters "
                           "written back)"), *more]
        message = (f"{flowbox_type} was edited in flowbox and has no n8n export: its n8n parameters as imported "
                   "were written, the edits were not")
        return n8n_type, version, _copy(original) if isinstance(original, dict) else params, [("unsupported", message)]
    way = next((w for w in ways if w.export is not None), None)
    if way is not None:
        out, written, more = way.export(params, None)
        return way.types[0], _number(written), out, [("mapped", f"{flowbox_type} -> {way.types[0]} v{written:g}"),
                                                     *more]
    message = (f"{flowbox_type} has no n8n counterpart flowbox can write: exported as n8n's No Op; its "
               f"parameters were {json.dumps(params)[:200]}")
    return NO_OP, 1, {}, [("unsupported", message)]


def _unedited(way: N8n, original: dict[str, Any], version: float, params: dict[str, Any]) -> bool:
    """Whether converting the original n8n parameters again still gives the node's current parameters."""
    try:
        again, _ = way.convert(_copy(original), version)
    except Exception:  # noqa: BLE001 - a converter that now refuses the originals: treat the node as edited
        return False
    return _copy(again) == params


def _number(version: float) -> float:
    """A typeVersion as n8n writes it: 1, not 1.0."""
    return int(version) if float(version).is_integer() else version


def _settings(raw: Mapping[str, Any], report: list[Entry]) -> dict[str, Any]:
    """flowbox's settings as n8n's; one n8n does not have is reported and left out."""
    out: dict[str, Any] = {"executionOrder": "v0" if raw.get("executionOrder") == "v0" else "v1"}
    for key, value in raw.items():
        if key in ("timezone", "errorWorkflow") or key in _SAVE_SETTINGS:
            out[key] = value
        elif key == "expressionLanguage":
            if value != "javascript":
                report.append(Entry(None, "approximated", "the workflow's expressions are Python (flowbox's "
                                                          "default): n8n reads them as text; rewrite them in "
                                                          "n8n's JavaScript"))
        elif key != "executionOrder":
            report.append(Entry(None, "unsupported", f"setting {key} = {json.dumps(value)[:60]} has no n8n "
                                                     "counterpart and was left out"))
    return out


def _pin_data(raw: Any) -> dict[str, list[dict[str, Any]]]:
    """flowbox's pinned items as n8n's `[{"json": {...}}]` (`{"json", "binary"}` kept as it is)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, items in (raw or {}).items():
        out[name] = [_copy(item) if isinstance(item, dict) and set(item) == {"json", "binary"}
                     else {"json": _copy(item)} for item in items or []]
    return out
