"""Credentials page `/credentials`: list, create, test, delete, Connect (OAuth2). Secrets never shown back.

Everything goes through the operations (the same calls as `/api/v1/credentials`), which only ever
returns credentials masked.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from nicegui import ui

from flowbox.errors import FlowboxError
from flowbox.oauth2 import TOKEN_FIELDS
from flowbox.ui.access import share_dialog
from flowbox.ui.layout import confirm, frame, notify_error, page_heading


def credential_form(types: list[dict[str, Any]], on_save: Any) -> None:
    """A dialog to create a credential: pick a type, fill its fields (secret ones as passwords)."""
    by_name = {t["name"]: t for t in types}
    with ui.dialog() as dialog, ui.card().classes("w-[520px]"):
        ui.label("New credential").classes("text-base font-medium")
        name = ui.input("Name").classes("w-full").props('data-testid="cred-name"')
        kind = ui.select({t["name"]: t["displayName"] for t in types}, label="Type",
                         value=types[0]["name"] if types else None).classes("w-full")
        fields = ui.column().classes("w-full gap-1")
        inputs: dict[str, Any] = {}

        def draw() -> None:
            fields.clear()
            inputs.clear()
            ctype = by_name.get(kind.value)
            if ctype is None:
                return
            with fields:
                ui.label(ctype.get("description") or "").classes("text-xs text-grey-7")
                for f in ctype["fields"]:
                    if ctype["sign"] == "oauth2" and f["name"] in TOKEN_FIELDS:
                        continue  # filled by Connect (or the client-credentials grant), not typed in
                    label = f["displayName"] + (" *" if f["required"] else "")
                    field = ui.input(label, value=f.get("default") or "",
                                     password=f["secret"], password_toggle_button=f["secret"]).classes("w-full")
                    field.props(f'data-testid="cred-field-{f["name"]}"')
                    inputs[f["name"]] = field

        kind.on_value_change(draw)
        draw()

        async def save() -> None:
            data = {k: v.value for k, v in inputs.items() if v.value not in ("", None)}
            try:
                await on_save(name.value or "", kind.value, data)
            except FlowboxError as exc:
                notify_error(exc, "Not saved: ")
                return
            dialog.close()
            dialog.delete()  # the typed secret leaves the page with it

        with ui.row():
            ui.button("Save", on_click=save).props('data-testid="cred-save"')
            ui.button("Cancel", on_click=dialog.close).props("flat")
    dialog.open()


def register(services: Any) -> None:
    @ui.page("/credentials")
    async def credentials_page(request: Request) -> None:
        with frame("Credentials"):
            page_heading("Credentials")
            ui.label("Secrets are stored encrypted and never shown again after saving.").classes(
                "text-sm text-grey-7")
            types = services.credential_types()

            @ui.refreshable
            async def rows() -> None:
                page = await services.list_credentials(limit=250)
                if not page.data:
                    ui.label("No credentials yet.").classes("text-grey-7")
                for cred in page.data:
                    with ui.card().classes("w-full").props("flat bordered"), ui.row().classes(
                            "w-full items-center"):
                        with ui.column().classes("gap-0"):
                            ui.label(cred["name"]).classes("font-medium")
                            ui.label(f"{cred['type']} · {cred['id']}").classes("text-xs text-grey-7 font-mono")
                        ui.space()
                        data = cred["data"]
                        if cred["type"] == "oAuth2Api" and data.get("grantType") != "clientCredentials":
                            ui.button("Connect", on_click=lambda c=cred: connect(c)).props(
                                f'flat dense data-testid="cred-connect-{cred["id"]}"')
                        ui.button("Test", on_click=lambda c=cred: test(c)).props("flat dense")
                        ui.button("Share", on_click=lambda c=cred: share_dialog(services, "credential", c["id"],
                                                                                 c["name"])).props("flat dense")
                        ui.button(icon="delete", on_click=lambda c=cred: delete(c)).props("flat dense")

            async def create(name: str, type_: str, data: dict[str, Any]) -> None:
                await services.create_credential(name, type_, data)
                ui.notify(f"Saved '{name}'", type="positive")
                await rows.refresh()

            async def test(cred: dict[str, Any]) -> None:
                try:
                    result = await services.test_credential(cred["id"])
                except FlowboxError as exc:
                    notify_error(exc)
                    return
                ui.notify(result["message"], type="positive" if result["ok"] else "warning", multi_line=True)

            async def connect(cred: dict[str, Any]) -> None:
                """Open the provider's authorize page; it comes back to /api/v1/oauth2/callback."""
                try:
                    result = await services.oauth2_authorize(cred["id"], base_url=str(request.base_url))
                except FlowboxError as exc:
                    notify_error(exc, "Cannot connect: ")
                    return
                ui.navigate.to(result["url"], new_tab=True)
                ui.notify("Finish in the new tab, then Test the credential", type="info")

            async def delete(cred: dict[str, Any]) -> None:
                if not await confirm("Delete credential?", f"Workflows using '{cred['name']}' will fail until "
                                     "they get another one."):
                    return
                try:
                    await services.delete_credential(cred["id"])
                except FlowboxError as exc:
                    notify_error(exc, "Cannot delete: ")
                    return
                await rows.refresh()

            ui.button("New credential", icon="add", on_click=lambda: credential_form(types, create)) \
                .props('data-testid="cred-new"')
            await rows()
