"""The page frame every editor page is drawn in, and the small helpers the pages share.

    with frame("Workflows"):      # header with the flowbox name and the navigation,
        ui.label("...")           # then this page's content in one column

`frame` is the pattern of NiceGUI's `examples/modularization/theme.py`: a page is a
function, the layout a context manager. The helpers format times, durations and
execution statuses the same way on every page.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from nicegui import context, ui

# label, link, icon, the path prefixes it is highlighted on
NAV = (("Workflows", "/", "account_tree", ("/workflow/",)),
       ("Executions", "/executions", "history", ("/executions", "/execution/")),
       ("Credentials", "/credentials", "key", ("/credentials",)),
       ("Audit", "/audit", "policy", ("/audit",)),
       ("Settings", "/settings", "settings", ("/settings",)))

# Quasar colour names for each execution status (DESIGN §8)
STATUS_COLORS = {
    "new": "grey-6", "queued": "blue-grey-5", "running": "blue-6", "waiting": "amber-8",
    "success": "positive", "error": "negative", "canceled": "grey-7", "crashed": "deep-orange-8",
}
STATUS_LABELS = {
    "new": "New", "queued": "Queued", "running": "Running", "waiting": "Waiting", "success": "Succeeded",
    "error": "Failed", "canceled": "Canceled", "crashed": "Crashed",
}
UNFINISHED = ("new", "queued", "running", "waiting")


@contextmanager
def frame(title: str, *, wide: bool = False) -> Iterator[ui.column]:
    """Draw the header and navigation, then yield the content column (`wide`: full width, no padding)."""
    ui.page_title(f"{title} · flowbox")
    ui.colors(primary="#ff6d5a", secondary="#5a6b7d", accent="#7c4dff", positive="#2e9e5b",
              negative="#d64545", warning="#e6a23c", info="#3d7ed6")
    ui.query("body").classes("bg-slate-50")
    current = _current_path()
    with ui.header(elevated=False).classes("items-center gap-1 px-4 py-1 bg-slate-800 text-white"):
        with ui.link(target="/").classes("flex items-center gap-2 no-underline text-white mr-6"):
            ui.icon("hub", size="sm").classes("text-orange-400")
            ui.label("flowbox").classes("text-lg font-bold tracking-tight")
        for label, path, icon, prefixes in NAV:
            here = current == path or current.startswith(prefixes)
            button = ui.button(label, icon=icon).props(f'flat no-caps href="{path}"')
            button.classes("text-white" + (" bg-slate-700" if here else ""))
        ui.space()
        ui.button("API docs", icon="description") \
            .props('flat no-caps text-color=blue-grey-2 href="/api/docs" target="_blank"')
        _user_menu()
    if _scope().get("flowbox.user") is None and _scope().get("flowbox.open"):
        with ui.row().classes("w-full items-center gap-2 px-4 py-2 bg-amber-100 text-amber-10 text-sm") \
                .props('data-testid="setup-banner"'):
            ui.icon("lock_open")
            ui.label("No owner account yet: anyone who can reach this computer can use flowbox.")
            ui.link("Set up the owner account", "/setup").classes("font-semibold")
    classes = "w-full p-0 gap-0" if wide else "w-full max-w-6xl mx-auto px-6 py-5 gap-4"
    with ui.column().classes(classes) as column:
        yield column


def _scope() -> dict[str, Any]:
    try:
        request = context.client.request
    except Exception:  # no page being built
        return {}
    return request.scope if request is not None else {}


def current_user(client: Any = None) -> Any:
    """The signed-in user of the page being built or handled (a `flowbox.auth.Principal`), or None on an
    install without users. Outside a page it raises: an operation must never run for nobody in particular."""
    request = (client or context.client).request
    if request is None:
        raise RuntimeError("no page request: cannot tell who is signed in")
    return request.scope.get("flowbox.user")


class EditorServices:
    """The operations (`flowbox.operations`) of whoever is signed in to the page that calls, so every page
    and handler sees and changes only what its user may; the session is checked again on every operation
    (signing out stops open tabs too).

    `for_page()` binds a copy to the page being built: its calls act for that page's user from anywhere,
    also from the page's background tasks and worker threads, which have no NiceGUI context of their own."""

    def __init__(self, runtime: Any, client: Any = None) -> None:
        self._runtime = runtime
        self._client = client

    def for_page(self) -> EditorServices:
        return EditorServices(self._runtime, context.client)

    def __getattr__(self, name: str) -> Any:
        import inspect

        client = self._client or context.client
        user = current_user(client)
        target = getattr(self._runtime.operations(user), name)
        if user is None or not inspect.iscoroutinefunction(target):
            return target
        cookie = client.request.headers.get("cookie")

        async def checked(*args: Any, **kwargs: Any) -> Any:
            from flowbox.errors import Unauthorized
            from flowbox.sessions import read_cookie

            if await self._runtime.accounts.authenticate_session(read_cookie(cookie)) is None:
                with client:
                    ui.navigate.to("/login")
                raise Unauthorized("your session has ended: sign in again")
            return await target(*args, **kwargs)

        return checked


def _user_menu() -> None:
    """The signed-in user's name and a Sign out button (it posts the session's CSRF token)."""
    user = _scope().get("flowbox.user")
    if user is None:
        return
    with ui.button(user.email, icon="account_circle").props('flat no-caps data-testid="user-menu"') \
            .classes("text-white"), ui.menu():
        ui.item(f"Role: {user.role}").props("dense").classes("text-grey-7")
        sign_out = ("fetch('/api/v1/logout', {method: 'POST', headers: {'X-CSRF-Token': " + json.dumps(user.csrf)
                    + "}}).finally(() => { window.location.href = '/login'; })")
        ui.item("Sign out", on_click=lambda: ui.run_javascript(sign_out)).props('data-testid="sign-out"')


def _current_path() -> str:
    try:
        request = context.client.request
    except Exception:  # no request (e.g. an auto-index page built outside a request)
        return ""
    return request.url.path if request is not None else ""


def page_heading(text: str) -> ui.label:
    return ui.label(text).classes("text-2xl font-semibold text-slate-800")


# ---------------------------------------------------------------- statuses

def status_color(status: str) -> str:
    return STATUS_COLORS.get(status, "grey-6")


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.capitalize())


def status_badge(status: str) -> ui.badge:
    """A coloured badge for an execution status."""
    return ui.badge(status_label(status), color=status_color(status)).classes("px-2 py-1 text-xs") \
        .props(f'aria-label="status {status}"')


def status_badge_slot(field: str = "status") -> str:
    """A `body-cell-<column>` slot template drawing `row[field]` as a status badge in a `ui.table`."""
    colors, labels = _js_object(STATUS_COLORS), _js_object(STATUS_LABELS)
    return (f'<q-td :props="props"><q-badge :color="({colors})[props.row.{field}] || \'grey-6\'"'
            f' :label="({labels})[props.row.{field}] || props.row.{field}" class="px-2 py-1 text-xs" /></q-td>')


def _js_object(values: dict[str, str]) -> str:
    """A JS object literal in single quotes (it goes inside a double-quoted template attribute)."""
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in values.items()) + "}"


# ---------------------------------------------------------------- times

def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def ago(when: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """`when` relative to now: "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago", else the date."""
    if when is None:
        return "—"
    now = _aware(now or dt.datetime.now(dt.UTC))
    seconds = (now - _aware(when)).total_seconds()
    if seconds < 0:
        return "in " + _span(-seconds) if seconds < -45 else "just now"
    if seconds < 45:
        return "just now"
    if seconds < 86400:
        return _span(seconds) + " ago"
    days = int(seconds // 86400)
    if days == 1:
        return "yesterday"
    if days < 30:
        return f"{days} days ago"
    return _aware(when).strftime("%Y-%m-%d")


def _span(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 86400:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


def timestamp(when: dt.datetime | None) -> str:
    """An absolute time in UTC, to the second."""
    return _aware(when).strftime("%Y-%m-%d %H:%M:%S UTC") if when else "—"


def duration(start: dt.datetime | None, end: dt.datetime | None) -> str:
    """How long from `start` to `end`: "12 ms", "3.4 s", "2 min 5 s", "1 h 3 min"; "—" when unknown."""
    if start is None or end is None:
        return "—"
    return seconds_text((_aware(end) - _aware(start)).total_seconds())


def seconds_text(seconds: float) -> str:
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


# ---------------------------------------------------------------- errors

def error_text(exc: BaseException) -> str:
    """A flowbox error as one line for a notification, naming the node (and field) when it knows them."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    node = getattr(exc, "node", None)
    if node and f"'{node}'" not in message and f'"{node}"' not in message:
        message = f"node '{node}': {message}"
    return message


def notify_error(exc: BaseException, prefix: str = "") -> None:
    ui.notify(f"{prefix}{error_text(exc)}", type="negative", multi_line=True, close_button=True, timeout=8000)


def short_id(value: str | None) -> str:
    return (value or "")[-8:]


def compact_json(value: Any, limit: int = 80) -> str:
    """A JSON value on one line, cut at `limit` characters (for table cells)."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- dialogs

async def confirm(title: str, message: str, *, ok: str = "Delete", color: str = "negative") -> bool:
    """Ask before something that cannot be undone; True when confirmed."""
    with ui.dialog() as dialog, ui.card().classes("min-w-[360px]"):
        ui.label(title).classes("text-lg font-semibold")
        ui.label(message).classes("text-slate-600")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=lambda: dialog.submit(False)).props("flat no-caps").mark("confirm-cancel")
            ui.button(ok, color=color, on_click=lambda: dialog.submit(True)).props("unelevated no-caps") \
                .mark("confirm-ok")
    try:
        return bool(await dialog)
    finally:
        _drop(dialog)


async def prompt(title: str, label: str, value: str = "", *, ok: str = "Save") -> str | None:
    """Ask for one line of text; None when cancelled or left empty."""
    with ui.dialog() as dialog, ui.card().classes("min-w-[400px]"):
        ui.label(title).classes("text-lg font-semibold")
        field = ui.input(label, value=value).props("outlined autofocus").classes("w-full").mark("prompt-value")
        field.on("keydown.enter", lambda: dialog.submit(field.value))
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat no-caps").mark("prompt-cancel")
            ui.button(ok, on_click=lambda: dialog.submit(field.value)).props("unelevated no-caps").mark("prompt-ok")
    try:
        result = await dialog
    finally:
        _drop(dialog)
    return result.strip() if isinstance(result, str) and result.strip() else None


def _drop(element: ui.element) -> None:
    if not element.is_deleted:
        element.delete()
