"""Credentials in the browser, signed in as the owner: created on the Credentials page, never shown back, picked in the editor."""

from __future__ import annotations

from typing import Any

from browser.conftest import Owner


def test_create_a_credential_and_pick_it_in_a_node(owner: Owner, shot: Any) -> None:
    page, flowbox_server = owner.page, owner.server
    secret = "s3cret-token-in-the-browser"
    page.goto(f"{flowbox_server.url}/credentials")
    page.locator('[data-testid="cred-new"]').click()
    page.locator('input[data-testid="cred-name"], [data-testid="cred-name"] input').fill("Billing API")
    page.get_by_role("combobox", name="Type").click()
    page.get_by_role("option", name="Bearer Token").click()
    page.locator('input[data-testid="cred-field-token"], [data-testid="cred-field-token"] input').fill(secret)
    page.locator('[data-testid="cred-save"]').click()
    page.wait_for_selector("text=Billing API")
    shot("credentials-1-list")
    assert secret not in page.content()

    with owner.api() as http:
        (cred,) = http.get("/api/v1/credentials").json()["data"]
        assert cred["name"] == "Billing API" and secret not in str(cred)
        wf = {"name": "uses a credential", "connections": {"Start": {"main": [[{"node": "Call"}]]}}, "nodes": [
            {"name": "Start", "type": "manualTrigger", "position": [0, 0], "parameters": {}},
            {"name": "Call", "type": "httpRequest", "position": [260, 0],
             "parameters": {"url": "http://127.0.0.1:9/x", "authentication": "httpBearerAuth"}}]}
        wid = http.post("/api/v1/workflows", json=wf).json()["id"]
    page.goto(f"{flowbox_server.url}/workflow/{wid}")
    page.wait_for_function("document.querySelectorAll('.fb-node').length === 2")
    page.locator('.vue-flow__node[data-id="Call"] .fb-label').click()
    picker = page.locator('[data-testid="credential-select"]')
    picker.click()
    page.get_by_role("option", name="Billing API").click()
    page.locator('[data-testid="save"]').click()
    page.wait_for_selector("text=Saved (version")
    shot("credentials-2-picked")
    with owner.api() as http:
        saved = http.get(f"/api/v1/workflows/{wid}").json()
    call = next(n for n in saved["nodes"] if n["name"] == "Call")
    assert call["credentials"] == {"httpBearerAuth": cred["id"]}
