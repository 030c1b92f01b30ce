"""The editor (NiceGUI), served by `flowbox serve` at `/`.

`mount_ui(services)` builds the FastAPI shell NiceGUI runs on and registers the pages;
pages call the same operations the API uses (`flowbox.operations`), never the store directly.
"""

from __future__ import annotations

from typing import Any


def mount_ui(runtime: Any) -> Any:
    """A FastAPI shell with NiceGUI's pages on it (its lifespan is run by `flowbox.app.Root`)."""
    from fastapi import FastAPI
    from nicegui import ui

    from flowbox.ui import audit_page, credentials_page, editor, pages
    from flowbox.ui.layout import EditorServices

    shell = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    services = EditorServices(runtime)  # every page acts for its signed-in user
    pages.register(services)
    editor.register(services)
    credentials_page.register(services)
    audit_page.register(services)
    ui.run_with(shell, title="flowbox", favicon="🔀", show_welcome_message=False, reconnect_timeout=10,
                storage_secret=None)
    return shell
