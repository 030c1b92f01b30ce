"""The editor is served by the same process on the same port (the canvas comes with its own issue)."""

from __future__ import annotations

from typing import Any

from support import node, workflow


def test_the_workflow_list_page_is_served_with_the_api(make_server: Any) -> None:
    srv = make_server(ui=True).start()
    with srv.client() as http:
        created = http.post("/api/v1/workflows", json=workflow(node("Start", "manualTrigger"), name="Invoice mailer"))
        assert created.status_code == 201
        page = http.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "Invoice mailer" in page.text and "flowbox" in page.text
        assert http.get("/healthz").json() == {"status": "ok"}  # one port for both
        assert "https://" not in page.text.split("<body")[0]  # no assets from a CDN
