"""The editor's pages over HTTP on a real `flowbox serve`: each answers 200 with what it should list."""

from __future__ import annotations

from typing import Any

from support import node, workflow


def test_workflows_executions_and_settings_pages(make_server: Any) -> None:
    srv = make_server(ui=True).start()
    with srv.client() as http:
        good = http.post("/api/v1/workflows", json=workflow(node("Start", "manualTrigger"), name="Invoice mailer"))
        bad = http.post("/api/v1/workflows", json=workflow(
            node("Start", "manualTrigger"), node("Boom", "stopAndError", message="Quota exceeded"), name="Lead sync"))
        assert good.status_code == bad.status_code == 201
        good_id, bad_id = good.json()["id"], bad.json()["id"]
        ok_run = http.post(f"/api/v1/workflows/{good_id}/run", json={"input": [{"customer": "ACME"}]}).json()
        failed = http.post(f"/api/v1/workflows/{bad_id}/run", json={"input": [{}]}).json()
        assert (ok_run["status"], failed["status"]) == ("success", "error")
        assert http.post("/api/v1/variables", json={"key": "REGION", "value": "eu-west"}).status_code in (200, 201)

        def page(path: str) -> str:
            response = http.get(path)
            assert response.status_code == 200, (path, response.status_code)
            assert "text/html" in response.headers["content-type"]
            assert "https://" not in response.text.split("<body")[0]  # no assets from a CDN
            for nav in ("Workflows", "Executions", "Settings", "API docs"):
                assert nav in response.text, (path, nav)
            return response.text

        text = page("/")
        assert "Invoice mailer" in text and "Lead sync" in text and "Succeeded" in text and "Failed" in text
        assert "Invoice mailer" in page("/?search=invoice") and "Lead sync" not in page("/?search=invoice")

        text = page("/executions")
        assert ok_run["id"] in text and failed["id"] in text and "Invoice mailer" in text
        text = page(f"/executions?workflow={bad_id}&status=error&since=24h")
        assert failed["id"] in text and ok_run["id"] not in text

        text = page(f"/execution/{failed['id']}")
        assert "Lead sync" in text and "Quota exceeded" in text and "Boom" in text and "Retry" in text
        text = page(f"/execution/{ok_run['id']}")
        assert "ACME" in text and "Start" in text
        assert "Execution not found" in page("/execution/no-such-id")

        text = page("/settings")
        assert "REGION" in text and "eu-west" in text and str(srv.data_dir) in text and "SQLite" in text
