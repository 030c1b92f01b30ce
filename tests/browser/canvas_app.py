"""A tiny NiceGUI app showing the Canvas alone, for tests/browser/test_canvas.py.

    python tests/browser/canvas_app.py PORT EVENTS_FILE

Every canvas event is appended to EVENTS_FILE as one JSON line {"page", "event", "args"}.
Pages: /        3 nodes (trigger -> If -> Merge), a sticky note, a palette; ?states=1 shows a finished run
       /big     100 nodes in a chain (?n= for another size)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from nicegui import app, ui

from flowbox import registry
from flowbox.ui.canvas import EVENTS, Canvas, palette_item, to_canvas

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
EVENTS_FILE = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("canvas-events.jsonl")
SPECS = registry.load()

SMALL = {
    "name": "canvas demo",
    "nodes": [
        {"name": "Start", "type": "manualTrigger", "position": [0, 100], "parameters": {}},
        {"name": "Big?", "type": "if", "position": [320, 100], "parameters": {"condition": "{{ $json.n > 1 }}"},
         "notes": "checks the size"},
        {"name": "Merge", "type": "merge", "position": [660, 120], "parameters": {}},
        {"name": "Note", "type": "stickyNote", "position": [0, -120],
         "parameters": {"content": "Sticky note\nDrag nodes from the palette.", "width": 260, "height": 110}},
    ],
    "connections": {
        "Start": {"main": [[{"node": "Big?", "type": "main", "index": 0}]]},
        "Big?": {"main": [[{"node": "Merge", "type": "main", "index": 0}]]},
    },
}


RUN = {"Start": {"status": "success", "items": 1}, "Big?": {"status": "success", "items": 3, "outputs": [2, 1]},
       "Merge": {"status": "running"}}


def big(n: int) -> dict[str, Any]:
    types = ["set", "if", "httpRequest", "code", "merge", "filter", "sort", "limit", "dateTime", "noOp"]
    nodes = [{"name": "Trigger", "type": "manualTrigger", "position": [0, 0], "parameters": {}}]
    nodes += [{"name": f"Node {i}", "type": types[i % len(types)], "position": [(i % 10) * 280, (i // 10) * 140],
               "parameters": {}} for i in range(1, n)]
    conns = {a["name"]: {"main": [[{"node": b["name"], "type": "main", "index": 0}]]}
             for a, b in zip(nodes, nodes[1:], strict=False)}
    return {"name": "big", "nodes": nodes, "connections": conns}


def log(page: str, event: str, args: Any) -> None:
    line = json.dumps({"page": page, "event": event, "args": args})
    with EVENTS_FILE.open("a") as f:
        f.write(line + "\n")
    print(line, flush=True)


def attach(canvas: Canvas, page: str) -> None:
    for name in EVENTS:
        canvas.on(name, lambda e, name=name: log(page, name, e.args))


@ui.page("/")
def small(states: str = "") -> None:
    ui.query(".nicegui-content").classes("p-0 gap-0")
    nodes, edges = to_canvas(SMALL, SPECS.get)
    with ui.row().classes("w-full h-screen no-wrap gap-0"):
        with ui.column().classes("w-48 h-full p-3 gap-2 bg-white border-r"):
            ui.label("Nodes").classes("font-bold")
            for t in ("set", "httpRequest", "code"):
                palette_item(ui.label(SPECS[t].display_name).classes(
                    "px-2 py-1 rounded border cursor-grab bg-slate-50 w-full"), t).props(f"data-type={t}")
            ui.separator()
            ui.button("show run", on_click=lambda: canvas.set_states(RUN)).props("flat dense no-caps data-test=run")
            ui.button("select Merge", on_click=lambda: canvas.select(["Merge"])).props(
                "flat dense no-caps data-test=select")
            ui.button("fit", on_click=lambda: canvas.fit_view()).props("flat dense no-caps data-test=fit")
        canvas = Canvas(nodes, edges).classes("h-full").style("height: 100%; flex: 1")
    attach(canvas, "/")

    def dropped(e: Any) -> None:
        t = e.args["type"]
        spec = SPECS[t]
        name = f"{spec.display_name} {len(canvas.nodes)}"
        canvas.set_workflow([*canvas.nodes, {"id": name, "type": t, "label": name, "subtitle": spec.display_name,
                                             "position": e.args["position"], "inputs": spec.inputs,
                                             "outputs": spec.output_labels(spec.defaults()), "icon": spec.icon,
                                             "group": spec.group}], canvas.edges)

    async def copied(e: Any) -> None:
        names = set(e.args["nodes"])
        text = json.dumps({"nodes": [n for n in SMALL["nodes"] if n["name"] in names], "connections": {}})
        log("/", "clipboard", await canvas.write_clipboard(text))

    canvas.on("drop", dropped)
    canvas.on("copy", copied)
    if states:
        canvas.set_states(RUN)


@ui.page("/big")
def big_page(n: int = 100) -> None:
    ui.query(".nicegui-content").classes("p-0 gap-0")
    nodes, edges = to_canvas(big(n), SPECS.get)
    canvas = Canvas(nodes, edges).style("height: 100vh")
    attach(canvas, "/big")


if __name__ in {"__main__", "__mp_main__"}:
    app.on_startup(lambda: print("canvas app ready", flush=True))
    ui.run(port=PORT, host="127.0.0.1", reload=False, show=False, title="canvas test",
           show_welcome_message=False)
