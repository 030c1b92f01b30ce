"""Pages: the workflow list (the canvas editor comes with its own issue)."""

from __future__ import annotations

from typing import Any

from nicegui import ui


def register(services: Any) -> None:
    """Register every page; `services` is the running `flowbox.services.Services`."""

    @ui.page("/")
    async def workflows() -> None:
        ui.page_title("flowbox · workflows")
        with ui.header().classes("items-center bg-slate-800"):
            ui.label("flowbox").classes("text-xl font-bold")
            ui.space()
            ui.link("API docs", "/api/docs", new_tab=True).classes("text-white")
        page = await services.list_workflows(limit=200)
        with ui.column().classes("w-full max-w-5xl mx-auto p-4"):
            ui.label("Workflows").classes("text-2xl")
            if not page.data:
                ui.label("No workflows yet: import one with `flowbox import FILE` or POST /api/v1/workflows.")
                return
            columns: list[dict[str, Any]] = [
                {"name": "name", "label": "Name", "field": "name", "align": "left", "sortable": True},
                {"name": "active", "label": "Active", "field": "active"},
                {"name": "version", "label": "Version", "field": "version"},
                {"name": "updated", "label": "Updated", "field": "updated", "sortable": True},
                {"name": "id", "label": "ID", "field": "id", "align": "left"},
            ]
            rows = [{"name": w.name, "active": "yes" if w.active else "no", "version": w.version,
                     "updated": w.updated_at.strftime("%Y-%m-%d %H:%M") if w.updated_at else "", "id": w.id}
                    for w in page.data]
            ui.table(columns=columns, rows=rows, row_key="id").classes("w-full").props("flat bordered")
