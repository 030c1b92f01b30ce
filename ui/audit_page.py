"""Audit log page `/audit`: who did what, to what, when and from where, newest first.

Reads through `Operations.list_audit` (the same call as `GET /api/v1/audit`), filtered by action
(exact, or a prefix ending in *) and actor; "Load more" follows the page cursor.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from flowbox.auth import has_role
from flowbox.ui.layout import ago, compact_json, current_user, frame, page_heading, timestamp

COLUMNS = [
    {"name": "at", "label": "When", "field": "at", "align": "left"},
    {"name": "actor", "label": "Who", "field": "actor", "align": "left"},
    {"name": "ip", "label": "From", "field": "ip", "align": "left"},
    {"name": "action", "label": "Action", "field": "action", "align": "left"},
    {"name": "target", "label": "Target", "field": "target", "align": "left"},
    {"name": "details", "label": "Details", "field": "details", "align": "left"},
]


def row_of(entry: Any) -> dict[str, Any]:
    """One table row for an `AuditEntry`."""
    target = f"{entry.target_kind or ''} {entry.target_id or ''}".strip()
    return {"id": entry.id, "at": f"{timestamp(entry.at)} ({ago(entry.at)})", "actor": entry.actor,
            "ip": entry.ip or "", "action": entry.action, "target": target,
            "details": compact_json(entry.details, 120) if entry.details else ""}


def register(services: Any) -> None:
    @ui.page("/audit")
    async def audit_page() -> None:
        with frame("Audit log"):
            page_heading("Audit log")
            user = current_user()
            if user is not None and not has_role(user.role, "admin"):
                ui.label("The audit log is for owners and admins.").classes("text-grey-7")
                return
            ui.label("Logins, user and key changes, workflow, credential and execution operations.").classes(
                "text-sm text-grey-7")
            state: dict[str, Any] = {"cursor": None}
            with ui.row().classes("items-end gap-2"):
                action = ui.input("Action", placeholder="workflow.* or credential.create").props(
                    'dense clearable data-testid="audit-action"')
                actor = ui.input("Actor", placeholder="email, cli, system, anonymous").props(
                    'dense clearable data-testid="audit-actor"')
                ui.button("Filter", icon="filter_list", on_click=lambda: load(reset=True)).props("flat")
            table = ui.table(columns=COLUMNS, rows=[], row_key="id").classes("w-full").props(
                'flat bordered dense data-testid="audit-table"')
            more = ui.button("Load more", on_click=lambda: load(reset=False)).props("flat no-caps")

            async def load(*, reset: bool) -> None:
                if reset:
                    state["cursor"] = None
                    table.rows = []
                page = await services.list_audit(action=(action.value or "").strip() or None,
                                                 actor=(actor.value or "").strip().lower() or None,
                                                 limit=100, cursor=state["cursor"])
                table.rows = [*table.rows, *(row_of(e) for e in page.data)]
                table.update()
                state["cursor"] = page.next_cursor
                more.set_visibility(page.next_cursor is not None)

            await load(reset=True)
