"""n8n JSON in the editor, in a real browser signed in as the owner (issue 14 item 6): Ctrl+V of an n8n
workflow and the import dialog show the conversion report, an n8n node flowbox lacks is drawn as "not
available in flowbox: <type>", its panel shows why and the original JSON and replaces it, the workflow
saves; the workflow menu downloads n8n JSON. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from browser.conftest import Owner, open_node

AIRTABLE = {"parameters": {"operation": "search", "base": {"__rl": True, "value": "app1"}}, "name": "Airtable",
            "type": "n8n-nodes-base.airtable", "typeVersion": 2.1, "position": [440, 0], "id": "n-air"}
N8N = {"name": "From n8n", "nodes": [
    {"parameters": {}, "name": "When clicking", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1,
     "position": [0, 0], "id": "n-start"},
    {"parameters": {"assignments": {"assignments": [{"id": "a", "name": "greeting", "value": "hello",
                                                     "type": "string"}]}, "includeOtherFields": True},
     "name": "Edit Fields", "type": "n8n-nodes-base.set", "typeVersion": 3.4, "position": [220, 0], "id": "n-set"},
    AIRTABLE],
    "connections": {"When clicking": {"main": [[{"node": "Edit Fields", "type": "main", "index": 0}]]},
                    "Edit Fields": {"main": [[{"node": "Airtable", "type": "main", "index": 0}]]}},
    "settings": {"executionOrder": "v1"}}


def _paste(page: Any, text: str) -> None:
    page.evaluate("""text => { const d = new DataTransfer(); d.setData('text/plain', text);
        document.dispatchEvent(new ClipboardEvent('paste', {clipboardData: d, bubbles: true})); }""", text)


def test_pasting_n8n_json_shows_the_report_and_a_replaceable_placeholder(owner: Owner, shot: Any,
                                                                         tmp_path: Path) -> None:
    page = owner.page
    wid = owner.create_workflow("Pasted from n8n", [], connected=False)
    owner.goto(f"/workflow/{wid}")
    page.wait_for_selector(".vue-flow__pane")
    page.mouse.move(400, 300)
    _paste(page, json.dumps(N8N))
    report = page.get_by_test_id("conversion-report")
    report.wait_for()
    text = report.inner_text()
    assert "1 unsupported" in text, text
    assert "Airtable: n8n-nodes-base.airtable v2.1: no flowbox node converts this n8n type" in text, text
    assert "Edit Fields: n8n-nodes-base.set v3.4 -> set" in text, text
    shot("n8n-paste-report")
    page.get_by_test_id("conversion-ok").click()
    page.wait_for_function("document.querySelectorAll('.fb-node').length === 3")
    placeholder = page.locator('.vue-flow__node[data-id="Airtable"] .fb-node')
    assert "placeholder" in (placeholder.get_attribute("class") or "")
    assert "not available in flowbox: n8n-nodes-base.airtable" in placeholder.inner_text()
    assert "placeholder" not in (page.locator('.vue-flow__node[data-id="Edit Fields"] .fb-node')
                                 .get_attribute("class") or "")
    open_node(page, "Airtable")
    panel = page.get_by_test_id("placeholder-panel")
    panel.wait_for()
    assert "no flowbox node converts this n8n type" in panel.inner_text()
    assert '"operation": "search"' in page.get_by_test_id("placeholder-json").inner_text()
    shot("n8n-placeholder-panel")

    page.get_by_test_id("save").click()
    page.wait_for_timeout(800)
    with owner.api() as http:
        saved = http.get(f"/api/v1/workflows/{wid}").json()
    assert [n["type"] for n in saved["nodes"]] == ["manualTrigger", "set", "n8nPlaceholder"]
    assert saved["nodes"][2]["parameters"]["node"] == AIRTABLE
    assert saved["connections"]["Edit Fields"]["main"][0][0]["node"] == "Airtable"

    with page.expect_download() as download:  # the workflow menu gives n8n JSON back
        page.get_by_test_id("workflow-menu").click()
        page.get_by_test_id("download-n8n").click()
    path = tmp_path / "export.json"
    download.value.save_as(str(path))
    exported = json.loads(path.read_text())
    assert [n["type"] for n in exported["nodes"]] == [n["type"] for n in N8N["nodes"]]
    assert {**exported["nodes"][2], "position": AIRTABLE["position"]} == AIRTABLE  # as it came, where it was pasted
    assert exported["connections"] == N8N["connections"]

    page.get_by_test_id("placeholder-replace-type").click()
    page.get_by_role("option", name="No Operation").first.click()
    page.get_by_test_id("placeholder-replace").click()
    page.wait_for_function("!document.querySelector('.vue-flow__node[data-id=\"Airtable\"] .fb-node.placeholder')")
    shot("n8n-placeholder-replaced")
    page.get_by_test_id("save").click()
    page.wait_for_timeout(800)
    with owner.api() as http:
        saved = http.get(f"/api/v1/workflows/{wid}").json()
    assert saved["nodes"][2]["type"] == "noOp" and saved["nodes"][2]["name"] == "Airtable"
    assert saved["connections"]["Edit Fields"]["main"][0][0]["node"] == "Airtable"


def test_the_import_dialog_shows_the_conversion_report(owner: Owner, shot: Any) -> None:
    page = owner.page
    owner.goto("/")
    page.get_by_text("Import").first.click()
    page.get_by_text("Paste JSON").click()
    page.locator('[data-testid="import-text"] textarea, textarea').first.fill(json.dumps(N8N))
    page.get_by_text("Import", exact=True).last.click()
    report = page.get_by_test_id("conversion-report")
    report.wait_for()
    assert "'From n8n': converted from n8n" in report.inner_text() and "1 unsupported" in report.inner_text()
    assert page.get_by_test_id("conversion-unsupported").count() == 1
    shot("n8n-import-report")
