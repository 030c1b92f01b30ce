"""Who may do what, in the editor: API keys and users (sections of `/settings`) and the Share dialog.

Everything goes through the operations of the signed-in user (`layout.EditorServices`), so a
member sees and revokes only their own keys and shares only what they own, as in the API.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from flowbox.auth import RANK, ROLES, has_role
from flowbox.errors import FlowboxError

from .layout import confirm, current_user, notify_error


async def api_keys_section(services: Any) -> Any:
    """The signed-in user's API keys (an admin's: everyone's): create (shown once), list, revoke. Returns the
    list's refreshable (call `.refresh()` when keys may have changed elsewhere on the page)."""
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
    return rows


async def users_section(services: Any, on_change: Callable[[], Awaitable[Any]] | None = None) -> None:
    """Users and their roles. Owners and admins add users (only an owner adds owners), and change the role
    of, disable, enable, reset the password of and delete those they may manage (an admin: members); see
    `Operations.update_user`. `on_change` runs after a change that may have ended API keys."""
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

    async def changed(message: str) -> None:
        ui.notify(message, type="positive")
        await rows.refresh()
        if on_change is not None:
            await on_change()

    async def set_role(row: dict[str, Any], new_role: str) -> None:
        if new_role == row["role"]:
            return
        try:
            await services.update_user(row["id"], role=new_role)
        except FlowboxError as exc:
            notify_error(exc, "Cannot change the role: ")
            await rows.refresh()
            return
        await changed(f"{row['email']} is now {new_role}")

    async def set_disabled(row: dict[str, Any], disabled: bool) -> None:
        if disabled and not await confirm(f"Disable {row['email']}?", "They are signed out and their API keys stop "
                                          "working at once. You can enable them again; they will need new keys.",
                                          ok="Disable"):
            return
        try:
            await services.update_user(row["id"], disabled=disabled)
        except FlowboxError as exc:
            notify_error(exc, "Cannot change the user: ")
            return
        await changed(f"{'Disabled' if disabled else 'Enabled'} {row['email']}")

    async def reset_password(row: dict[str, Any]) -> None:
        with ui.dialog() as dialog, ui.card().classes("min-w-[420px]"):
            ui.label(f"New password for {row['email']}").classes("text-lg font-semibold")
            ui.label("Their other editor sessions end; API keys keep working.").classes("text-sm text-slate-600")
            field = ui.input("New password", password=True, password_toggle_button=True) \
                .props('outlined autofocus data-testid="new-password"').classes("w-full")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat no-caps")
                ui.button("Set password", on_click=lambda: dialog.submit(field.value or "")) \
                    .props('unelevated no-caps data-testid="password-save"')
        new_password = await dialog
        dialog.delete()
        if new_password is None:
            return
        try:
            await services.set_password(row["id"], new_password)
        except FlowboxError as exc:
            notify_error(exc, "Cannot set the password: ")
            return
        await changed(f"New password set for {row['email']}")

    async def delete(row: dict[str, Any]) -> None:
        heirs = {u["id"]: u["email"] for u in people_now if u["id"] != row["id"] and not u["disabled"]}
        with ui.dialog() as dialog, ui.card().classes("min-w-[440px]"):
            ui.label(f"Delete {row['email']}?").classes("text-lg font-semibold")
            ui.label("They are signed out and their API keys end. Their workflows and credentials move to:") \
                .classes("text-sm text-slate-600")
            heir = ui.select(heirs, value=user.user_id if user and user.user_id in heirs else None,
                             label="Transfer to").props('outlined data-testid="transfer-to"').classes("w-full")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat no-caps")
                ui.button("Delete user", color="negative", on_click=lambda: dialog.submit(heir.value or "")) \
                    .props('unelevated no-caps data-testid="delete-user-ok"')
        transfer_to = await dialog
        dialog.delete()
        if transfer_to is None:
            return
        try:
            moved = await services.delete_user(row["id"], transfer_to=transfer_to or None)
        except FlowboxError as exc:
            notify_error(exc, "Cannot delete the user: ")
            return
        await changed(f"Deleted {row['email']}; {moved['workflows']} workflow(s) and {moved['credentials']} "
                      f"credential(s) moved to {heirs.get(transfer_to, 'nobody')}")

    def manages(row: dict[str, Any]) -> bool:
        return bool(user and has_role(user.role, "admin") and row["id"] != user.user_id
                    and (user.role == "owner" or RANK[row["role"]] < RANK[user.role]))

    people_now: list[dict[str, Any]] = []

    @ui.refreshable
    async def rows() -> None:
        people_now[:] = await services.list_users()
        with ui.column().classes("w-full gap-0 border border-slate-200 rounded").mark("users"):
            for row in people_now:
                me = user is not None and row["id"] == user.user_id
                with ui.row().classes("w-full items-center no-wrap gap-4 px-3 py-2 border-b border-slate-100") \
                        .props(f'data-testid="user-{row["email"]}"'):
                    ui.label(row["email"]).classes("grow text-sm" + (" text-slate-400 line-through" if row[
                        "disabled"] else ""))
                    if me:
                        ui.badge("you").props("color=blue-grey-1 text-color=blue-grey-8")
                    if row["disabled"]:
                        ui.badge("disabled").props('color=negative outline data-testid="disabled-badge"')
                    with ui.element("div").classes("w-32"):
                        if manages(row):
                            ui.select(roles, value=row["role"], on_change=lambda e, r=row: set_role(r, e.value)) \
                                .props(f'outlined dense options-dense data-testid="role-{row["email"]}"') \
                                .classes("w-full")
                        else:
                            ui.badge(row["role"]).props("outline")
                    with ui.row().classes("w-28 gap-1 no-wrap"):
                        actions(row, me)

    def actions(row: dict[str, Any], me: bool) -> None:
        """Reset password (for yourself too), disable or enable, delete: for the users `manages` allows."""
        if manages(row) or (me and user is not None and has_role(user.role, "admin")):
            ui.button(icon="lock_reset", on_click=lambda: reset_password(row)) \
                .props(f'flat round dense color=blue-grey-7 data-testid="password-{row["email"]}"') \
                .tooltip("Reset password")
        if not manages(row):
            return
        icon, label = ("how_to_reg", "Enable") if row["disabled"] else ("block", "Disable")
        ui.button(icon=icon, on_click=lambda: set_disabled(row, not row["disabled"])) \
            .props(f'flat round dense color=blue-grey-7 data-testid="{label.lower()}-{row["email"]}"') \
            .tooltip(label)
        ui.button(icon="person_remove", on_click=lambda: delete(row)) \
            .props(f'flat round dense color=negative data-testid="delete-{row["email"]}"').tooltip("Delete")

    roles = [r for r in reversed(ROLES) if r != "owner" or (user is not None and user.role == "owner")]
    await rows()
    if user is None or not has_role(user.role, "admin"):
        return
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
