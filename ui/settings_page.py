"""`/settings`: variables (`{{ $vars.NAME }}` in expressions) and a read-only summary of the server's settings."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from nicegui import ui

from flowbox import __version__
from flowbox.errors import FlowboxError

from .access import api_keys_section, users_section
from .layout import confirm, frame, notify_error, page_heading

if TYPE_CHECKING:
    from flowbox.operations import Operations
    from flowbox.settings import Settings

MONO = ("Data directory", "Database", "Queue", "Listening on")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # as Operations.set_variable checks it


def register(services: Operations) -> None:
    @ui.page("/settings")
    async def settings() -> None:
        await settings_page(services)


def name_problem(name: str | None, taken: Collection[str] = ()) -> str | None:
    """Why `name` cannot be a new variable's name, or None when it can."""
    name = (name or "").strip()
    if not name:
        return "Give the variable a name"
    if not NAME.fullmatch(name):
        return "Letters, digits and _ only, not starting with a digit"
    if name in taken:
        return f"{name} exists already: edit it in the list"
    return None


def database_summary(url: str) -> tuple[str, str]:
    """The database's kind and where it is, never its password."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme == "sqlite":
        return "SQLite", url.split(":///", 1)[-1]
    kind = {"postgresql": "PostgreSQL", "postgres": "PostgreSQL"}.get(scheme, scheme or "unknown")
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return kind, f"{host}{port}{parts.path}"


def server_summary(settings: Settings) -> list[tuple[str, str]]:
    """(label, value) rows describing how this server runs."""
    db_kind, db_where = database_summary(settings.database_url)
    if settings.redis_url:
        parts = urlsplit(settings.redis_url)
        queue = f"Redis at {parts.hostname or 'localhost'}{f':{parts.port}' if parts.port else ''}" \
                f" (queue '{settings.queue_name}')"
        consumers = "this server and `flowbox worker` processes" if settings.server_consumes \
            else "`flowbox worker` processes"
    else:
        queue = f"embedded (SQLite, {settings.queue_path})"
        consumers = "this server"
    prune = []
    if settings.prune_max_age_days:
        prune.append(f"older than {settings.prune_max_age_days:g} days")
    if settings.prune_max_count:
        prune.append(f"beyond the newest {settings.prune_max_count:,}")
    reserve = f"{settings.min_free_mb:g} MB kept free (FLOWBOX_MIN_FREE_MB)" if settings.min_free_mb \
        else "no free-space reserve"
    return [
        ("Version", f"flowbox {__version__}"),
        ("Data directory", str(settings.data_dir)),
        ("Database", f"{db_kind} — {db_where}"),
        ("Queue", queue),
        ("Runs executions", consumers),
        ("Workers", f"{settings.workers} executions at once"),
        ("Listening on", f"{settings.host}:{settings.port}"),
        ("Pruning", "deletes executions " + " or ".join(prune) if prune else "keeps every execution"),
        ("Disk space", reserve),
        ("Long waits", f"Wait nodes over {settings.wait_persist_seconds:g} s are saved and resumed later"),
        ("Largest request body", f"{settings.max_body_bytes / 1024 / 1024:g} MB"),
        ("Shutdown", f"running executions get {settings.shutdown_timeout:g} s to finish"),
    ]


async def settings_page(services: Operations) -> None:
    with frame("Settings"):
        page_heading("Settings")
        with ui.card().props("flat bordered").classes("w-full gap-3"):
            with ui.row().classes("w-full items-baseline gap-2"):
                ui.label("Variables").classes("text-lg font-semibold")
                ui.label("Read them in any expression as {{ $vars.NAME }}; values are text.") \
                    .classes("text-sm text-slate-500")
            await variables_section(services)
        with ui.card().props("flat bordered").classes("w-full gap-3"):
            with ui.row().classes("w-full items-baseline gap-2"):
                ui.label("API keys").classes("text-lg font-semibold")
                ui.label("Scripts send one in the X-API-Key header; it acts as the user who made it.") \
                    .classes("text-sm text-slate-500")
            keys = await api_keys_section(services)
        with ui.card().props("flat bordered").classes("w-full gap-3"):
            with ui.row().classes("w-full items-baseline gap-2"):
                ui.label("Users").classes("text-lg font-semibold")
                ui.label("Disabling or deleting someone signs them out and ends their API keys at once.") \
                    .classes("text-sm text-slate-500")
            await users_section(services, on_change=keys.refresh)
        with ui.card().props("flat bordered").classes("w-full gap-3"):
            with ui.row().classes("w-full items-baseline gap-2"):
                ui.label("Server").classes("text-lg font-semibold")
                ui.label("Set with flags and FLOWBOX_* environment variables; read-only here.") \
                    .classes("text-sm text-slate-500")
            with ui.grid(columns="auto 1fr").classes("w-full gap-x-8 gap-y-2").mark("server-settings"):
                for label, value in server_summary(services.settings):
                    ui.label(label).classes("text-sm text-slate-500")
                    mono = " font-mono" if label in MONO else ""
                    ui.label(value).classes(f"text-sm text-slate-800 break-all{mono}")


async def variables_section(services: Operations) -> None:
    values: dict[str, str] = {}

    async def add() -> None:
        problem = name_problem(new_name.value, set(values))
        if problem:
            new_name.error = problem
            return
        if await save(new_name.value.strip(), new_value.value or ""):
            new_name.value = ""
            new_value.value = ""
            new_name.error = None

    async def save(key: str, value: str) -> bool:
        try:
            await services.set_variable(key, value)
        except FlowboxError as exc:
            notify_error(exc, "Cannot save the variable: ")
            return False
        ui.notify(f"Saved {key}", type="positive")
        await rows.refresh()
        return True

    async def edit(key: str) -> None:
        with ui.dialog() as dialog, ui.card().classes("min-w-[440px]"):
            ui.label(f"Edit {key}").classes("text-lg font-semibold")
            field = ui.textarea("Value", value=values.get(key, "")).props("outlined autogrow autofocus") \
                .classes("w-full font-mono").mark("edit-value")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat no-caps")
                ui.button("Save", on_click=lambda: dialog.submit(field.value or "")).props("unelevated no-caps") \
                    .mark("edit-save")
        result = await dialog
        dialog.delete()
        if result is not None:
            await save(key, result)

    async def delete(key: str) -> None:
        if not await confirm("Delete variable?", f"Expressions that read $vars.{key} will get nothing."):
            return
        try:
            await services.delete_variable(key)
        except FlowboxError as exc:
            notify_error(exc, "Cannot delete: ")
            return
        ui.notify(f"Deleted {key}")
        await rows.refresh()

    @ui.refreshable
    async def rows() -> None:
        values.clear()
        values.update(await services.get_variables())
        if not values:
            ui.label("No variables yet.").classes("text-sm text-slate-500 italic")
            return
        with ui.column().classes("w-full gap-0 border border-slate-200 rounded").mark("variables"):
            for key in sorted(values, key=str.lower):
                variable_row(key, values[key], edit, delete)

    await rows()
    with ui.row().classes("w-full items-start gap-2 no-wrap"):
        new_name = ui.input("Name", placeholder="API_BASE_URL",
                            validation=lambda v: None if not v else name_problem(v, set(values))) \
            .props("outlined dense").classes("w-72").mark("new-name")
        new_value = ui.input("Value").props("outlined dense").classes("grow").mark("new-value")
        new_value.on("keydown.enter", add)
        ui.button("Add variable", icon="add", on_click=add).props("unelevated no-caps").classes("mt-1") \
            .mark("add-variable")


def variable_row(key: str, value: str, edit: Any, delete: Any) -> None:
    with ui.row().classes("w-full items-center no-wrap gap-4 px-3 py-2 border-b border-slate-100 "
                          "last:border-b-0").mark(f"variable-{key}"):
        ui.label(key).classes("w-64 font-mono text-sm font-medium text-slate-800 break-all")
        ui.label(value if len(value) <= 200 else value[:199] + "…") \
            .classes("grow font-mono text-sm text-slate-600 break-all")
        ui.button(icon="edit", on_click=lambda: edit(key)).props("flat round dense").tooltip("Edit") \
            .mark(f"edit-{key}")
        ui.button(icon="delete", on_click=lambda: delete(key)).props("flat round dense color=negative") \
            .tooltip("Delete").mark(f"delete-{key}")
