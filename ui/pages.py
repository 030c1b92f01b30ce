"""The editor's pages: `register(services)` puts every page on NiceGUI's router.

    /                   the workflow list (this module)
    /executions         past runs, filtered; /execution/{id} one run (flowbox.ui.executions)
    /settings           variables and the server's settings (flowbox.ui.settings_page)
    /workflow/{id}      the canvas editor (flowbox.ui.editor, registered by its own module)

Every page calls the operations the API calls (`flowbox.operations`), never the store.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from nicegui import events, ui

from flowbox.errors import FlowboxError
from flowbox.records import workflow_to_json

from .access import share_dialog
from .layout import ago, confirm, error_text, frame, notify_error, page_heading, prompt, status_badge
from .n8n_report import conversion_report

if TYPE_CHECKING:
    from flowbox.operations import Operations
    from flowbox.store.base import ExecutionRecord, WorkflowRecord

LIST_LIMIT = 200
NEW_NAME = "My workflow"
TRIGGER_NAME = "Manual Trigger"


def register(services: Operations) -> None:
    """Register every page; `services` gives each page its user's operations (`layout.EditorServices`)."""
    from . import executions, settings_page

    @ui.page("/")
    async def workflows(search: str = "") -> None:
        await workflows_page(services, search)

    executions.register(services)
    settings_page.register(services)


# ---------------------------------------------------------------- pure helpers (tested without a page)

def new_workflow(name: str) -> dict[str, Any]:
    """An empty workflow: one manual trigger, as n8n starts a new one."""
    return {"name": name, "nodes": [{"name": TRIGGER_NAME, "type": "manualTrigger", "typeVersion": 1,
                                     "position": [240, 300], "parameters": {}}],
            "connections": {}, "settings": {}}


def unique_name(base: str, taken: set[str]) -> str:
    """`base`, else `base 2`, `base 3`, ... whichever is not taken."""
    if base not in taken:
        return base
    n = 2
    while f"{base} {n}" in taken:
        n += 1
    return f"{base} {n}"


def parse_import(text: str) -> list[dict[str, Any]]:
    """The workflows in an import: one n8n workflow object, a list of them, or `{"data": [...]}`.

    Raises ValueError with a message a person can act on (where the JSON breaks, what is missing).
    """
    text = text.strip().lstrip("\ufeff")
    if not text:
        raise ValueError("nothing to import: paste a workflow's JSON or choose a .json file")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    if isinstance(doc, dict) and isinstance(doc.get("data"), list) and "nodes" not in doc:
        doc = doc["data"]
    found = doc if isinstance(doc, list) else [doc]
    if not found:
        raise ValueError("the JSON holds an empty list: no workflow to import")
    for i, item in enumerate(found):
        where = f"workflow #{i + 1}" if len(found) > 1 else "the workflow"
        if not isinstance(item, dict):
            raise ValueError(f"{where} must be a JSON object with 'nodes' and 'connections'")
        if "nodes" not in item:
            raise ValueError(f"{where} has no 'nodes' list: is this an n8n workflow export?")
    return found


async def import_workflows(services: Operations, docs: list[dict[str, Any]]) -> tuple[list[WorkflowRecord],
                                                                                    list[str]]:
    """Create each workflow (inactive, as n8n imports them); returns those created and one message per failure."""
    created: list[WorkflowRecord] = []
    errors: list[str] = []
    for i, doc in enumerate(docs):
        label = doc.get("name") or f"workflow #{i + 1}"
        data = {k: v for k, v in doc.items() if k not in ("id", "active", "versionId", "version")}
        data.setdefault("name", label if isinstance(label, str) else f"Imported workflow {i + 1}")
        try:
            created.append(await services.create_workflow(data))
        except FlowboxError as exc:
            errors.append(f"'{label}': {error_text(exc)}")
    return created, errors


def export_filename(name: str) -> str:
    slug = re.sub(r"[^\w.-]+", "_", name).strip("._")
    return f"{slug or 'workflow'}.json"


def export_json(record: WorkflowRecord) -> str:
    """The workflow as n8n-shaped JSON, as the API returns it and `flowbox import` reads it."""
    return json.dumps(workflow_to_json(record), indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- the page

async def workflows_page(services: Operations, search: str = "") -> None:
    state = {"search": search}

    async def create() -> None:
        page = await services.list_workflows(search=NEW_NAME, limit=LIST_LIMIT)
        name = unique_name(NEW_NAME, {w.name for w in page.data})
        try:
            record = await services.create_workflow(new_workflow(name))
        except FlowboxError as exc:
            notify_error(exc, "Cannot create the workflow: ")
            return
        ui.navigate.to(f"/workflow/{record.id}")

    async def set_search(value: str | None) -> None:
        state["search"] = (value or "").strip()
        ui.navigate.history.replace(f"/?{urlencode({'search': state['search']})}" if state["search"] else "/")
        await listing.refresh()

    with frame("Workflows"):
        with ui.row().classes("w-full items-center gap-3"):
            page_heading("Workflows")
            ui.space()
            box = ui.input(placeholder="Search workflows", value=search,
                           on_change=lambda e: set_search(e.value))
            box.props('dense outlined clearable debounce="300"').classes("w-72").mark("search")
            with box.add_slot("prepend"):
                ui.icon("search")
            ui.button("Import", icon="upload_file", on_click=lambda: open_import(services, listing.refresh)) \
                .props("outline no-caps").mark("import")
            ui.button("Create workflow", icon="add", on_click=create).props("unelevated no-caps").mark("create")

        @ui.refreshable
        async def listing() -> None:
            await workflow_rows(services, state["search"], listing.refresh, create)

        await listing()


async def workflow_rows(services: Operations, search: str, refresh: Any, create: Any) -> None:
    page = await services.list_workflows(search=search or None, limit=LIST_LIMIT)
    if not page.data:
        with ui.column().classes("w-full items-center py-16 gap-3 text-slate-500"):
            if search:
                ui.icon("search_off", size="lg")
                ui.label(f"No workflow matches “{search}”.")
            else:
                ui.icon("account_tree", size="xl").classes("text-slate-300")
                ui.label("No workflows yet").classes("text-lg text-slate-700")
                ui.label("Create one and add nodes on the canvas, or import an n8n workflow's JSON.")
                ui.button("Create workflow", icon="add", on_click=create).props("unelevated no-caps")
        return
    latest = await asyncio.gather(*(services.list_executions(workflow_id=w.id, limit=1) for w in page.data))
    with ui.column().classes("w-full gap-2"):
        for record, runs in zip(page.data, latest, strict=True):
            workflow_row(services, record, runs.data[0] if runs.data else None, refresh)
    note = f"{len(page.data)} workflow{'s' if len(page.data) != 1 else ''}"
    if page.next_cursor:
        note = f"Showing the first {len(page.data)} workflows: search to narrow the list."
    ui.label(note).classes("text-xs text-slate-500")


def workflow_row(services: Operations, record: WorkflowRecord, last: ExecutionRecord | None, refresh: Any) -> None:
    """One workflow: name and dates (opening the editor), last run, active switch, actions menu."""
    wid = record.id
    active = {"value": record.active}

    async def toggle(e: events.ValueChangeEventArguments) -> None:
        if bool(e.value) == active["value"]:
            return
        try:
            updated = await (services.activate(wid) if e.value else services.deactivate(wid))
        except FlowboxError as exc:
            notify_error(exc, f"Cannot {'activate' if e.value else 'deactivate'} '{record.name}': ")
            switch.value = active["value"]
            return
        active["value"] = updated.active
        state.text = "Active" if updated.active else "Inactive"
        ui.notify(f"'{record.name}' is {'active' if updated.active else 'inactive'}", type="positive")

    async def rename() -> None:
        name = await prompt("Rename workflow", "Name", record.name)
        if not name or name == record.name:
            return
        try:
            current = await services.get_workflow(wid)
            await services.update_workflow(wid, {**current.data, "name": name})
        except FlowboxError as exc:
            notify_error(exc, "Cannot rename: ")
            return
        await refresh()

    async def duplicate() -> None:
        try:
            current = await services.get_workflow(wid)
            taken = {w.name for w in (await services.list_workflows(search=current.name, limit=LIST_LIMIT)).data}
            copy = await services.create_workflow({**current.data, "name": unique_name(f"{current.name} copy",
                                                                                       taken)})
        except FlowboxError as exc:
            notify_error(exc, "Cannot duplicate: ")
            return
        ui.notify(f"Created '{copy.name}'", type="positive")
        await refresh()

    async def download() -> None:
        try:
            current = await services.get_workflow(wid)
        except FlowboxError as exc:
            notify_error(exc)
            return
        ui.download.content(export_json(current).encode(), export_filename(current.name), "application/json")

    async def delete() -> None:
        if not await confirm("Delete workflow?", f"'{record.name}' will be deleted for good, with its webhooks "
                             "and schedules. Past executions stay in the list."):
            return
        try:
            await services.delete_workflow(wid)
        except FlowboxError as exc:
            notify_error(exc, "Cannot delete: ")
            return
        ui.notify(f"Deleted '{record.name}'")
        await refresh()

    card = ui.card().props("flat bordered").classes("w-full p-0 hover:shadow-md transition-shadow")
    with card.mark(f"workflow-{wid}"), ui.row().classes("w-full items-center no-wrap gap-4 px-4 py-3"):
        with ui.link(target=f"/workflow/{wid}").classes("grow min-w-0 no-underline text-inherit block"):
            ui.label(record.name).classes("text-base font-medium text-slate-800 truncate")
            created = record.created_at.strftime("%d %b %Y") if record.created_at else "—"
            ui.label(f"Updated {ago(record.updated_at)} · Created {created} · v{record.version}") \
                .classes("text-xs text-slate-500")
        with ui.row().classes("items-center gap-2 no-wrap w-48 justify-end"):
            if last is None:
                ui.label("Never run").classes("text-xs text-slate-400")
            else:
                with ui.link(target=f"/execution/{last.id}").classes("no-underline flex items-center gap-2"):
                    status_badge(last.status)
                    ui.label(ago(last.started_at)).classes("text-xs text-slate-500")
        with ui.row().classes("items-center gap-0 no-wrap w-32"):
            switch = ui.switch(value=record.active, on_change=toggle).props("color=positive") \
                .mark(f"active-{wid}")
            state = ui.label("Active" if record.active else "Inactive").classes("text-xs text-slate-600")
        with ui.button(icon="more_vert").props("flat round dense").mark(f"menu-{wid}"), \
                ui.menu().props("auto-close"):
            ui.menu_item("Open", lambda: ui.navigate.to(f"/workflow/{wid}"))
            ui.menu_item("Executions", lambda: ui.navigate.to(f"/executions?workflow={wid}"))
            ui.menu_item("Rename", rename).mark(f"rename-{wid}")
            ui.menu_item("Duplicate", duplicate).mark(f"duplicate-{wid}")
            ui.menu_item("Download JSON", download).mark(f"download-{wid}")
            ui.menu_item("Share", lambda: share_dialog(services, "workflow", wid, record.name)).mark(f"share-{wid}")
            ui.separator()
            ui.menu_item("Delete", delete).classes("text-negative").mark(f"delete-{wid}")

def open_import(services: Operations, refresh: Any) -> None:
    """The import dialog: .json files or pasted JSON; one result line per file or paste, errors naming the
    workflow and node. (The uploader's own file list is cleared after each upload: its tick only says the
    bytes arrived, not that the workflow was imported.)"""
    with ui.dialog() as dialog, ui.card().classes("w-[640px] max-w-full gap-3"):
        ui.label("Import workflows").classes("text-lg font-semibold")
        ui.label("An n8n workflow's JSON (one workflow or a list of them). Imported workflows start inactive.") \
            .classes("text-sm text-slate-600")
        with ui.tabs().props("dense no-caps align=left").classes("w-full") as tabs:
            file_tab = ui.tab("From file", icon="upload_file")
            paste_tab = ui.tab("Paste JSON", icon="content_paste")
        results = ui.column().classes("w-full gap-1")

        async def run(text: str, source: str) -> bool:
            """Import what `text` holds; show one result line for `source` (and the conversion report of n8n
            JSON); True when all of it came in with no report to read (the dialog may close)."""
            try:
                created, errors = await import_workflows(services, parse_import(text))
            except ValueError as exc:
                created, errors = [], [str(exc)]
            names = ", ".join(f"'{r.name}'" for r in created)
            if created:
                ui.notify(f"Imported {names}", type="positive")
                await refresh()
            if errors:
                message = (f"imported {names}; " if created else "") + "not imported: " + "; ".join(errors)
            else:
                message = f"imported {names}"
            show(source, message, ok=not errors)
            for record in created:
                if record.conversion is not None:  # n8n JSON: what each node became (DESIGN §10)
                    with results:
                        conversion_report(f"'{record.name}'", record.conversion)
            return not errors and all(r.conversion is None for r in created)

        def show(source: str, message: str, *, ok: bool) -> None:
            with results, ui.row().classes("w-full items-start no-wrap gap-2 p-2 rounded " + (
                    "bg-green-50 text-green-900" if ok else "bg-red-50 text-red-800")).props(
                    f'data-testid="import-result" data-ok="{str(ok).lower()}"'):
                ui.icon("check_circle" if ok else "error_outline").classes("mt-0.5")
                ui.label(f"{source}: {message}").classes("text-sm whitespace-pre-wrap break-all").mark(
                    "import-ok" if ok else "import-error")

        async def uploaded(e: events.UploadEventArguments) -> None:
            e.sender.reset()  # type: ignore[attr-defined]
            try:
                text = await e.file.text()
            except UnicodeDecodeError:
                show(e.file.name, "not a UTF-8 text file", ok=False)
                return
            await run(text, e.file.name)

        async def paste() -> None:
            if await run(pasted.value or "", "pasted JSON"):
                dialog.close()

        with ui.tab_panels(tabs, value=file_tab).classes("w-full"):
            with ui.tab_panel(file_tab).classes("p-0"):
                ui.upload(label="Choose or drop .json files", auto_upload=True, multiple=True, on_upload=uploaded,
                          max_file_size=64 * 1024 * 1024).props('accept=".json,application/json" flat bordered') \
                    .classes("w-full fb-import-upload").mark("import-file").props('data-testid="import-file"')
                # the uploader's header shows "0.0B / 0.00%" until a file is sent: not worth a newcomer's worry
                ui.add_css(".fb-import-upload .q-uploader__subtitle { display: none; }")
            with ui.tab_panel(paste_tab).classes("p-0"):
                pasted = ui.textarea(placeholder='{"name": "...", "nodes": [...], "connections": {...}}') \
                    .props("outlined input-class=font-mono rows=12").classes("w-full").mark("import-text")
                with ui.row().classes("w-full justify-end"):
                    ui.button("Import", icon="download", on_click=paste) \
                        .props("unelevated no-caps").mark("import-submit")
        with ui.row().classes("w-full justify-end"):
            ui.button("Close", on_click=dialog.close).props("flat no-caps")
    dialog.on("hide", dialog.delete)
    dialog.open()
