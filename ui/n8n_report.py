"""n8n in the editor (DESIGN §10): the conversion report of an import or a paste, the panel of a placeholder
node (why it cannot run, its original JSON, a way to replace it) and the "Download as n8n JSON" action."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from nicegui import ui

from flowbox.n8n import report_json

_LEVELS = (("mapped", "check_circle", "text-green-800"), ("approximated", "info", "text-amber-800"),
           ("unsupported", "block", "text-red-800"))


def conversion_report(title: str, conversion: Mapping[str, list[Mapping[str, Any]]]) -> None:
    """The report (`{"mapped": [...], "approximated": [...], "unsupported": [...]}`) as counts and one line per
    entry, the node's name first, drawn where the caller is."""
    counts = ", ".join(f"{len(conversion.get(level) or [])} {level}" for level, _, _ in _LEVELS)
    with ui.column().classes("w-full gap-1").props('data-testid="conversion-report"'):
        ui.label(f"{title}: converted from n8n — {counts}").classes("text-sm font-medium")
        with ui.column().classes("w-full gap-0 max-h-72 overflow-auto border rounded p-1"):
            for level, icon, color in _LEVELS:
                for entry in conversion.get(level) or []:
                    with ui.row().classes(f"w-full no-wrap items-start gap-1 {color}").props(
                            f'data-testid="conversion-{level}"'):
                        ui.icon(icon, size="16px").classes("mt-0.5")
                        ui.label(f"{entry.get('node') or 'workflow'}: {entry.get('message')}").classes(
                            "text-xs whitespace-pre-wrap break-all")


def report_dialog(title: str, conversion: Mapping[str, list[Mapping[str, Any]]]) -> None:
    """The conversion report in a dialog (a paste of n8n JSON on the canvas)."""
    with ui.dialog() as dialog, ui.card().classes("w-[640px] max-w-full gap-2"):
        conversion_report(title, conversion)
        if conversion.get("unsupported"):
            ui.label("Nodes flowbox cannot run are kept as placeholders with their n8n JSON: select one to see why "
                     "and to replace it.").classes("text-xs text-slate-600")
        with ui.row().classes("w-full justify-end"):
            ui.button("OK", on_click=dialog.close).props("flat no-caps").props('data-testid="conversion-ok"')
    dialog.on("hide", dialog.delete)
    dialog.open()


def placeholder_panel(node: Mapping[str, Any], types: list[tuple[str, str]], replace: Callable[[str], None],
                      readonly: bool = False) -> None:
    """What a placeholder node is: the n8n type, why flowbox cannot run it, the original JSON; and a choice of
    flowbox node (`types`: (type, display name)) to put in its place, keeping its name and connections."""
    params = node.get("parameters") or {}
    with ui.column().classes("w-full gap-2").props('data-testid="placeholder-panel"'):
        ui.label(f"not available in flowbox: {params.get('n8nType')}").classes("text-negative font-medium")
        ui.label(f"Why: {params.get('reason') or 'no flowbox node converts this n8n type'}").classes(
            "text-sm whitespace-pre-wrap")
        ui.label("Runs refuse this node until it is replaced or removed; its n8n JSON is kept, and exported back "
                 "to n8n unchanged.").classes("text-xs text-slate-600")
        with ui.expansion("Original n8n JSON", value=True).classes("w-full"):
            ui.code(json.dumps(params.get("node") or {}, indent=2, ensure_ascii=False), language="json") \
                .classes("w-full text-xs").props('data-testid="placeholder-json"')
        if not readonly:
            choice = ui.select(dict(types), label="Replace with", with_input=True).props("dense outlined") \
                .classes("w-full").props('data-testid="placeholder-replace-type"')
            ui.button("Replace node", icon="swap_horiz",
                      on_click=lambda: choice.value and replace(choice.value)).props("dense no-caps") \
                .props('data-testid="placeholder-replace"')


def replaced(node: Mapping[str, Any], type_: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """The node put in a placeholder's place: same name, id, position, notes; the new type's defaults."""
    keep = {k: node[k] for k in ("name", "id", "position", "notes", "disabled") if k in node}
    return {**keep, "type": type_, "parameters": defaults}


async def download_n8n(services: Any, doc: dict[str, Any]) -> None:
    """Send the workflow to the browser as n8n JSON (`<name>.n8n.json`); say what did not translate."""
    data, report = await services.export_n8n(doc)
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in str(doc.get("name") or "workflow")).strip("-")
    ui.download.content(json.dumps(data, indent=2, ensure_ascii=False), f"{name or 'workflow'}.n8n.json",
                        "application/json")
    unsupported = report_json(report)["unsupported"]
    if unsupported:
        ui.notify("Downloaded as n8n JSON; not translated: " + "; ".join(
            f"{e['node'] or 'workflow'}: {e['message']}" for e in unsupported), type="warning", multi_line=True)
    else:
        ui.notify("Downloaded as n8n JSON", type="positive")
