"""The workflow editor: palette, canvas, parameter panel, run with live node states, data inspection.

Route `/workflow/{id}` (add `?execution=ID` to show a past execution read-only on the canvas).
The page keeps the workflow as n8n-shaped JSON (`Editor.doc`); the canvas draws it and reports
edits, the panel edits one node, and every change goes through `Editor.change()` so undo,
redo and the unsaved-changes guard see it. Saving goes through `Operations.update_workflow`
(a new version); running through `Operations.run_manual` (the canvas as it is, saved or not).
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from nicegui import context, ui

from flowbox import registry
from flowbox.errors import FlowboxError
from flowbox.n8n import PLACEHOLDER, accept
from flowbox.ui.canvas import STICKY, Canvas, material_icon, palette_item, to_canvas
from flowbox.ui.credentials_page import credential_form
from flowbox.ui.layout import frame, notify_error
from flowbox.ui.n8n_report import download_n8n, placeholder_panel, replaced, report_dialog
from flowbox.ui.param_panel import ParamPanel

UNDO_DEPTH = 100


def testid(name: str) -> str:
    """A `data-testid` prop, so browser tests find elements the way users see them."""
    return f'data-testid="{name}"'


def unique_name(wanted: str, taken: set[str]) -> str:
    """`wanted`, or `wanted 1`, `wanted 2`, ... whichever is free (n8n's rule)."""
    if wanted not in taken:
        return wanted
    base = wanted.rstrip("0123456789").rstrip() or wanted
    n = 1
    while f"{base} {n}" in taken:
        n += 1
    return f"{base} {n}"


NODE_STEP = 240  # from one node to the next, left to right
NODE_BOX = (200, 80)  # what a node covers on the canvas, with some room below


def _xy(node: dict[str, Any] | None) -> tuple[float, float]:
    pos = (node or {}).get("position") or [0, 0]
    return float(pos[0]), float(pos[1])


def free_position(doc: dict[str, Any], at: list[float]) -> list[float]:
    """`at`, or the first spot below it where a new node covers no other node (drops never stack)."""
    boxes = [_xy(n) for n in doc["nodes"] if n.get("type") != STICKY]
    x, y = at
    w, h = NODE_BOX
    while any(abs(x - bx) < w and abs(y - by) < h for bx, by in boxes):
        y += h + 20
    return [x, y]


def paste_nodes(doc: dict[str, Any], text: str, at: list[float]) -> list[str]:
    """Add the nodes of pasted workflow JSON (a workflow, a list of nodes or one node) to `doc`.

    Names that are taken get a number; connections among the pasted nodes follow the renames;
    positions keep their layout, moved so the group starts at `at`. Returns the new names.
    """
    data = json.loads(text)
    if isinstance(data, dict) and "nodes" in data:
        nodes, connections = data.get("nodes") or [], data.get("connections") or {}
    elif isinstance(data, list):
        nodes, connections = data, {}
    elif isinstance(data, dict) and "type" in data:
        nodes, connections = [data], {}
    else:
        raise ValueError("the clipboard holds no workflow JSON (no 'nodes')")
    if not all(isinstance(n, dict) and n.get("name") and n.get("type") for n in nodes):
        raise ValueError("every pasted node needs a name and a type")
    taken = {n["name"] for n in doc["nodes"]}
    renames: dict[str, str] = {}
    xs = [float((n.get("position") or [0, 0])[0]) for n in nodes] or [0]
    ys = [float((n.get("position") or [0, 0])[1]) for n in nodes] or [0]
    for n in nodes:
        name = unique_name(str(n["name"]), taken)
        taken.add(name)
        renames[n["name"]] = name
        pos = n.get("position") or [0, 0]
        doc["nodes"].append({**copy.deepcopy(n), "name": name,
                             "position": [at[0] + float(pos[0]) - min(xs), at[1] + float(pos[1]) - min(ys)]})
    for source, by_type in connections.items():
        if source not in renames:
            continue
        for k, targets in enumerate((by_type or {}).get("main") or []):
            for t in targets or []:
                if t.get("node") in renames:
                    add_connection(doc, renames[source], k, renames[t["node"]], int(t.get("index") or 0))
    return [renames[n["name"]] for n in nodes]


def add_connection(doc: dict[str, Any], source: str, output: int, target: str, index: int) -> None:
    main = doc.setdefault("connections", {}).setdefault(source, {"main": []}).setdefault("main", [])
    while len(main) <= output:
        main.append([])
    if not any(t["node"] == target and int(t.get("index") or 0) == index for t in main[output]):
        main[output].append({"node": target, "type": "main", "index": index})


def remove_nodes(doc: dict[str, Any], names: set[str]) -> None:
    doc["nodes"] = [n for n in doc["nodes"] if n["name"] not in names]
    conns = doc.get("connections") or {}
    for name in names:
        conns.pop(name, None)
    for by_type in conns.values():
        by_type["main"] = [[t for t in targets or [] if t["node"] not in names] for targets in by_type.get("main", [])]
    for name in names:
        (doc.get("pinData") or {}).pop(name, None)


def rename_node(doc: dict[str, Any], old: str, new: str) -> None:
    """Rename a node everywhere: the node, connections from and to it, pinned data."""
    for n in doc["nodes"]:
        if n["name"] == old:
            n["name"] = new
    conns = doc.get("connections") or {}
    if old in conns:
        conns[new] = conns.pop(old)
    for by_type in conns.values():
        for targets in by_type.get("main", []):
            for t in targets or []:
                if t["node"] == old:
                    t["node"] = new
    pins = doc.get("pinData") or {}
    if old in pins:
        pins[new] = pins.pop(old)


def selection_json(doc: dict[str, Any], names: list[str]) -> str:
    """The selected nodes and the connections among them, as workflow JSON (what Ctrl+C copies)."""
    chosen = set(names)
    nodes = [n for n in doc["nodes"] if n["name"] in chosen]
    connections: dict[str, Any] = {}
    for source, by_type in (doc.get("connections") or {}).items():
        if source not in chosen:
            continue
        main = [[t for t in targets or [] if t["node"] in chosen] for targets in by_type.get("main", [])]
        if any(main):
            connections[source] = {"main": main}
    return json.dumps({"nodes": nodes, "connections": connections}, indent=2)


def stored_runs(doc: dict[str, Any], nodes: dict[str, list[Any]]) -> dict[str, list[dict[str, Any]]]:
    """An execution's stored node runs as the editor keeps them: {inputs, outputs, error} per run (json).

    The store keeps each run's outputs, not its inputs (they are the outputs of the nodes before it), so
    the inputs are read back along the workflow's connections: input k of a node's run i is what the
    node connected to input k gave on its run i (or its last run), preferring the run's recorded source.
    """
    incoming: dict[str, dict[int, list[tuple[str, int]]]] = {}
    for source, by_type in (doc.get("connections") or {}).items():
        for k, targets in enumerate((by_type or {}).get("main") or []):
            for t in targets or []:
                incoming.setdefault(t["node"], {}).setdefault(int(t.get("index") or 0), []).append((source, k))

    def output_of(source: str, k: int, i: int) -> list[dict[str, Any]]:
        runs = nodes.get(source) or []
        if not runs:
            return []
        outputs = runs[min(i, len(runs) - 1)].outputs
        return list(outputs[k]) if k < len(outputs) else []

    result: dict[str, list[dict[str, Any]]] = {}
    for name, runs in nodes.items():
        by_input = incoming.get(name, {})
        result[name] = []
        for i, r in enumerate(runs):
            inputs = []
            for index in range(max(by_input, default=-1) + 1):
                sources = [c for c in by_input.get(index, []) if c[0] in nodes]
                chosen = [c for c in sources if c[0] == r.source] or sources[:1]
                inputs.append([item for source, k in chosen for item in output_of(source, k, i)])
            result[name].append({"inputs": inputs, "outputs": r.outputs, "error": r.error})
    return result


def run_state(outputs: list[list[Any]], error: str | None) -> dict[str, Any]:
    """A node's state on the canvas after a run: status, item count, items per output, error."""
    return {"status": "error" if error else "success", "items": sum(len(o) for o in outputs),
            "outputs": [len(o) for o in outputs], "error": error}


def items_table(items: list[dict[str, Any]], limit: int = 200) -> None:
    """Items as a table (one column per top-level key) and as JSON, in tabs."""
    if not items:
        ui.label("No items").classes("text-sm text-grey-7")
        return
    with ui.tabs().classes("w-full").props("dense align=left") as tabs:
        table_tab = ui.tab("Table")
        json_tab = ui.tab("JSON")
    with ui.tab_panels(tabs, value=table_tab).classes("w-full"):
        with ui.tab_panel(table_tab).classes("p-0"):
            keys: list[str] = []
            for item in items[:limit]:
                keys += [k for k in item if k not in keys]
            rows = [{k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in item.items()} | {"#": i}
                    for i, item in enumerate(items[:limit])]
            columns = [{"name": k, "label": k, "field": k, "align": "left"} for k in keys]
            ui.table(columns=columns, rows=rows, row_key="#").classes("w-full").props("dense flat bordered") \
                .mark("items-table").props(testid("items-table"))
            if len(items) > limit:
                ui.label(f"showing {limit} of {len(items)} items").classes("text-xs text-grey-7")
        with ui.tab_panel(json_tab).classes("p-0"):
            ui.code(json.dumps(items[:limit], indent=2, default=str), language="json").classes("w-full text-xs")


class Editor:
    """One open workflow in one browser tab."""

    def __init__(self, services: Any, record: Any, execution: Any = None) -> None:
        self.services = services
        self.id = record.id
        self.doc: dict[str, Any] = copy.deepcopy(record.data)
        self.doc.setdefault("nodes", [])
        self.doc.setdefault("connections", {})
        self.doc.setdefault("settings", {})
        self.doc.setdefault("pinData", {})
        self.doc["name"] = record.name
        self.active = record.active
        self.version = record.version
        self.catalog = {spec["type"]: spec for spec in services.catalog()}
        self.undo_stack: list[str] = []
        self.redo_stack: list[str] = []
        self.dirty = False
        self.selected: str | None = None
        self.runs: dict[str, list[dict[str, Any]]] = {}  # node -> runs {inputs, outputs, error} (json)
        self.last_execution: str | None = None
        self.states: dict[str, dict[str, Any]] = {}
        self.readonly = execution is not None
        self.multi_selected = 0
        self.webhook_urls: tuple[str, Any, Any] | None = None
        request = context.client.request
        self.origin = str(request.base_url).rstrip("/") if request is not None else \
            f"http://127.0.0.1:{services.settings.port}"
        if execution is not None:
            self.doc = copy.deepcopy(execution.workflow_data or self.doc)
            self.last_execution = execution.id
            self.runs = stored_runs(self.doc, execution.nodes)
            self.states = {name: run_state(runs[-1].outputs, runs[-1].error) for name, runs in execution.nodes.items()}
        self.build()

    # ------------------------------------------------------------------ layout
    def build(self) -> None:
        with ui.row().classes("w-full items-center gap-2 px-2 py-1 border-b"):
            self.name_input = ui.input(value=self.doc["name"]).props("dense borderless").classes(
                "text-lg font-medium w-72").mark("workflow-name").props(testid("workflow-name"))
            self.name_input.on("blur", lambda: self.rename_workflow(self.name_input.value))
            self.dirty_mark = ui.label("").classes("text-amber-700 text-sm")
            ui.space()
            if self.readonly:
                ui.label(f"Execution {self.last_execution} (read-only)").classes("text-sm text-grey-8")
                ui.button("Open in editor", on_click=lambda: ui.navigate.to(f"/workflow/{self.id}")).props("flat")
            else:
                ui.switch("Active", value=self.active, on_change=lambda e: self.set_active(e.value)).mark("active").props(testid("active"))
                ui.button("Settings", icon="tune", on_click=self.settings_dialog).props("flat dense")
                ui.button("Executions", icon="history",
                          on_click=lambda: ui.navigate.to(f"/executions?workflow={self.id}")).props("flat dense")
                with ui.button(icon="more_vert").props("flat dense").props(testid("workflow-menu")), ui.menu():
                    ui.menu_item("Download as n8n JSON", lambda: download_n8n(self.services, self.doc)).props(
                        testid("download-n8n"))
                ui.button("Save", icon="save", on_click=self.save).props("dense").mark("save").props(testid("save"))
                self.run_button = ui.button("Run workflow", icon="play_arrow", on_click=lambda: self.run()) \
                    .props("dense color=deep-orange").mark("run").props(testid("run"))
        with ui.row().classes("w-full no-wrap gap-0").style("height: calc(100vh - 110px)"):
            if not self.readonly:
                self.palette()
            with ui.column().classes("grow h-full p-0"):
                nodes, edges = to_canvas(self.doc, registry.get_or_none)
                self.canvas = Canvas(nodes, edges, self.states, readonly=self.readonly).classes("w-full h-full") \
                    .style("height: 100%").mark("canvas").props(testid("canvas"))
            self.side = ui.column().classes("w-[380px] h-full overflow-auto border-l p-3 gap-2").mark("side").props(testid("side"))
        self.wire()
        self.show_side()
        self.canvas.fit_view()

    def palette(self) -> None:
        with ui.column().classes("w-60 h-full overflow-auto border-r p-2 gap-1").mark("palette").props(testid("palette")):
            search = ui.input(placeholder="Search nodes").props("dense clearable outlined").classes("w-full")
            holder = ui.column().classes("w-full gap-0")

            def draw() -> None:
                holder.clear()
                text = (search.value or "").lower()
                groups: dict[str, list[dict[str, Any]]] = {}
                for spec in self.catalog.values():
                    hay = f"{spec['type']} {spec['displayName']} {spec['description']}".lower()
                    if text in hay:
                        groups.setdefault(spec["group"], []).append(spec)
                with holder:
                    order = ["trigger", "flow", "transform", "integration"]
                    for group in sorted(groups, key=lambda g: (order.index(g) if g in order else len(order), g)):
                        ui.label(group.capitalize()).classes("text-xs uppercase text-grey-7 mt-2")
                        for spec in sorted(groups[group], key=lambda s: s["displayName"]):
                            with ui.row().classes("w-full items-center gap-2 px-2 py-1 rounded cursor-grab "
                                                  "hover:bg-grey-2 no-wrap").mark(f"palette-{spec['type']}").props(testid(f"palette-{spec['type']}")) as row:
                                ui.icon(material_icon(spec["icon"])).classes("text-grey-8")
                                with ui.column().classes("gap-0"):
                                    ui.label(spec["displayName"]).classes("text-sm")
                                    ui.label(spec["description"]).classes("text-xs text-grey-7 leading-tight")
                            palette_item(row, spec["type"])
                            row.on("dblclick", lambda _, t=spec["type"]: self.add_node(t, None))

            search.on_value_change(draw)
            draw()

    def wire(self) -> None:
        c = self.canvas
        c.on("drop", lambda e: self.add_node(e.args["type"], e.args.get("position")))
        c.on("node_moved", lambda e: self.moved(e.args))
        c.on("connect", lambda e: self.connected(e.args))
        c.on("nodes_removed", lambda e: self.change(lambda: remove_nodes(self.doc, set(e.args["nodes"]))))
        c.on("edges_removed", lambda e: self.change(lambda: self._remove_edges(e.args["edges"])))
        c.on("selection", lambda e: self.selection(e.args.get("nodes") or []))
        c.on("node_click", lambda e: self.select(e.args["id"]))
        c.on("node_dblclick", lambda e: self.select(e.args["id"]))
        c.on("pane_click", lambda _: self.select(None))
        c.on("copy", self.copy)
        c.on("paste", lambda e: self.paste(e.args.get("text") or "", e.args.get("position") or [0, 0]))
        c.on("undo", lambda _: self.undo())
        c.on("redo", lambda _: self.redo())
        c.on("run", lambda _: self.run())
        c.on("save", lambda _: self.save())

    # ------------------------------------------------------------------ editing
    def change(self, mutate: Any, redraw: bool = True) -> None:
        """Apply an edit to `doc` with undo, the dirty mark and a redraw."""
        if self.readonly:
            return
        self.undo_stack.append(json.dumps(self.doc))
        del self.undo_stack[:-UNDO_DEPTH]
        self.redo_stack.clear()
        mutate()
        self.mark_dirty(True)
        if redraw:
            self.redraw()
        if self.node(self.selected) is None:  # the summary counts the nodes
            self.selected = None
            self.show_side()

    def mark_dirty(self, dirty: bool) -> None:
        self.dirty = dirty
        self.dirty_mark.text = "unsaved changes" if dirty else ""
        ui.run_javascript("window.onbeforeunload = " + ("(e) => { e.preventDefault(); return ''; }" if dirty
                                                        else "null"))

    def redraw(self, fit: bool = False) -> None:
        nodes, edges = to_canvas(self.doc, registry.get_or_none)
        self.canvas.set_workflow(nodes, edges, fit=fit)

    def undo(self) -> None:
        if self.undo_stack:
            self.redo_stack.append(json.dumps(self.doc))
            self.doc = json.loads(self.undo_stack.pop())
            self.mark_dirty(True)
            self.redraw()
            self.show_side()

    def redo(self) -> None:
        if self.redo_stack:
            self.undo_stack.append(json.dumps(self.doc))
            self.doc = json.loads(self.redo_stack.pop())
            self.mark_dirty(True)
            self.redraw()
            self.show_side()

    def node(self, name: str | None) -> dict[str, Any] | None:
        return next((n for n in self.doc["nodes"] if n["name"] == name), None)

    def add_node(self, type_: str, position: list[float] | None) -> None:
        """Add a node of `type_` at `position` (None: right of the selected or last node), on a free spot."""
        taken = {n["name"] for n in self.doc["nodes"]}
        if type_ == STICKY:
            new = {"name": unique_name("Note", taken), "type": STICKY, "parameters": {"content": "Write a note"}}
        else:
            spec = self.catalog.get(type_)
            if spec is None:
                ui.notify(f"unknown node type {type_!r}", type="negative")
                return
            new = {"name": unique_name(spec["displayName"], taken), "type": type_, "parameters": {}}
            for param in spec.get("params") or []:  # start code editors from the node's example, as n8n does
                if param.get("kind") == "code" and param.get("required") and param.get("placeholder"):
                    new["parameters"][param["name"]] = param["placeholder"]
            if spec.get("trigger") and any(p["name"] == "path" and p.get("required") and not p.get("default")
                                           for p in spec.get("params") or []):
                new["parameters"]["path"] = str(uuid.uuid4())  # a unique URL to start from, as n8n gives
        if position is None:
            anchor = self.node(self.selected) or (max(self.doc["nodes"], key=lambda n: _xy(n)[0])
                                                  if self.doc["nodes"] else None)
            position = [_xy(anchor)[0] + NODE_STEP, _xy(anchor)[1]] if anchor else [0, 0]
        new["position"] = free_position(self.doc, [float(position[0]), float(position[1])])
        self.change(lambda: self.doc["nodes"].append(new))
        self.select(new["name"])
        self.canvas.select([new["name"]])

    def moved(self, args: dict[str, Any]) -> None:
        where = {m["id"]: m["position"] for m in args.get("nodes", [])}

        def move() -> None:
            for n in self.doc["nodes"]:
                if n["name"] in where:
                    n["position"] = list(where[n["name"]])

        self.change(move, redraw=False)

    def connected(self, edge: dict[str, Any]) -> None:
        self.change(lambda: add_connection(self.doc, edge["source"], int(edge.get("sourceHandle") or 0),
                                           edge["target"], int(edge.get("targetHandle") or 0)))

    def _remove_edges(self, edges: list[dict[str, Any]]) -> None:
        gone = {(e["source"], int(e.get("sourceHandle") or 0), e["target"], int(e.get("targetHandle") or 0))
                for e in edges}
        for source, by_type in (self.doc.get("connections") or {}).items():
            by_type["main"] = [[t for t in targets or [] if (source, k, t["node"], int(t.get("index") or 0))
                                not in gone] for k, targets in enumerate(by_type.get("main", []))]

    async def copy(self, e: Any) -> None:
        names = e.args.get("nodes") or []
        if names:
            await self.canvas.write_clipboard(selection_json(self.doc, names))

    def paste(self, text: str, at: list[float]) -> None:
        added: list[str] = []

        def apply() -> None:
            added.extend(paste_nodes(self.doc, text, at))

        try:
            data = json.loads(text)
        except ValueError:
            ui.notify("The clipboard holds no workflow JSON", type="warning")
            return
        try:
            converted, conversion = accept(data)  # n8n JSON goes through the same conversion as an import
            if conversion is not None:
                text = json.dumps(converted)
            self.change(apply)
        except (ValueError, FlowboxError) as exc:
            ui.notify(str(exc), type="warning")
            return
        if added:
            self.canvas.select(added)
        if conversion is not None:
            report_dialog("Pasted nodes", conversion.to_json())

    def rename_workflow(self, name: str) -> None:
        name = (name or "").strip() or "Untitled"
        if name != self.doc["name"]:
            self.change(lambda: self.doc.__setitem__("name", name), redraw=False)

    def rename_node(self, old: str, new: str) -> None:
        new = new.strip()
        if not new or new == old:
            return
        if self.node(new) is not None:
            ui.notify(f"A node named '{new}' already exists", type="warning")
            return
        self.change(lambda: rename_node(self.doc, old, new))
        if old in self.runs:
            self.runs[new] = self.runs.pop(old)
        self.selected = new
        self.show_side()

    def node_changed(self, updated: dict[str, Any]) -> None:
        name = updated["name"]

        def apply() -> None:
            for i, n in enumerate(self.doc["nodes"]):
                if n["name"] == name:
                    self.doc["nodes"][i] = {**n, **updated, "position": n.get("position", [0, 0])}

        self.change(apply, redraw=True)
        changed = self.node(name)
        if changed is not None:
            self.show_webhook_urls(changed)

    # ------------------------------------------------------------------ side panel
    def select(self, name: str | None) -> None:
        if name != self.selected:
            self.selected = name
            self.show_side()

    def selection(self, names: list[str]) -> None:
        """The canvas' selection changed: one node opens in the panel, none or several show the summary."""
        count = len(names) if len(names) > 1 else 0
        if count != self.multi_selected:
            self.multi_selected = count
            if self.selected is None and len(names) != 1:
                self.show_side()
        self.select(names[0] if len(names) == 1 else None)

    def show_side(self) -> None:
        self.side.clear()
        self.webhook_urls = None
        with self.side:
            node = self.node(self.selected)
            if node is None:
                self.workflow_summary()
                return
            if node["type"] == STICKY:
                ui.label("Sticky note").classes("text-base font-medium")
                note = ui.textarea(value=(node.get("parameters") or {}).get("content", ""),
                                   on_change=lambda e: self.node_changed(
                                       {**node, "parameters": {**(node.get("parameters") or {}), "content": e.value}})
                                   ).classes("w-full")
                if self.readonly:
                    note.disable()
                return
            spec = self.catalog.get(node["type"])
            name_input = ui.input("Name", value=node["name"]).props("dense outlined").classes("w-full") \
                .mark("node-name").props(testid("node-name"))
            if self.readonly:
                name_input.disable()
            else:
                name_input.on("blur", lambda: self.rename_node(node["name"], name_input.value))
                name_input.on("keydown.enter", lambda: self.rename_node(node["name"], name_input.value))
            if spec is None:
                ui.label(f"Unknown node type {node['type']!r}").classes("text-negative")
                return
            ui.label(spec["description"]).classes("text-xs text-grey-7")
            if node["type"] == PLACEHOLDER:
                types = sorted(((t, s["displayName"]) for t, s in self.catalog.items() if t != PLACEHOLDER),
                               key=lambda pair: pair[1])
                placeholder_panel(node, types, lambda t: self.replace_node(node, t), readonly=self.readonly)
                return
            if node["type"] == "webhook":
                self.webhook_box(node)
            if not self.readonly:
                with ui.row().classes("gap-2"):
                    ui.button("Run up to here", icon="play_arrow",
                              on_click=lambda: self.run(destination=node["name"])).props("dense flat") \
                        .mark("run-to").props(testid("run-to"))
                    pinned = node["name"] in (self.doc.get("pinData") or {})
                    ui.button("Unpin" if pinned else "Pin output", icon="push_pin",
                              on_click=lambda: self.toggle_pin(node["name"])).props("dense flat") \
                        .mark("pin").props(testid("pin"))
                    if pinned:
                        ui.button("Edit pinned", icon="edit",
                                  on_click=lambda: self.edit_pin(node["name"])).props("dense flat")
            with ui.expansion("Parameters", value=True).classes("w-full"):
                ParamPanel(spec, node, self.node_changed, self.preview_for(node["name"]),
                           credentials=_Credentials(self.services), readonly=self.readonly)
            self.data_view(node["name"])

    def replace_node(self, node: dict[str, Any], type_: str) -> None:
        """Put a node of `type_` in `node`'s place (a placeholder's), keeping its name and connections."""
        new = replaced(node, type_, {})
        self.change(lambda: self.doc.__setitem__("nodes", [new if n["name"] == node["name"] else n
                                                                  for n in self.doc["nodes"]]))
        self.show_side()

    def workflow_summary(self) -> None:
        with ui.column().classes("w-full gap-2").props(testid("workflow-summary")):
            ui.label("Workflow").classes("text-base font-medium")
            ui.label(f"{len(self.doc['nodes'])} nodes · version {self.version}").classes("text-sm text-grey-8")
            if self.multi_selected > 1:
                ui.label(f"{self.multi_selected} nodes selected").classes("text-sm text-grey-8")
            ui.label("Drag nodes from the palette, connect outputs to inputs, click a node to edit it. "
                     "Ctrl+Enter runs, Ctrl+S saves, Ctrl+Z undoes, Delete removes, Ctrl+C/V copy and paste "
                     "(workflow JSON, also from n8n).").classes("text-xs text-grey-7")
            if self.last_execution:
                ui.link("Last execution", f"/execution/{self.last_execution}").classes("text-sm")

    def webhook_box(self, node: dict[str, Any]) -> None:
        with ui.card().classes("w-full p-2 bg-grey-1").props("flat bordered"):
            ui.label("Webhook URLs").classes("text-sm font-medium")
            test = ui.label("").classes("text-xs font-mono break-all").mark("test-url").props(testid("test-url"))
            prod = ui.label("").classes("text-xs font-mono break-all").props(testid("prod-url"))
            self.webhook_urls = (node["name"], test, prod)
            self.show_webhook_urls(node)
            status = ui.label("").classes("text-xs text-grey-8")

            async def listen() -> None:
                status.text = "Listening for a test call (120 s)..."
                try:
                    execution_id = await self.services.listen_test(self.id, data=self.doc, timeout=120)
                except Exception as exc:  # shown to the user, never crashes the page
                    status.text = ""
                    notify_error(exc)
                    return
                status.text = "Received a call."
                if execution_id:
                    await self.load_execution(execution_id)

            if not self.readonly:
                ui.button("Listen for test event", icon="hearing", on_click=listen).props("dense flat")

    def show_webhook_urls(self, node: dict[str, Any]) -> None:
        """Put the node's current path into the webhook URL labels (as the path is typed)."""
        if self.webhook_urls is None or self.webhook_urls[0] != node["name"]:
            return
        path = str((node.get("parameters") or {}).get("path") or "").strip("/")
        _, test, prod = self.webhook_urls
        test.set_text(f"Test: {self.origin}/webhook-test/{path}")
        prod.set_text(f"Production: {self.origin}/webhook/{path}")

    def data_view(self, name: str) -> None:
        runs = self.runs.get(name)
        pinned = (self.doc.get("pinData") or {}).get(name)
        with ui.expansion("Input", value=False).classes("w-full").props(testid("input")):
            items_table(self.input_items(name))
        with ui.expansion("Output", value=True).classes("w-full").mark("output").props(testid("output")):
            if pinned is not None:
                ui.label("Pinned data (used instead of running the node)").classes("text-xs text-amber-800")
            if runs and runs[-1]["error"]:
                ui.label(runs[-1]["error"]).classes("text-negative text-sm whitespace-pre-wrap").mark("node-error").props(testid("node-error"))
            if not runs and pinned is None:
                ui.label("Run the workflow (or up to this node) to see its output.").classes("text-sm text-grey-7")
                return
            outputs = runs[-1]["outputs"] if runs else [[_json_of(i) for i in pinned or []]]
            labels = self._output_labels(name, len(outputs))
            for label, items in zip(labels, outputs, strict=False):
                if len(outputs) > 1:
                    ui.label(f"{label}: {len(items)} item{'' if len(items) == 1 else 's'}").classes(
                        "text-xs font-medium mt-1")
                items_table(items)

    def _output_labels(self, name: str, n: int) -> list[str]:
        node = self.node(name)
        spec = registry.get_or_none(node["type"]) if node else None
        labels = spec.output_labels({**spec.defaults(), **node.get("parameters", {})}) if spec and node else []
        labels = [label or f"output {i}" for i, label in enumerate(labels)]
        return labels + [f"output {i}" for i in range(len(labels), n)]

    def input_items(self, name: str) -> list[dict[str, Any]]:
        """The items node `name` got on its last run (all inputs, in order)."""
        runs = self.runs.get(name)
        return [i for output in (runs[-1]["inputs"] if runs else []) for i in output]

    def preview_for(self, name: str) -> Any:
        """The panel's expression preview for node `name`: its first input item from the last run.

        The services are read here, on the page's event loop (they act for the signed-in user, whom only
        the page's context knows); the expression itself is evaluated in a worker thread."""
        from nicegui import run

        from flowbox.preview import preview_expression

        async def preview(parameter: str, value: Any) -> Any:
            inputs = self.input_items(name)
            run_data = {n: (r[-1]["outputs"][0] if r[-1]["outputs"] else []) for n, r in self.runs.items()}
            variables = self.services.variables()
            return await run.io_bound(
                preview_expression, value, node=name, parameter=parameter, item=inputs[0] if inputs else None,
                items=inputs, workflow=copy.deepcopy(self.doc), run_data=run_data, variables=variables,
                timezone=(self.doc.get("settings") or {}).get("timezone"))

        return preview

    def toggle_pin(self, name: str) -> None:
        pins = self.doc.setdefault("pinData", {})
        if name in pins:
            self.change(lambda: pins.pop(name))
        else:
            runs = self.runs.get(name)
            if not runs or not runs[-1]["outputs"]:
                ui.notify("Run the node first: its output is what gets pinned", type="warning")
                return
            self.change(lambda: pins.__setitem__(name, [dict(i) for i in runs[-1]["outputs"][0]]))
        self.show_side()

    def edit_pin(self, name: str) -> None:
        pins = self.doc.setdefault("pinData", {})
        with ui.dialog() as dialog, ui.card().classes("w-[640px]"):
            ui.label(f"Pinned data of {name}").classes("text-base font-medium")
            text = ui.codemirror(json.dumps(pins.get(name, []), indent=2), language="JSON").classes("w-full h-80")

            def apply() -> None:
                try:
                    value = json.loads(text.value)
                    if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
                        raise ValueError("pinned data must be a list of objects")
                except ValueError as exc:
                    ui.notify(f"Not saved: {exc}", type="negative")
                    return
                self.change(lambda: pins.__setitem__(name, value))
                dialog.close()
                self.show_side()

            with ui.row():
                ui.button("Save", on_click=apply)
                ui.button("Cancel", on_click=dialog.close).props("flat")
        dialog.open()

    # ------------------------------------------------------------------ workflow actions
    async def save(self) -> None:
        if self.readonly:
            return
        try:
            record = await self.services.update_workflow(self.id, self.doc)
        except Exception as exc:  # the message names the node; the page stays as it is
            notify_error(exc, "Not saved: ")
            return
        self.version = record.version
        self.mark_dirty(False)
        ui.notify(f"Saved (version {record.version})", type="positive")

    async def set_active(self, active: bool) -> None:
        try:
            if self.dirty:
                await self.save()
            record = await (self.services.activate(self.id) if active else self.services.deactivate(self.id))
            self.active = record.active
            ui.notify("Active: webhooks and schedules are live" if record.active else "Inactive")
        except Exception as exc:
            notify_error(exc, "Cannot activate: ")

    def settings_dialog(self) -> None:
        settings = self.doc.setdefault("settings", {})
        with ui.dialog() as dialog, ui.card().classes("w-[520px]"):
            ui.label("Workflow settings").classes("text-base font-medium")
            tz = ui.input("Timezone", value=settings.get("timezone", "UTC")).classes("w-full")
            error_wf = ui.input("Error workflow (id)", value=settings.get("errorWorkflow", "")).classes("w-full")
            ok = ui.select(["all", "none"], label="Save successful executions",
                           value=settings.get("saveDataSuccessExecution", "all")).classes("w-full")
            bad = ui.select(["all", "none"], label="Save failed executions",
                            value=settings.get("saveDataErrorExecution", "all")).classes("w-full")
            manual = ui.switch("Save manual executions", value=settings.get("saveManualExecutions", True))
            progress = ui.switch("Save each node's data as it finishes",
                                 value=settings.get("saveExecutionProgress", False))
            limit = ui.number("Max concurrent executions (0 = no limit)",
                              value=settings.get("maxConcurrency", 0), min=0).classes("w-full")

            def apply() -> None:
                new = {**settings, "timezone": tz.value or "UTC", "saveDataSuccessExecution": ok.value,
                       "saveDataErrorExecution": bad.value, "saveManualExecutions": manual.value,
                       "saveExecutionProgress": progress.value}
                if error_wf.value:
                    new["errorWorkflow"] = error_wf.value.strip()
                else:
                    new.pop("errorWorkflow", None)
                if limit.value:
                    new["maxConcurrency"] = int(limit.value)
                else:
                    new.pop("maxConcurrency", None)
                self.change(lambda: self.doc.__setitem__("settings", new), redraw=False)
                dialog.close()

            with ui.row():
                ui.button("Apply", on_click=apply)
                ui.button("Cancel", on_click=dialog.close).props("flat")
        dialog.open()

    async def run(self, destination: str | None = None) -> None:
        if self.readonly:
            return
        self.states = {}
        self.canvas.set_states({})
        self.run_button.props("loading")

        fresh: dict[str, list[dict[str, Any]]] = {}
        earlier, self.runs = self.runs, fresh  # the panel shows each node's data once it has run

        async def started(name: str) -> None:
            self.states[name] = {"status": "running"}
            self.canvas.set_states(self.states)

        async def finished(run: Any) -> None:
            self.states[run.node] = run_state(run.outputs, run.error)
            self.canvas.set_states(self.states)
            fresh.setdefault(run.node, []).append(_run_json(run))
            if run.node == self.selected:
                self.show_side()

        try:
            result = await self.services.run_manual({**self.doc, "id": self.id}, destination=destination,
                                                    previous=self.last_execution if destination else None,
                                                    on_node_start=started, on_node_run=finished)
        except Exception as exc:  # an invalid workflow: the message names the node
            self.runs = earlier
            notify_error(exc, "Cannot run: ")
            return
        finally:
            self.run_button.props(remove="loading")
        self.runs = {name: [_run_json(r) for r in runs] for name, runs in result.runs.items()}
        self.last_execution = result.execution_id
        if result.status == "success":
            ui.notify(f"Ran {len(result.runs)} nodes", type="positive")
        else:
            err = result.error or {}
            ui.notify(f"{err.get('node')}: {err.get('message')}", type="negative", multi_line=True)
            self.selected = err.get("node") or self.selected
        self.show_side()

    async def load_execution(self, execution_id: str) -> None:
        record = await self.services.get_execution(execution_id)
        self.last_execution = execution_id
        self.runs = stored_runs(self.doc, record.nodes)
        self.states = {name: run_state(runs[-1].outputs, runs[-1].error) for name, runs in record.nodes.items()}
        self.canvas.set_states(self.states)
        self.show_side()


class _Credentials:
    """The node panel's credential choices and its "create new" form (a `param_panel.CredentialSource`)."""

    def __init__(self, services: Any) -> None:
        self.services = services

    async def options(self, kind: str) -> dict[str, str]:
        page = await self.services.list_credentials(type=kind, limit=250)
        return {c["id"]: c["name"] for c in page.data}

    def create(self, kind: str, on_created: Any) -> None:
        types = [t for t in self.services.credential_types() if t["name"] == kind]

        async def save(name: str, type_: str, data: dict[str, Any]) -> None:
            created = await self.services.create_credential(name, type_, data)
            ui.notify(f"Saved credential '{created['name']}'", type="positive")
            on_created(created["id"])

        credential_form(types, save)


def _run_json(run: Any) -> dict[str, Any]:
    """A node run (the engine's RunData) as the editor keeps it: inputs, outputs (json) and error."""
    return {"inputs": [[i.json for i in inp] for inp in run.inputs], "outputs": run.outputs_json(),
            "error": run.error}


def _json_of(item: Any) -> Any:
    return item.get("json", item) if isinstance(item, dict) and set(item) <= {"json", "binary"} else item


def register(services: Any) -> None:
    """The editor pages."""

    @ui.page("/workflow/{workflow_id}")
    async def editor_page(workflow_id: str, execution: str | None = None) -> None:
        try:
            record = await services.get_workflow(workflow_id)
            past = await services.get_execution(execution) if execution else None
        except Exception as exc:  # unknown id: say so on the page
            with frame("Not found"):
                ui.label(str(getattr(exc, "message", exc))).classes("text-negative")
                ui.link("All workflows", "/")
            return
        with frame(record.name, wide=True):
            Editor(services.for_page(), record, past)
