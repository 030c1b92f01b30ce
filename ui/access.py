"""Who may do what, in the editor: API keys and users (sections of `/settings`) and the Share dialog.

Everything goes through `Services` acting for the signed-in user (`layout.EditorServices`), so a
member sees and revokes only their own keys and shares only what they own, as in the API.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from flowbox.auth import ROLES, has_role
from flowbox.errors import FlowboxError

from .layout import confirm, current_user, notify_error


async def api_keys_section(services: Any) -> None:
    """The signed-in user's API keys (an admin's: everyone's): create (shown once), list, revoke."""
    user = current_user()

    async def create() -> None:
        if user is None:
            ui.notify("Set up the owner account first: API keys belong to a user", type="warning")
            return
        try:
            key, record = await services.create_api_key(user.email, (name.value or "").strip())
        except FlowboxError as exc:
            notify_error(exc, "Cannot create the key: ")
            return
        name.value = ""
        with ui.dialog() as dialog, ui.card().classes("min-w-[520px]"):
            ui.label("Your new API key").classes("text-lg font-semibold")
            ui.label("Copy it now: flowbox keeps only a hash and cannot show it again.").classes("text-sm")
            ui.input(value=key).props('outlined readonly data-testid="new-api-key"') \
                .classes("w-full font-mono")
            with ui.row().classes("w-full justify-end"):
                ui.button("Copy", icon="content_copy", on_click=lambda: ui.clipboard.write(key)).props("flat no-caps")
                ui.button("Done", on_click=dialog.close).props("unelevated no-caps")
        dialog.open()
        await rows.refresh()

    async def revoke(key: dict[str, Any]) -> None:
        if not await confirm("Revoke this API key?", f"{key['prefix']}… stops working at once."):
            return
        try:
            await services.delete_api_key(key["id"])
        except FlowboxError as exc:
            notify_error(exc, "Cannot revoke: ")
            return
        ui.notify(f"Revoked {key['prefix']}…")
        await rows.refresh()

    @ui.refreshable
    async def rows() -> None:
        keys = await services.list_api_keys()
        if not keys:
            ui.label("No API keys yet.").classes("text-sm text-slate-500 italic")
            return
        emails = {u["id"]: u["email"] for u in await services.list_users()} if user and has_role(
            user.role, "admin") else {}
        with ui.column().classes("w-full gap-0 border border-slate-200 rounded").mark("api-keys"):
            for key in keys:
                with ui.row().classes("w-full items-center no-wrap gap-4 px-3 py-2 border-b border-slate-100"):
                    ui.label(f"{key['prefix']}…").classes("w-40 font-mono text-sm")
                    ui.label(key["name"] or "—").classes("grow text-sm")
                    ui.label(emails.get(key["userId"], "")).classes("text-sm text-slate-500")
                    ui.label((key["createdAt"] or "")[:16].replace("T", " ")).classes("text-sm text-slate-500")
                    ui.button(icon="key_off", on_click=lambda k=key: revoke(k)) \
                        .props(f'flat round dense color=negative data-testid="revoke-{key["prefix"]}"').tooltip("Revoke")

    await rows()
    with ui.row().classes("w-full items-start gap-2 no-wrap"):
        name = ui.input("Name", placeholder="CI deploys").props('outlined dense data-testid="api-key-name"') \
            .classes("w-72")
        ui.button("Create API key", icon="add", on_click=create) \
            .props('unelevated no-caps data-testid="create-api-key"').classes("mt-1")


async def users_section(services: Any) -> None:
    """Users and their roles; admins add users (only an owner adds owners)."""
    user = current_user()

    async def add() -> None:
        try:
            await services.create_user(email.value, role.value, password.value)
        except FlowboxError as exc:
            notify_error(exc, "Cannot add the user: ")
            return
        ui.notify(f"Added {email.value}", type="positive")
        email.value = password.value = ""
        await rows.refresh()

    @ui.refreshable
    async def rows() -> None:
        with ui.column().classes("w-full gap-0 border border-slate-200 rounded").mark("users"):
            for row in await services.list_users():
                with ui.row().classes("w-full items-center gap-4 px-3 py-2 border-b border-slate-100"):
                    ui.label(row["email"]).classes("grow text-sm")
                    ui.badge(row["role"]).props("outline")

    await rows()
    if user is None or not has_role(user.role, "admin"):
        return
    roles = [r for r in reversed(ROLES) if r != "owner" or user.role == "owner"]
    with ui.row().classes("w-full items-start gap-2 no-wrap"):
        email = ui.input("Email").props('outlined dense data-testid="user-email"').classes("w-64")
        password = ui.input("Password", password=True) \
            .props('outlined dense data-testid="user-password"').classes("w-48")
        role = ui.select(roles, value="member").props('outlined dense data-testid="user-role"').classes("w-32")
        ui.button("Add user", icon="person_add", on_click=add) \
            .props('unelevated no-caps data-testid="add-user"').classes("mt-1")


async def share_dialog(services: Any, kind: str, id: str, name: str) -> None:
    """Choose whom a workflow or credential is shared with (its owner or an admin)."""
    try:
        sharing = await services.get_sharing(kind, id)
        people = await services.list_users()
    except FlowboxError as exc:
        notify_error(exc, "Cannot share: ")
        return
    choices = {u["id"]: u["email"] for u in people if u["id"] != sharing["ownerId"]}
    with ui.dialog() as dialog, ui.card().classes("min-w-[440px]"):
        ui.label(f"Share {name}").classes("text-lg font-semibold")
        ui.label("People you share with can open, change and run it; only its owner or an admin can delete "
                 "it or change this list.").classes("text-sm text-slate-600")
        chosen = ui.select(choices, value=[u for u in sharing["sharedWith"] if u in choices], multiple=True,
                           label="Shared with").props('outlined use-chips data-testid="share-with"') \
            .classes("w-full")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat no-caps")
            ui.button("Save", on_click=lambda: dialog.submit(list(chosen.value or []))) \
                .props('unelevated no-caps data-testid="share-save"')
    result = await dialog
    dialog.delete()
    if result is None:
        return
    try:
        await services.set_sharing(kind, id, result)
    except FlowboxError as exc:
        notify_error(exc, "Cannot share: ")
        return
    ui.notify(f"Shared {name} with {len(result)} user(s)" if result else f"{name} is no longer shared")
