"""Past runs: `/executions` (filtered by workflow, status and time) and `/execution/{id}` (one run, read-only).

The detail page lists each node's runs with their item counts, the output items as a
table or as JSON, and the error of a failed node; Retry runs it again as a new
execution (from the failed node, or from the start) and opens that one.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from nicegui import events, ui

from flowbox import registry
from flowbox.errors import FlowboxError, NotFound
from flowbox.store.base import EXECUTION_STATUSES

from .layout import (
    UNFINISHED,
    ago,
    compact_json,
    confirm,
    duration,
    frame,
    notify_error,
    page_heading,
    seconds_text,
    short_id,
    status_badge,
    status_badge_slot,
    status_label,
    timestamp,
)

if TYPE_CHECKING:
    from flowbox.operations import Operations
    from flowbox.store.base import ExecutionRecord, NodeRun

PAGE_SIZE = 50
SHOWN_ITEMS = 100  # items drawn per output (the JSON view says how many more there are)
TABLE_COLUMNS = 30
RANGES: dict[str, tuple[str, float | None]] = {
    "any": ("Any time", None), "1h": ("Last hour", 3600), "24h": ("Last 24 hours", 86400),
    "7d": ("Last 7 days", 7 * 86400), "30d": ("Last 30 days", 30 * 86400),
}


def register(services: Operations) -> None:
    @ui.page("/executions")
    async def executions(workflow: str = "", status: str = "", since: str = "any") -> None:
        await executions_page(services, workflow=workflow, status=status, since=since)

    @ui.page("/execution/{execution_id}")
    async def execution(execution_id: str) -> None:
        await execution_page(services, execution_id)


# ---------------------------------------------------------------- the list

async def workflow_names(services: Operations, limit: int = 2000) -> dict[str, str]:
    """Every workflow's name by id (for the filter and the table), at most `limit` of them."""
    names: dict[str, str] = {}
    cursor = None
    while len(names) < limit:
        page = await services.list_workflows(limit=200, cursor=cursor)
        names.update((w.id, w.name) for w in page.data)
        cursor = page.next_cursor
        if not cursor:
            break
    return names


async def fetch_executions(services: Operations, *, workflow_id: str | None, status: str | None,
                           since: dt.datetime | None, cursor: str | None = None,
                           limit: int = PAGE_SIZE) -> tuple[list[ExecutionRecord], str | None]:
    """One page of executions, newest first, stopping at the first one that started before `since`."""
    page = await services.list_executions(workflow_id=workflow_id, status=status, limit=limit, cursor=cursor)
    kept: list[ExecutionRecord] = []
    for record in page.data:
        if since is not None and record.started_at is not None and record.started_at < since:
            return kept, None  # the list is newest first: the rest are older still
        kept.append(record)
    return kept, page.next_cursor


def workflow_label(record: ExecutionRecord, names: dict[str, str]) -> str:
    if record.workflow_id in names:
        return names[record.workflow_id]  # type: ignore[index]
    kept = (record.workflow_data or {}).get("name")
    return f"{kept} (deleted)" if kept else "(deleted workflow)"


def execution_row(record: ExecutionRecord, names: dict[str, str]) -> dict[str, Any]:
    return {"id": record.id, "short": short_id(record.id), "status": record.status,
            "workflow": workflow_label(record, names), "workflowId": record.workflow_id or "",
            "mode": record.mode, "started": ago(record.started_at),
            "startedAt": record.started_at.strftime("%d %b %H:%M:%S") if record.started_at else "—",
            "duration": duration(record.started_at, record.finished_at) if record.status not in UNFINISHED
            else status_label(record.status).lower() + "…"}


COLUMNS: list[dict[str, Any]] = [
    {"name": "status", "label": "Status", "field": "status", "align": "left"},
    {"name": "workflow", "label": "Workflow", "field": "workflow", "align": "left"},
    {"name": "mode", "label": "Mode", "field": "mode", "align": "left"},
    {"name": "started", "label": "Started", "field": "started", "align": "left"},
    {"name": "duration", "label": "Duration", "field": "duration", "align": "right"},
    {"name": "id", "label": "ID", "field": "short", "align": "right"},
]


async def executions_page(services: Operations, *, workflow: str = "", status: str = "", since: str = "any") -> None:
    names = await workflow_names(services)
    state: dict[str, Any] = {"workflow": workflow or None, "status": status if status in EXECUTION_STATUSES
                             else None, "since": since if since in RANGES else "any", "cursor": None}

    def since_time() -> dt.datetime | None:
        seconds = RANGES[state["since"]][1]
        return None if seconds is None else dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)

    async def load(more: bool = False) -> None:
        records, cursor = await fetch_executions(
            services, workflow_id=state["workflow"], status=state["status"], since=since_time(),
            cursor=state["cursor"] if more else None)
        rows = [execution_row(r, names) for r in records]
        table.rows = [*table.rows, *rows] if more else rows
        table.update()
        state["cursor"] = cursor
        more_button.set_visibility(cursor is not None)
        empty.set_visibility(not table.rows)
        count.text = f"{len(table.rows)} execution{'s' if len(table.rows) != 1 else ''}" + \
            (" (more below)" if cursor else "")

    async def changed(key: str, value: Any) -> None:
        state[key] = (value or "any") if key == "since" else (value or None)
        query = {k: v for k, v in (("workflow", state["workflow"]), ("status", state["status"]),
                                   ("since", None if state["since"] == "any" else state["since"])) if v}
        ui.navigate.history.replace("/executions" + (f"?{urlencode(query)}" if query else ""))
        await load()

    workflow_options = {"": "All workflows", **dict(sorted(names.items(), key=lambda kv: kv[1].lower()))}
    if state["workflow"] and state["workflow"] not in workflow_options:
        workflow_options[state["workflow"]] = f"{short_id(state['workflow'])} (deleted)"
    title = f"Executions · {names[workflow]}" if workflow in names else "Executions"
    with frame(title):
        with ui.row().classes("w-full items-center gap-3"):
            page_heading("Executions")
            ui.space()
            ui.select(workflow_options, value=state["workflow"] or "", label="Workflow", with_input=True,
                      on_change=lambda e: changed("workflow", e.value)) \
                .props("dense outlined options-dense").classes("w-56").mark("filter-workflow")
            ui.select({"": "Any status", **{s: status_label(s) for s in EXECUTION_STATUSES}},
                      value=state["status"] or "", label="Status", on_change=lambda e: changed("status", e.value)) \
                .props("dense outlined options-dense").classes("w-36").mark("filter-status")
            ui.select({k: v[0] for k, v in RANGES.items()}, value=state["since"], label="Started",
                      on_change=lambda e: changed("since", e.value)) \
                .props("dense outlined options-dense").classes("w-40").mark("filter-since")
            ui.button(icon="refresh", on_click=lambda: load()).props("flat round").tooltip("Refresh") \
                .mark("refresh")
        table = ui.table(columns=COLUMNS, rows=[], row_key="id", pagination=0) \
            .props("flat bordered hide-pagination").classes("w-full cursor-pointer").mark("executions")
        table.add_slot("body-cell-status", status_badge_slot())
        table.add_slot("body-cell-started", '<q-td :props="props"><div>{{ props.row.startedAt }}</div>'
                                            '<div class="text-xs text-slate-500">{{ props.value }}</div></q-td>')
        table.add_slot("body-cell-id", '<q-td :props="props"><a :href="\'/execution/\' + props.row.id"'
                                       ' class="font-mono text-slate-500" @click.stop>{{ props.value }}</a></q-td>')
        table.on("rowClick", lambda e: ui.navigate.to(f"/execution/{e.args[1]['id']}"), [[], ["id"], None])
        empty = ui.label("No executions match these filters.").classes("w-full text-center text-slate-500 py-8")
        with ui.row().classes("w-full items-center"):
            count = ui.label().classes("text-xs text-slate-500")
            ui.space()
            more_button = ui.button("Load more", on_click=lambda: load(more=True)).props("flat no-caps") \
                .mark("more")
        await load()


# ---------------------------------------------------------------- one execution

def node_order(record: ExecutionRecord) -> list[str]:
    """The nodes that ran, in the order they first started."""
    never = dt.datetime.max.replace(tzinfo=dt.UTC)
    position = {name: i for i, name in enumerate(record.nodes)}
    return sorted(record.nodes, key=lambda n: (min((r.started_at or never for r in record.nodes[n]), default=never),
                                               position[n]))


def node_types(record: ExecutionRecord) -> dict[str, dict[str, Any]]:
    """Each node of the workflow as it ran, by name."""
    nodes = (record.workflow_data or {}).get("nodes") or []
    return {n["name"]: n for n in nodes if isinstance(n, dict) and isinstance(n.get("name"), str)}


def output_labels(node: dict[str, Any] | None, count: int) -> list[str]:
    """A name for each output of a node run: the node type's names (true/false, ...), else Output 1, 2, ..."""
    names: list[str] = []
    if node is not None:
        try:
            names = registry.get(str(node.get("type")), node.get("name")).output_labels(node.get("parameters") or {})
        except Exception:  # a type no longer installed, or parameters its output names cannot be read from
            names = []
    labels = []
    for i in range(count):
        if i < len(names) and names[i]:
            labels.append(names[i])
        elif i == len(names) and node is not None and node.get("onError") in ("continueErrorOutput", "errorOutput"):
            labels.append("error")
        else:
            labels.append(f"Output {i + 1}")
    return labels


def item_table(items: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Columns and rows for items' json: one column per top-level key (first seen first)."""
    keys: list[str] = []
    for item in items:
        for key in item if isinstance(item, dict) else ():
            if key not in keys:
                keys.append(key)
    keys = keys[:TABLE_COLUMNS]
    columns = [{"name": "_i", "label": "#", "field": "_i", "align": "right", "classes": "text-slate-400",
                "style": "width: 40px", "headerStyle": "width: 40px"}]
    columns += [{"name": f"c{i}", "label": key, "field": f"c{i}", "align": "left"} for i, key in enumerate(keys)]
    rows = []
    for index, item in enumerate(items):
        row: dict[str, Any] = {"_i": index}
        if isinstance(item, dict):
            row.update({f"c{i}": compact_json(item[key]) for i, key in enumerate(keys) if key in item})
        else:
            row["c0"] = compact_json(item)
        rows.append(row)
    return columns, rows


def items_view(items: list[dict[str, Any]]) -> None:
    """Output items as a table, or as JSON (drawn when first asked for)."""
    shown = items[:SHOWN_ITEMS]
    more = f"Showing the first {SHOWN_ITEMS} of {len(items)} items." if len(items) > SHOWN_ITEMS else ""
    if not items:
        ui.label("No items").classes("text-sm text-slate-500 italic")
        return
    mode = ui.toggle(["Table", "JSON"], value="Table").props("dense no-caps unelevated toggle-color=secondary")
    table_box = ui.column().classes("w-full gap-1")
    json_box = ui.column().classes("w-full gap-1")
    with table_box:
        columns, rows = item_table(shown)
        ui.table(columns=columns, rows=rows, row_key="_i", pagination=10 if len(rows) > 10 else 0) \
            .props("flat bordered dense wrap-cells" + ("" if len(rows) > 10 else " hide-pagination")) \
            .classes("w-full").mark("items-table")

    def switch(e: events.ValueChangeEventArguments) -> None:
        table_box.set_visibility(e.value == "Table")
        json_box.set_visibility(e.value == "JSON")
        if e.value == "JSON" and not list(json_box):
            with json_box:
                ui.code(json.dumps(shown, indent=2, ensure_ascii=False, default=str), language="json") \
                    .classes("w-full max-h-[480px] overflow-auto text-xs").mark("items-json")
                if more:
                    ui.label(more).classes("text-xs text-slate-500")

    mode.on_value_change(switch)
    json_box.set_visibility(False)
    if more:
        with table_box:
            ui.label(more).classes("text-xs text-slate-500")


def run_view(run: NodeRun, node: dict[str, Any] | None) -> None:
    if run.error:
        with ui.row().classes("w-full items-start no-wrap gap-2 p-3 rounded bg-red-50 text-red-800") \
                .mark("node-error"):
            ui.icon("error").classes("mt-0.5")
            ui.label(run.error).classes("text-sm whitespace-pre-wrap break-words")
    outputs = run.outputs or []
    if not outputs or (run.error and not any(outputs)):
        return
    if len(outputs) == 1:
        items_view(outputs[0])
        return
    labels = output_labels(node, len(outputs))
    with ui.tabs().props("dense no-caps align=left inline-label").classes("w-full") as tabs:
        tab_list = [ui.tab(f"out{i}", label=f"{label} ({len(items)})") for i, (label, items)
                    in enumerate(zip(labels, outputs, strict=True))]
    first = next((t for t, items in zip(tab_list, outputs, strict=True) if items), tab_list[0])
    with ui.tab_panels(tabs, value=first).classes("w-full"):
        for tab, items in zip(tab_list, outputs, strict=True):
            with ui.tab_panel(tab).classes("p-0 pt-2"):
                items_view(items)


def node_panel(name: str, runs: list[NodeRun], node: dict[str, Any] | None, *, open_: bool) -> None:
    failed = any(r.error for r in runs)
    counts = [sum(len(o) for o in r.outputs or []) for r in runs]
    items = sum(counts)
    took = sum(((r.finished_at - r.started_at).total_seconds() for r in runs if r.started_at and r.finished_at), 0.0)
    summary = f"{items} item{'s' if items != 1 else ''}"
    if len(runs) > 1:
        summary += f" · {len(runs)} runs"
    summary += f" · {seconds_text(took)}"
    with ui.expansion(value=open_).classes("w-full bg-white rounded border border-slate-200") \
            .props("dense header-class=py-2").mark(f"node-{name}") as panel:
        with panel.add_slot("header"), ui.row().classes("w-full items-center no-wrap gap-3"):
            ui.icon("error" if failed else "check_circle", color="negative" if failed else "positive")
            with ui.column().classes("gap-0 grow min-w-0"):
                ui.label(name).classes("font-medium text-slate-800 truncate")
                if node is not None:
                    ui.label(str(node.get("type", ""))).classes("text-xs text-slate-500")
            ui.label(summary).classes("text-xs text-slate-600 whitespace-nowrap")
        with ui.column().classes("w-full gap-3 px-2 pb-3"):
            for index, run in enumerate(runs):
                if len(runs) > 1:
                    ui.label(f"Run {index + 1} · {counts[index]} items · "
                             f"{duration(run.started_at, run.finished_at)}").classes("text-xs font-semibold "
                                                                                      "text-slate-600 pt-1")
                run_view(run, node)


def info(label: str, value: str, target: str | None = None) -> None:
    with ui.column().classes("gap-0 min-w-[120px]"):
        ui.label(label).classes("text-xs uppercase tracking-wide text-slate-500")
        if target:
            ui.link(value, target).classes("text-sm")
        else:
            ui.label(value).classes("text-sm text-slate-800")


async def execution_page(services: Operations, execution_id: str) -> None:
    try:
        first = await services.get_execution(execution_id)
    except NotFound:
        with frame("Execution"):
            page_heading("Execution not found")
            ui.label(f"There is no execution {execution_id!r}: it may have been deleted or pruned.") \
                .classes("text-slate-600")
            ui.link("← All executions", "/executions")
        return
    try:
        name = (await services.get_workflow(first.workflow_id)).name if first.workflow_id else None
    except NotFound:
        name = None
    if name is None:
        name = f"{(first.workflow_data or {}).get('name') or 'workflow'} (deleted)"
    back = f"/executions?workflow={first.workflow_id}" if first.workflow_id else "/executions"
    seen = {"key": None}

    async def retry(from_start: bool) -> None:
        try:
            new = await services.retry_execution(execution_id, from_start=from_start)
        except FlowboxError as exc:
            notify_error(exc, "Cannot retry: ")
            return
        ui.navigate.to(f"/execution/{new.id}")

    async def delete() -> None:
        if not await confirm("Delete execution?", "This execution and the data of its nodes will be deleted."):
            return
        try:
            await services.delete_execution(execution_id)
        except FlowboxError as exc:
            notify_error(exc, "Cannot delete: ")
            return
        ui.notify("Execution deleted")
        ui.navigate.to(back)

    async def stop() -> None:
        try:
            record = await services.stop_execution(execution_id)
        except FlowboxError as exc:
            notify_error(exc, "Cannot stop: ")
            return
        ui.notify("Execution stopped")
        await body.refresh(record)

    @ui.refreshable
    async def body(record: ExecutionRecord | None = None) -> None:
        if record is None:
            try:
                record = await services.get_execution(execution_id)
            except NotFound:
                ui.label("This execution was deleted.").classes("text-slate-600")
                return
        seen["key"] = (record.status, sum(len(r) for r in record.nodes.values()))
        with ui.row().classes("w-full items-center gap-3"):
            page_heading(name)
            status_badge(record.status).mark("status").props("data-testid=status")
            if record.status in UNFINISHED:
                ui.spinner(size="sm")
            ui.space()
            if record.workflow_id and not name.endswith("(deleted)"):
                ui.button("Open in editor", icon="account_tree") \
                    .props(f'flat no-caps href="/workflow/{record.workflow_id}?execution={record.id}"') \
                    .mark("open-editor")
            finished = record.status not in UNFINISHED
            if not finished:
                ui.button("Stop", icon="stop", color="negative", on_click=stop) \
                    .props("unelevated no-caps data-testid=stop").mark("stop")
            with ui.dropdown_button("Retry", icon="replay", split=True, auto_close=True,
                                    on_click=lambda: retry(False)).props("unelevated no-caps") \
                    .mark("retry") as retry_button:
                ui.item("Retry from the failed node", on_click=lambda: retry(False)).mark("retry-failed")
                ui.item("Retry from the start", on_click=lambda: retry(True)).mark("retry-start")
            retry_button.set_enabled(finished)
            ui.button("Delete", icon="delete", color="negative", on_click=delete) \
                .props("outline no-caps").mark("delete").set_enabled(record.status != "running")
        with ui.row().classes("w-full gap-8 p-4 bg-white rounded border border-slate-200"):
            info("Started", timestamp(record.started_at))
            info("Finished", timestamp(record.finished_at))
            info("Duration", duration(record.started_at, record.finished_at))
            info("Mode", record.mode)
            if record.workflow_id:
                info("Workflow", name, f"/workflow/{record.workflow_id}")
            if record.retry_of:
                info("Retry of", short_id(record.retry_of), f"/execution/{record.retry_of}")
            if record.status == "waiting" and record.wait_till:
                info("Resumes", timestamp(record.wait_till))
            info("Execution ID", record.id)
            for key, value in (record.custom_data or {}).items():  # saved by an Execution Data node
                info(key, value)
        if record.error and record.status == "canceled":
            with ui.row().classes("w-full items-start no-wrap gap-3 p-4 rounded bg-slate-100 border "
                                  "border-slate-300 text-slate-800").mark("execution-stopped"):
                ui.icon("stop_circle", size="sm").classes("text-slate-600")
                with ui.column().classes("gap-1"):
                    ui.label("The execution was stopped").classes("font-semibold")
                    ui.label(str(record.error.get("message") or "")).classes("text-sm")
        elif record.error:
            with ui.row().classes("w-full items-start no-wrap gap-3 p-4 rounded bg-red-50 border border-red-200 "
                                  "text-red-900").mark("execution-error"):
                ui.icon("error", size="sm").classes("text-negative")
                with ui.column().classes("gap-1"):
                    node = record.error.get("node")
                    ui.label(f"{'Node ' + repr(node) + ' failed' if node else 'The execution failed'}") \
                        .classes("font-semibold")
                    ui.label(str(record.error.get("message") or "")).classes("text-sm whitespace-pre-wrap "
                                                                            "break-words")
        ui.label("Nodes").classes("text-lg font-semibold text-slate-700 pt-2")
        if not record.nodes:
            ui.label("No node has run yet." if record.status in UNFINISHED else "No node data was kept.") \
                .classes("text-slate-500")
        nodes = node_types(record)
        order = node_order(record)
        failed = (record.error or {}).get("node")
        focus = failed if failed in record.nodes else (record.last_node if record.last_node in record.nodes
                                                       else (order[-1] if order else None))
        for node_name in order:
            node_panel(node_name, record.nodes[node_name], nodes.get(node_name), open_=node_name == focus)

    async def poll() -> None:
        try:
            record = await services.get_execution(execution_id)
        except NotFound:
            timer.deactivate()
            return
        if (record.status, sum(len(r) for r in record.nodes.values())) != seen["key"]:
            await body.refresh(record)
        if record.status not in UNFINISHED:
            timer.deactivate()

    with frame(f"Execution {short_id(execution_id)}"):
        ui.link("← Executions", back).classes("text-sm no-underline")
        with ui.column().classes("w-full gap-4"):
            await body(first)
        timer = ui.timer(1.0, poll, active=first.status in UNFINISHED)
