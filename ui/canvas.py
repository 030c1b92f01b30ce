"""The workflow canvas: Vue Flow (vendored in `vendor/vueflow.js`) wrapped as a NiceGUI element.

Python owns the workflow; the canvas draws it and reports what the user does. The element keeps its
`nodes`/`edges` props equal to what is on screen (it applies moves, connects and removals itself), so
handlers only update the workflow model.

Props (plain JSON):
    nodes   [{"id": name, "type": "set", "label": name, "subtitle": "Edit Fields", "position": [x, y],
              "inputs": 1 | ["a", "b"], "outputs": ["true", "false"], "icon": "split" (lucide or material name),
              "group": "flow", "trigger": False, "disabled": False, "notes": ""}]
            sticky note: {"id", "type": "stickyNote", "position", "content", "width", "height", "color"}
    edges   [{"source": name, "sourceHandle": output index, "target": name, "targetHandle": input index}]
    states  {name: {"status": "waiting"|"running"|"success"|"error", "items": n,
                    "outputs": [n per output] (optional, edge counts), "error": "message" (optional)}}
    readonly, snap (grid in px, 0 = off)

Events (`canvas.on(name, handler)`; `e.args` is the payload):
    node_moved     {"nodes": [{"id", "position": [x, y]}]}         after a drag stops (all dragged nodes)
    connect        {"source", "sourceHandle": int, "target", "targetHandle": int}
    nodes_removed  {"nodes": [names]}          Delete/Backspace, cut; their edges go with them (no edges_removed)
    edges_removed  {"edges": [edge]}           Delete/Backspace on selected edges, or an edge's delete button
    selection      {"nodes": [names], "edges": [edge]}
    node_click / node_dblclick  {"id"}         pane_click {}
    drop           {"type", "position": [x, y] (top-left for a centred node, snapped), "point": [x, y]}
    copy           {"nodes": [names], "cut": bool}   Ctrl/Cmd+C / X (cut also emits nodes_removed)
    paste          {"text": clipboard text, "position": [x, y] (mouse, else view centre, flow coordinates)}
    undo, redo, run, save  {}                 Ctrl+Z, Ctrl+Shift+Z / Ctrl+Y, Ctrl+Enter, Ctrl+S
    ready          {"nodes": n, "ms": mount-to-first-render}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from nicegui.awaitable_response import AwaitableResponse
from nicegui.element import Element

from flowbox.n8n import PLACEHOLDER

NODE_MIME = "application/flowbox-node"
STICKY = "stickyNote"
EVENTS = ("node_moved", "connect", "nodes_removed", "edges_removed", "selection", "node_click", "node_dblclick",
          "pane_click", "drop", "copy", "paste", "undo", "redo", "run", "save", "ready")


def _edge_key(e: Mapping[str, Any]) -> tuple[str, int, str, int]:
    return (str(e["source"]), int(e.get("sourceHandle") or 0), str(e["target"]), int(e.get("targetHandle") or 0))


class Canvas(Element, component="canvas.js", dependencies=["vendor/vueflow.js"]):
    """A workflow graph editor; see the module docstring for props, events and payloads."""

    def __init__(self, nodes: Iterable[Mapping[str, Any]] = (), edges: Iterable[Mapping[str, Any]] = (),
                 states: Mapping[str, Mapping[str, Any]] | None = None, *, readonly: bool = False,
                 snap: int = 20) -> None:
        super().__init__()
        self._props["nodes"] = [dict(n) for n in nodes]
        self._props["edges"] = [dict(e) for e in edges]
        self._props["states"] = {k: dict(v) for k, v in (states or {}).items()}
        self._props["readonly"] = readonly
        self._props["snap"] = snap
        self.classes("w-full")
        self.style("height: 600px")
        # registered first, so the props mirror the screen before user handlers run
        self.on("node_moved", lambda e: self._moved(e.args))
        self.on("connect", lambda e: self._connected(e.args))
        self.on("nodes_removed", lambda e: self._nodes_removed(e.args))
        self.on("edges_removed", lambda e: self._edges_removed(e.args))

    # ---- state ------------------------------------------------------------------------------------------
    @property
    def nodes(self) -> list[dict[str, Any]]:
        return self._props["nodes"]

    @property
    def edges(self) -> list[dict[str, Any]]:
        return self._props["edges"]

    def set_workflow(self, nodes: Iterable[Mapping[str, Any]], edges: Iterable[Mapping[str, Any]], *,
                     fit: bool = False) -> None:
        """Replace what is drawn (the canvas only redraws what changed)."""
        self._props["nodes"] = [dict(n) for n in nodes]
        self._props["edges"] = [dict(e) for e in edges]
        self.update()
        if fit:
            self.fit_view()

    def set_states(self, states: Mapping[str, Mapping[str, Any]]) -> None:
        """Show run state per node: {name: {status, items, outputs?, error?}}; {} clears."""
        self._props["states"] = {k: dict(v) for k, v in states.items()}
        self.update()

    def set_readonly(self, readonly: bool) -> None:
        self._props["readonly"] = readonly
        self.update()

    # ---- methods run in the browser -----------------------------------------------------------------------
    def fit_view(self, padding: float = 0.2) -> None:
        self.run_method("fit_view", padding)

    def select(self, names: Iterable[str]) -> None:
        """Select exactly these nodes (emits `selection`)."""
        self.run_method("select", list(names))

    def center_on(self, name: str, zoom: float = 1) -> None:
        self.run_method("center_on", name, zoom)

    def write_clipboard(self, text: str) -> AwaitableResponse:
        """Put `text` on the clipboard (answer to a `copy` event); await it for True/False."""
        return self.run_method("write_clipboard", text, timeout=3)

    def viewport(self) -> AwaitableResponse:
        """Await {"x", "y", "zoom"}."""
        return self.run_method("viewport")

    # ---- mirror what the browser already shows --------------------------------------------------------------
    def _moved(self, args: Mapping[str, Any]) -> None:
        where = {m["id"]: list(m["position"]) for m in args.get("nodes", [])}
        for n in self._props["nodes"]:
            if n["id"] in where:
                n["position"] = where[n["id"]]

    def _connected(self, edge: Mapping[str, Any]) -> None:
        if all(_edge_key(e) != _edge_key(edge) for e in self._props["edges"]):
            self._props["edges"].append(dict(edge))

    def _nodes_removed(self, args: Mapping[str, Any]) -> None:
        gone = set(args.get("nodes", []))
        self._props["nodes"] = [n for n in self._props["nodes"] if n["id"] not in gone]
        self._props["edges"] = [e for e in self._props["edges"] if e["source"] not in gone and e["target"] not in gone]

    def _edges_removed(self, args: Mapping[str, Any]) -> None:
        gone = {_edge_key(e) for e in args.get("edges", [])}
        self._props["edges"] = [e for e in self._props["edges"] if _edge_key(e) not in gone]


# The node catalog names icons after lucide (as n8n does); NiceGUI ships the Material Icons font.
ICONS = {
    "play": "play_arrow", "pen": "edit", "split": "call_split", "filter": "filter_alt", "route": "alt_route",
    "merge": "merge", "code": "code", "arrow-right": "arrow_forward", "octagon-x": "dangerous",
    "arrow-up-down": "swap_vert", "scissors": "content_cut", "copy-x": "filter_none", "layers": "layers",
    "list-tree": "account_tree", "repeat": "repeat", "hourglass": "hourglass_empty", "globe": "language",
    "webhook": "webhook", "reply": "reply", "clock": "schedule", "workflow": "account_tree",
    "alert-triangle": "warning", "calendar": "calendar_month", "lock": "lock", "key": "key",
    "sticky-note": "sticky_note_2", "mail": "mail", "database": "storage", "file-text": "description",
    "file": "description", "file-output": "upload_file", "file-input": "file_open", "file-code": "data_object",
    "file-archive": "folder_zip", "rss": "rss_feed", "server": "dns", "send": "send", "sms": "sms",
    "payments": "payments", "forum": "forum", "chat": "chat", "article": "article",
}


def material_icon(name: str | None) -> str:
    """The Material Icons name for a catalog icon (a Material name passes through; unknown: "widgets")."""
    if not name:
        return "widgets"
    return ICONS.get(name) or (name if name.replace("_", "").isalnum() and name.islower() else "widgets")


def palette_item(element: Element, node_type: str) -> Element:
    """Make `element` draggable onto a Canvas as a new `node_type` node (the canvas emits `drop`)."""
    element.props("draggable=true")
    element.on("dragstart", js_handler=f"(e) => {{ e.dataTransfer.setData({NODE_MIME!r}, {node_type!r}); "
                                      "e.dataTransfer.effectAllowed = 'copy'; }")
    return element


# ---- workflow JSON (DESIGN §2) <-> canvas props ---------------------------------------------------------------
def to_canvas(workflow: Mapping[str, Any], spec_of: Callable[[str], Any | None]) -> tuple[list[dict[str, Any]],
                                                                                       list[dict[str, Any]]]:
    """(nodes, edges) props for a workflow; `spec_of(type)` gives its `NodeSpec` or None (unknown type)."""
    nodes: list[dict[str, Any]] = []
    for n in workflow.get("nodes", []):
        params = n.get("parameters") or {}
        pos = list(n.get("position") or [0, 0])[:2]
        if n.get("type") == STICKY:
            nodes.append({"id": n["name"], "type": STICKY, "position": pos,
                          "content": params.get("content", n.get("notes", "")),
                          "width": params.get("width", 240), "height": params.get("height", 160),
                          "color": params.get("color")})
            continue
        spec = spec_of(n.get("type", ""))
        if spec is None:
            inputs, outputs, icon, subtitle, group, trigger = 1, [""], "help", f"unknown: {n.get('type')}", "", False
        else:
            try:
                outputs = spec.output_labels(params)
            except Exception:  # a half-typed parameter must not break drawing
                outputs = spec.output_labels(spec.defaults())
            trigger = bool(spec.trigger)
            try:
                inputs = 0 if trigger else spec.input_count(params)
            except Exception:  # a half-typed parameter must not break drawing
                inputs = spec.input_count(spec.defaults())
            icon, subtitle, group = material_icon(spec.icon), spec.display_name, spec.group
        placeholder = n.get("type") == PLACEHOLDER  # an n8n node flowbox cannot run (flowbox.n8n)
        if placeholder:  # the inputs its n8n connections use (it takes up to ten), not ten empty ones
            subtitle = f"not available in flowbox: {params.get('n8nType') or 'n8n node'}"
            inputs = 1 + max((int(t.get("index") or 0) for by_type in (workflow.get("connections") or {}).values()
                              for targets in (by_type or {}).get("main") or [] for t in targets or []
                              if t.get("node") == n["name"]), default=0)
        if n.get("onError") == "errorOutput":
            outputs = [*(["success"] if outputs == [""] else outputs), "error"]
        nodes.append({"id": n["name"], "type": n.get("type", ""), "label": n["name"], "subtitle": subtitle,
                      "position": pos, "inputs": inputs, "outputs": outputs, "icon": icon, "group": group,
                      "trigger": trigger, "disabled": bool(n.get("disabled")), "notes": n.get("notes") or "",
                      "placeholder": placeholder})
    edges: list[dict[str, Any]] = []
    for source, by_type in (workflow.get("connections") or {}).items():
        for k, targets in enumerate((by_type or {}).get("main") or []):
            for t in targets or []:
                edges.append({"source": source, "sourceHandle": k, "target": t["node"],
                              "targetHandle": int(t.get("index") or 0)})
    return nodes, edges


def to_connections(edges: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Canvas edges back to n8n-shaped `connections`."""
    out: dict[str, Any] = {}
    for e in edges:
        source, k, target, index = _edge_key(e)
        main = out.setdefault(source, {"main": []})["main"]
        while len(main) <= k:
            main.append([])
        main[k].append({"node": target, "type": "main", "index": index})
    return out


__all__ = ["Canvas", "EVENTS", "NODE_MIME", "palette_item", "to_canvas", "to_connections"]
