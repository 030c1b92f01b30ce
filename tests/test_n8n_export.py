"""Export back to n8n (DESIGN §10, issue 14 item 7): n8n -> flowbox -> n8n keeps node types, versions,
parameters and connections; edited nodes are written through their node's `N8n.export`; what cannot be
written is reported. The workflows here are written from n8n's documentation of its export format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from n8n_support import cli, n8n_node, n8n_workflow
from support import Harness, run_with_services

from flowbox import registry
from flowbox.n8n import PLACEHOLDER, convert, is_n8n, report_json, to_n8n
from flowbox.workflow import load_workflow, validate


def _condition(left: Any, operation: str, right: Any, kind: str = "number") -> dict[str, Any]:
    return {"id": "c1", "leftValue": left, "rightValue": right, "operator": {"type": kind, "operation": operation}}


WEBHOOK = n8n_node("Hook", "webhook", 2, {"httpMethod": "POST", "path": "orders", "responseMode": "responseNode",
                                          "options": {}}, webhookId="5b7f0c1e-hook")
SET = n8n_node("Edit Fields", "set", 3.4, {"assignments": {"assignments": [
    {"id": "a1", "name": "total", "value": "={{ $json.body.price * 2 }}", "type": "string"},
    {"id": "a2", "name": "ok", "value": True, "type": "boolean"}]}, "includeOtherFields": True, "options": {}},
    onError="continueErrorOutput", retryOnFail=True, maxTries=4, waitBetweenTries=2000, notes="doubles the price")
IF = n8n_node("Big?", "if", 2.2, {"conditions": {
    "options": {"caseSensitive": True, "leftValue": "", "typeValidation": "strict", "version": 2},
    "conditions": [_condition("={{ $json.total }}", "gt", 100)], "combinator": "and"}, "options": {}})
CODE = n8n_node("Tag", "code", 2, {"language": "python", "pythonCode": "return [{'big': True} for _ in items]"})
HTTP = n8n_node("Notify", "httpRequest", 4.2, {"method": "POST", "url": "https://example.com/notify",
                                               "options": {}}, disabled=True)
RESPOND = n8n_node("Answer", "respondToWebhook", 1.1, {"respondWith": "json", "responseBody": "={{ $json }}",
                                                       "options": {"responseCode": 201}})
AIRTABLE = n8n_node("Airtable", "airtable", 2.1, {"operation": "search", "base": {"__rl": True, "value": "app1"}},
                    credentials={"airtableTokenApi": {"id": "9", "name": "Airtable token"}})
CALCULATOR = {"parameters": {}, "name": "Calculator", "type": "@n8n/n8n-nodes-langchain.toolCalculator",
              "typeVersion": 1, "position": [40, 300], "id": "id-calc"}

CONNECTIONS = {
    "Hook": {"main": [[{"node": "Edit Fields", "type": "main", "index": 0}]]},
    "Edit Fields": {"main": [[{"node": "Big?", "type": "main", "index": 0}],
                             [{"node": "Answer", "type": "main", "index": 0}]]},
    "Big?": {"main": [[{"node": "Tag", "type": "main", "index": 0}], [{"node": "Airtable", "type": "main", "index": 0}]]},
    "Tag": {"main": [[{"node": "Notify", "type": "main", "index": 0}]]},
    "Notify": {"main": [[{"node": "Answer", "type": "main", "index": 0}]]},
    "Calculator": {"ai_tool": [[{"node": "Airtable", "type": "ai_tool", "index": 0}]]},
}


def _original() -> dict[str, Any]:
    return n8n_workflow(WEBHOOK, SET, IF, CODE, HTTP, RESPOND, AIRTABLE, CALCULATOR, connections=CONNECTIONS,
                        settings={"executionOrder": "v1", "timezone": "Europe/Berlin", "saveManualExecutions": True},
                        pinData={"Hook": [{"json": {"body": {"price": 60}}}]})


def _by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in data["nodes"]}


def _entries(report: list[Any], level: str) -> list[tuple[str | None, str]]:
    return [(e.node, e.message) for e in report if e.level == level]


# ---------------------------------------------------------------- the round trip

def test_round_trip_keeps_types_versions_parameters_connections_settings_and_pin_data() -> None:
    original = _original()
    flowbox_json = convert(original).workflow
    back, report = to_n8n(flowbox_json)
    assert is_n8n(back)
    sent, got = _by_name(original), _by_name(back)
    assert list(got) == list(sent)
    for name, node in sent.items():
        for key in ("type", "typeVersion", "parameters", "id", "position"):
            assert got[name][key] == node[key], (name, key)
    assert back["connections"] == CONNECTIONS  # every type, both If outputs, the error output
    assert back["settings"] == original["settings"]
    assert back["pinData"] == original["pinData"]
    assert back["active"] is False
    edit = got["Edit Fields"]
    assert (edit["onError"], edit["retryOnFail"], edit["maxTries"], edit["waitBetweenTries"], edit["notes"]) == (
        "continueErrorOutput", True, 4, 2000, "doubles the price")
    assert got["Notify"]["disabled"] is True and got["Hook"]["webhookId"] == "5b7f0c1e-hook"
    assert "onError" not in got["Tag"]  # stopWorkflow is n8n's default, left out as n8n does
    assert got["Airtable"] == AIRTABLE  # the placeholder gives back its original JSON unchanged
    assert got["Calculator"] == CALCULATOR
    assert _entries(report, "unsupported") == []
    assert ("Edit Fields", "set -> n8n-nodes-base.set v3.4 (its n8n parameters, unedited)") in _entries(report, "mapped")
    # and n8n's JSON converts to the same flowbox workflow again
    assert convert(back).workflow["nodes"] == flowbox_json["nodes"]


def test_a_node_moved_or_renamed_in_flowbox_keeps_that_in_the_export() -> None:
    data = convert(n8n_workflow(AIRTABLE)).workflow
    data["nodes"][0]["position"] = [500, 80]
    data["nodes"][0]["name"] = "Search bases"
    node = _by_name(to_n8n(data)[0])["Search bases"]
    assert node["position"] == [500, 80] and node["type"] == "n8n-nodes-base.airtable"
    assert node["parameters"] == AIRTABLE["parameters"] and node["credentials"] == AIRTABLE["credentials"]


def test_both_kinds_of_continue_are_n8ns_continue_regular_output() -> None:
    """flowbox's continue (an error item) and passThrough (n8n's continue) both export as continueRegularOutput;
    n8n's continueOnFail and continueRegularOutput import as passThrough."""
    nodes = [{"name": n, "type": "noOp", "parameters": {}, "position": [0, 0], "onError": mode}
             for n, mode in (("A", "continue"), ("B", "passThrough"))]
    back = _by_name(to_n8n({"name": "x", "nodes": nodes, "connections": {}})[0])
    assert back["A"]["onError"] == back["B"]["onError"] == "continueRegularOutput"
    again = convert(n8n_workflow(n8n_node("C", "noOp", continueOnFail=True), n8n_node("D", "noOp",
                                                                                   onError="continueRegularOutput")))
    assert [n["onError"] for n in again.workflow["nodes"]] == ["passThrough", "passThrough"]


# ---------------------------------------------------------------- edited nodes and flowbox's own

def test_an_edited_node_is_written_by_its_export_and_converts_back_to_the_edit() -> None:
    data = convert(n8n_workflow(SET)).workflow
    data["nodes"][0]["parameters"] = {"fields": {"total": "={{ $json.price }}", "count": 3, "tags": ["a"]},
                                      "keepOnly": False, "remove": ["secret"]}
    back, report = to_n8n(data)
    node = back["nodes"][0]
    assert (node["type"], node["typeVersion"]) == ("n8n-nodes-base.set", 3.4)
    assert node["parameters"]["assignments"]["assignments"] == [
        {"id": "field-0", "name": "total", "type": "string", "value": "={{ $json.price }}"},
        {"id": "field-1", "name": "count", "type": "number", "value": 3},
        {"id": "field-2", "name": "tags", "type": "array", "value": '["a"]'}]
    assert ("Edit Fields", "set -> n8n-nodes-base.set v3.4 (edited in flowbox, parameters written back)") in \
        _entries(report, "mapped")
    # n8n converts an expression's result to its field's type: "string" unless `types` says otherwise
    assert convert(back).workflow["nodes"][0]["parameters"] == {**data["nodes"][0]["parameters"],
                                                                "types": {"total": "string"}}


NATIVE = [  # flowbox parameters of nodes made in flowbox -> the n8n type their export writes
    ("manualTrigger", {}, "n8n-nodes-base.manualTrigger"),
    ("set", {"fields": {"a.b": "x", "n": 1.5, "o": {"k": 1}, "t": False}, "keepOnly": True},
     "n8n-nodes-base.set"),
    ("set", {"fields": {"a": "x"}, "keepOnly": False}, "n8n-nodes-base.set"),
    ("code", {"language": "python", "mode": "eachItem", "code": "return item"}, "n8n-nodes-base.code"),
    ("webhook", {"path": "in", "method": "PUT", "respond": "lastNode", "responseData": "allEntries",
                 "responseCode": 202, "authentication": "httpHeaderAuth"}, "n8n-nodes-base.webhook"),
    ("webhook", {"path": "in", "method": "POST", "respond": "immediately", "responseData": "firstEntryJson",
                 "responseCode": 200, "authentication": "none"}, "n8n-nodes-base.webhook"),
    ("respondToWebhook", {"status": 404, "headers": {"X-A": "1"}, "body": {"error": "missing"}},
     "n8n-nodes-base.respondToWebhook"),
    ("respondToWebhook", {"status": 200, "headers": {}, "body": "plain text"}, "n8n-nodes-base.respondToWebhook"),
    ("respondToWebhook", {"status": 200, "headers": {}, "body": "={{ $json }}"}, "n8n-nodes-base.respondToWebhook"),
    ("if", {"conditions": [{"left": "={{ $json.n }}", "op": "gt", "right": 5},
                           {"left": "={{ $json.s }}", "op": "equals", "right": "x"},
                           {"left": "={{ $json.ok }}", "op": "isTrue"},
                           {"left": "={{ $json.tags }}", "op": "isNotEmpty"}], "combine": "or"}, "n8n-nodes-base.if"),
    ("httpRequest", {"method": "POST", "url": "https://example.com/a", "authentication": "httpHeaderAuth",
                     "query": {"q": "1"}, "headers": {"X-List": ["a", "b"]}, "bodyType": "json",
                     "body": {"k": [1]}, "fullResponse": True, "ignoreHttpStatusErrors": False, "response": "text",
                     "timeout": 5}, "n8n-nodes-base.httpRequest"),
    ("httpRequest", {"method": "PUT", "url": "https://example.com/b", "bodyType": "form", "body": {"a": "b"},
                     "fullResponse": False, "ignoreHttpStatusErrors": True},  # response json: the default
     "n8n-nodes-base.httpRequest"),
    ("httpRequest", {"method": "POST", "url": "https://example.com/c", "bodyType": "raw", "body": "<x/>",
                     "contentType": "application/xml", "fullResponse": False, "ignoreHttpStatusErrors": False,
                     "response": "binary"}, "n8n-nodes-base.httpRequest"),
    ("schedule", {"cron": "0 9 * * 1-5"}, "n8n-nodes-base.scheduleTrigger"),
    ("schedule", {"every": 45}, "n8n-nodes-base.scheduleTrigger"),
]


@pytest.mark.parametrize(("flowbox_type", "params", "n8n_type"), NATIVE)
def test_each_export_converts_back_to_the_same_flowbox_parameters(flowbox_type: str, params: dict[str, Any],
                                                                   n8n_type: str) -> None:
    back, report = to_n8n({"name": "native", "nodes": [{"name": "N", "type": flowbox_type, "parameters": params,
                                                        "position": [0, 0]}], "connections": {}})
    node = back["nodes"][0]
    assert node["type"] == n8n_type and node["id"]
    assert not _entries(report, "unsupported")
    spec, way = registry.for_n8n(n8n_type) or (None, None)
    assert spec is not None and spec.type == flowbox_type and way is not None
    again, notes = way.convert(node["parameters"], float(node["typeVersion"]))
    assert again == params and not [n for n in notes if n[0] == "unsupported"]


def test_an_edited_legacy_cron_node_is_written_as_a_schedule_trigger() -> None:
    cron = n8n_node("Every day", "cron", 1, {"triggerTimes": {"item": [{"mode": "everyDay", "hour": 7}]}})
    data = convert(n8n_workflow(cron)).workflow
    assert data["nodes"][0]["parameters"] == {"cron": "0 7 * * *"}
    assert to_n8n(data)[0]["nodes"][0]["parameters"] == cron["parameters"]  # unedited: as it came
    data["nodes"][0]["parameters"] = {"cron": "30 7 * * *"}
    node = to_n8n(data)[0]["nodes"][0]
    assert (node["type"], node["typeVersion"]) == ("n8n-nodes-base.scheduleTrigger", 1.2)
    assert node["parameters"] == {"rule": {"interval": [{"field": "cronExpression", "expression": "30 7 * * *"}]}}


def test_a_node_without_an_n8n_counterpart_is_reported_and_written_as_no_op_with_a_note() -> None:
    spec = next(s for s in registry.catalog() if not any(w.export for w in s.n8n) and not s.trigger)
    data = {"name": "native", "connections": {}, "settings": {"codeNetwork": ["api.example.com"]},
            "nodes": [{"name": "Mine", "type": spec.type, "parameters": {}, "position": [0, 0]}]}
    back, report = to_n8n(data)
    node = back["nodes"][0]
    assert node["type"] == "n8n-nodes-base.noOp" and f"flowbox: {spec.type} has no n8n counterpart" in node["notes"]
    assert [name for name, _ in _entries(report, "unsupported")] == ["Mine", None]  # the node, the setting
    assert "codeNetwork" not in back["settings"]


def test_an_edited_node_without_an_export_keeps_its_n8n_parameters_and_says_so() -> None:
    sort = n8n_node("Sort", "sort", 1, {"sortFieldsUi": {"sortField": [{"fieldName": "n"}]}})
    data = convert(n8n_workflow(sort)).workflow
    assert registry.for_n8n("n8n-nodes-base.sort")[1].export is None  # type: ignore[index]
    data["nodes"][0]["parameters"]["changed"] = True
    back, report = to_n8n(data)
    assert back["nodes"][0]["parameters"] == sort["parameters"]
    assert _entries(report, "unsupported") == [("Sort", "sort was edited in flowbox and has no n8n export: its n8n "
                                                        "parameters as imported were written, the edits were not")]
    assert "flowbox: sort was edited" in back["nodes"][0]["notes"]


def test_python_expressions_are_reported_and_pinned_items_are_wrapped() -> None:
    data = {"name": "py", "connections": {}, "settings": {"expressionLanguage": "python"},
            "pinData": {"Start": [{"a": 1}, {"json": {"b": 2}, "binary": {}}]},
            "nodes": [{"name": "Start", "type": "manualTrigger", "parameters": {}}]}
    back, report = to_n8n(data)
    assert back["pinData"] == {"Start": [{"json": {"a": 1}}, {"json": {"b": 2}, "binary": {}}]}
    assert [e.node for e in report if e.level == "approximated"] == [None]
    assert back["settings"] == {"executionOrder": "v1"}
    assert report_json(report)["mapped"] == [{"node": "Start", "message": "manualTrigger -> "
                                                                          "n8n-nodes-base.manualTrigger v1"}]


# ---------------------------------------------------------------- the CLI

def test_cli_export_format_n8n_writes_n8n_json_and_reports_on_stderr(capsys: pytest.CaptureFixture[str],
                                                                      tmp_path: Path) -> None:
    data_dir = str(tmp_path / "data")
    source = tmp_path / "from-n8n.json"
    source.write_text(json.dumps(_original()))
    code, out, err = cli(capsys, "import", str(source), "--data-dir", data_dir)
    assert code == 0, err
    workflow_id = out.split("\t")[0]
    code, out, err = cli(capsys, "export", workflow_id, "--format", "n8n", "--data-dir", data_dir)
    assert code == 0, err
    back = json.loads(out)
    assert back["id"] == workflow_id and back["connections"] == CONNECTIONS
    assert _by_name(back)["Airtable"] == AIRTABLE and _by_name(back)["Big?"]["parameters"] == IF["parameters"]
    assert "exported to n8n" in err and "Edit Fields: set -> n8n-nodes-base.set v3.4" in err
    code, _, err = cli(capsys, "export", "--format", "n8n", "--out", str(tmp_path / "out"), "--data-dir", data_dir)
    assert code == 0, err
    written = json.loads((tmp_path / "out" / f"{workflow_id}.json").read_text())
    assert [n["type"] for n in written["nodes"]] == [n["type"] for n in _original()["nodes"]]
    # what flowbox stores is flowbox JSON that still validates; the export is only a view of it
    code, out, _ = cli(capsys, "export", workflow_id, "--data-dir", data_dir)
    stored = json.loads(out)
    assert PLACEHOLDER in [n["type"] for n in stored["nodes"]]
    validate(load_workflow(stored))


# ---------------------------------------------------------------- the API

def test_the_api_gives_a_workflow_as_n8n_json_to_download(tmp_path: Path) -> None:
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        made = await client.post("/api/v1/workflows", json=_original())
        assert made.status_code == 201, made.text
        wid = made.json()["id"]
        got = await client.get(f"/api/v1/workflows/{wid}", params={"format": "n8n"})
        assert got.status_code == 200, got.text
        back = got.json()
        assert back["connections"] == CONNECTIONS and _by_name(back)["Airtable"] == AIRTABLE
        assert [n["type"] for n in back["nodes"]] == [n["type"] for n in _original()["nodes"]]
        assert got.headers["content-disposition"] == 'attachment; filename="from-n8n.n8n.json"'
        report = json.loads(got.headers["x-flowbox-export-report"])
        assert {"node": "Big?", "message": "if -> n8n-nodes-base.if v2.2 (its n8n parameters, unedited)"} in \
            report["mapped"]
        assert (await client.get(f"/api/v1/workflows/{wid}")).json()["nodes"][0]["type"] == "webhook"
        wrong = await client.get(f"/api/v1/workflows/{wid}", params={"format": "yaml"})
        assert wrong.status_code == 400 and "format" in wrong.text

    run_with_services(tmp_path, body)


def test_an_exported_credential_carries_its_name_here(tmp_path: Path) -> None:
    """A flowbox node refers to its credential by id; n8n's export names it too, with the name it has here
    (a credential that is gone keeps its id as the name, as before)."""
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        made = await client.post("/api/v1/credentials", json={"name": "Billing API key", "type": "httpHeaderAuth",
                                                              "data": {"name": "X-Key", "value": "s3cret"}})
        assert made.status_code == 201, made.text
        cid = made.json()["id"]
        call = {"name": "Call", "type": "httpRequest", "position": [200, 0],
                "parameters": {"url": "https://example.com", "authentication": "httpHeaderAuth"}}
        workflow = {"name": "billing", "connections": {"Start": {"main": [[{"node": "Call"}]]}}, "nodes": [
            {"name": "Start", "type": "manualTrigger", "position": [0, 0], "parameters": {}},
            {**call, "credentials": {"httpHeaderAuth": cid}},
            {**call, "name": "Old", "credentials": {"httpHeaderAuth": "gone-id"}}]}
        made = await client.post("/api/v1/workflows", json=workflow)
        assert made.status_code == 201, made.text
        back = (await client.get(f"/api/v1/workflows/{made.json()['id']}", params={"format": "n8n"})).json()
        assert _by_name(back)["Call"]["credentials"] == {"httpHeaderAuth": {"id": cid, "name": "Billing API key"}}
        assert _by_name(back)["Old"]["credentials"] == {"httpHeaderAuth": {"id": "gone-id", "name": "gone-id"}}
        assert "s3cret" not in json.dumps(back)

    run_with_services(tmp_path, body)
