"""n8n workflow JSON at every door (DESIGN §10, issue 14): detection, the workflow-level conversion
(node settings, credentials, connections, settings, pinData, staticData), the report, placeholders that
may be saved but never run, and clear errors for what cannot be read. The workflows are written here
in n8n's export format from its documentation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from n8n_support import cli, n8n_node, n8n_workflow, outputs, run_json
from support import Harness, run_with_services

from flowbox import registry
from flowbox.errors import DuplicateNodeType, WorkflowInvalid
from flowbox.n8n import PLACEHOLDER, accept, convert, is_n8n
from flowbox.node import N8n, Param, node
from flowbox.workflow import load_workflow, validate, validate_for_run

TRIGGER = n8n_node("When clicking", "manualTrigger")
SET = n8n_node("Edit Fields", "set", 3.4, {"assignments": {"assignments": [
    {"id": "a", "name": "greeting", "value": "hello", "type": "string"}]}, "includeOtherFields": True})
AIRTABLE = n8n_node("Airtable", "airtable", 2.1, {"operation": "search", "base": {"__rl": True, "value": "app1"}})


def entries(conversion: Any, level: str) -> list[tuple[str | None, str]]:
    return [(e.node, e.message) for e in conversion.report if e.level == level]


# ---------------------------------------------------------------- detection

def test_n8n_json_is_told_from_flowbox_json() -> None:
    assert is_n8n(n8n_workflow(TRIGGER))
    assert is_n8n({"nodes": [{"name": "X", "type": "n8n-nodes-acme.thing", "typeVersion": 3}]})  # community node
    assert not is_n8n({"nodes": [{"name": "X", "type": "set", "typeVersion": 1}]})  # flowbox's own, versioned
    assert is_n8n({"nodes": [{"name": "A", "type": "@n8n/n8n-nodes-langchain.agent"}]})
    assert not is_n8n({"nodes": [{"name": "Start", "type": "manualTrigger", "parameters": {}}]})
    assert not is_n8n({"nodes": "x"}) and not is_n8n([]) and not is_n8n(None)
    native = {"nodes": [{"name": "Start", "type": "manualTrigger"}], "connections": {}}
    assert accept(native) == (native, None)


def test_a_converted_workflow_is_flowbox_json_and_converts_no_further() -> None:
    conversion = convert(n8n_workflow(TRIGGER, SET))
    data = conversion.workflow
    assert not is_n8n(data)
    assert [n["type"] for n in data["nodes"]] == ["manualTrigger", "set"]
    assert data["nodes"][1]["n8n"] == {"type": "n8n-nodes-base.set", "typeVersion": 3.4,  # kept for export
                                       "parameters": SET["parameters"]}
    assert data["nodes"][1]["typeVersion"] == 3.4 and load_workflow(data).nodes["Edit Fields"].type_version == 3.4
    assert data["settings"]["expressionLanguage"] == "javascript"
    validate_for_run(load_workflow(data))


# ---------------------------------------------------------------- the report

def test_the_report_names_each_node_and_what_became_of_it() -> None:
    conversion = convert(n8n_workflow(TRIGGER, SET, AIRTABLE, settings={"executionOrder": "v1",
                                                                         "callerPolicy": "any"}))
    assert entries(conversion, "mapped") == [
        ("When clicking", "n8n-nodes-base.manualTrigger v1 -> manualTrigger"),
        ("Edit Fields", "n8n-nodes-base.set v3.4 -> set")]
    assert ("Airtable", "n8n-nodes-base.airtable v2.1: no flowbox node converts this n8n type (kept as a "
                        "placeholder that refuses to run)") in entries(conversion, "unsupported")
    assert (None, 'setting callerPolicy = "any" is not supported and was left out') in entries(conversion,
                                                                                               "unsupported")
    shaped = conversion.to_json()
    assert set(shaped) == {"mapped", "approximated", "unsupported"}
    assert {"node": "Edit Fields", "message": "n8n-nodes-base.set v3.4 -> set"} in shaped["mapped"]
    assert conversion.placeholders == ["Airtable"]


def test_a_parameter_no_converter_reads_is_never_dropped() -> None:
    limit = n8n_node("Limit", "limit", 1, {"maxItems": 2, "someFutureOption": True})
    conversion = convert(n8n_workflow(TRIGGER, limit))
    placeholder = conversion.workflow["nodes"][1]
    assert placeholder["type"] == PLACEHOLDER
    assert placeholder["parameters"]["node"] == limit  # the original JSON, exactly
    assert "parameter 'someFutureOption' is not supported" in placeholder["parameters"]["reason"]
    assert entries(conversion, "unsupported")[0][0] == "Limit"


# ---------------------------------------------------------------- placeholders: saved, never run

def test_a_placeholder_is_saved_but_every_run_refuses_it_naming_node_and_type() -> None:
    data = convert(n8n_workflow(TRIGGER, AIRTABLE)).workflow
    workflow = load_workflow(data)
    validate(workflow)  # saving is allowed: it can be fixed in the editor
    with pytest.raises(WorkflowInvalid) as refused:
        validate_for_run(workflow)
    assert refused.value.node == "Airtable"
    assert "n8n-nodes-base.airtable v2.1 is not available in flowbox" in refused.value.message


def test_a_placeholder_keeps_every_connection_it_had() -> None:
    switch = n8n_node("Route", "switch", 3.2, {"rules": {"values": []}, "options": {"fallbackOutput": "sideways"}})
    ends = [n8n_node(f"End {i}", "noOp") for i in range(3)]
    connections = {"When clicking": {"main": [[{"node": "Route", "type": "main", "index": 0}]]},
                   "Route": {"main": [[{"node": f"End {i}", "type": "main", "index": 0}] for i in range(3)]}}
    data = convert(n8n_workflow(TRIGGER, switch, *ends, connections=connections)).workflow
    assert data["nodes"][1]["type"] == PLACEHOLDER and data["nodes"][1]["parameters"]["outputs"] == 3
    assert data["connections"] == connections
    validate(load_workflow(data))


def test_flowbox_run_of_an_export_with_a_placeholder_exits_2(capsys: pytest.CaptureFixture[str],
                                                             tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(n8n_workflow(TRIGGER, AIRTABLE)))
    code, out, err = cli(capsys, "run", str(path), "--json", "--data-dir", str(tmp_path / "data"))
    assert code == 2 and out == ""
    assert "node 'Airtable' cannot run: n8n-nodes-base.airtable v2.1 is not available in flowbox" in err
    assert "unsupported  Airtable: n8n-nodes-base.airtable v2.1" in err  # the report, on stderr


def test_a_disabled_placeholder_passes_its_items_through_as_in_n8n(capsys: pytest.CaptureFixture[str],
                                                                   tmp_path: Path) -> None:
    data = n8n_workflow(TRIGGER, {**AIRTABLE, "disabled": True}, pinData={"When clicking": [{"json": {"a": 1}}]})
    assert outputs(run_json(capsys, tmp_path, data), "Airtable") == [{"a": 1}]


# ---------------------------------------------------------------- bad input: clear errors, nothing half-done

@pytest.mark.parametrize(("data", "text", "node", "field"), [
    ({"nodes": {"a": 1}, "typeVersion": 1}, None, None, None),  # not n8n (no node list): flowbox's own error
    (n8n_workflow(n8n_node("Edit Fields", "set", 9, {})),
     "node 'Edit Fields': n8n-nodes-base.set typeVersion 9 is not one flowbox knows (it converts 1, 2, 3, 3.1",
     "Edit Fields", "typeVersion"),
    (n8n_workflow({**TRIGGER, "typeVersion": "1"}), "typeVersion must be a number", "When clicking", "typeVersion"),
    (n8n_workflow({**TRIGGER, "parameters": []}), "'parameters' must be an object", "When clicking", "parameters"),
    (n8n_workflow(n8n_node("Edit Fields", "set", 3.4, {"assignments": {"assignments": [
        {"name": "n", "value": "many", "type": "number"}]}})),
     "node 'Edit Fields' (n8n-nodes-base.set v3.4): parameter 'assignments.n' is not a number: 'many'",
     "Edit Fields", "parameters.assignments.n"),
    (n8n_workflow(n8n_node("Respond", "respondToWebhook", 1.1, {"respondWith": "json", "responseBody": "{oops"})),
     "parameter 'responseBody' is not valid JSON", "Respond", "parameters.responseBody"),
    (n8n_workflow(TRIGGER, TRIGGER), "duplicate node name 'When clicking'", "When clicking", "name"),
    (n8n_workflow(TRIGGER, connections={"When clicking": {"main": {"x": 1}}}),
     "connections.main must be a list of lists", "When clicking", "connections"),
    (n8n_workflow(TRIGGER, settings={"executionOrder": "v9"}), "executionOrder must be 'v0' or 'v1'", None,
     "settings.executionOrder"),
    (n8n_workflow(TRIGGER, pinData={"Nobody": []}), "pinData names missing node 'Nobody'", "Nobody", "pinData"),
    (n8n_workflow({**TRIGGER, "onError": "explode"}), "onError must be one of", "When clicking", "onError"),
])
def test_what_cannot_be_read_is_refused_naming_node_and_field(data: dict[str, Any], text: str | None,
                                                              node: str | None, field: str | None) -> None:
    if text is None:
        assert not is_n8n(data)
        return
    with pytest.raises(WorkflowInvalid) as refused:
        convert(data)
    assert text in refused.value.message
    assert (refused.value.node, refused.value.field) == (node, field)


def test_an_n8n_type_is_converted_by_one_flowbox_node_only() -> None:
    async def fn(ctx: Any, items: Any) -> Any:
        return [items]

    fn.__module__ = "tests.elsewhere"
    way = N8n(types=("n8n-nodes-base.limit",), versions=(1,), convert=lambda p, v: ({}, []))
    with pytest.raises(DuplicateNodeType, match="'n8n-nodes-base.limit' is converted by both 'limit' and"):
        node(type="limitTwin", display_name="x", group="x", description="x", n8n=way,
             params=[Param("max", "number", 1)])(fn)
    assert registry.get_or_none("limitTwin") is None


# ---------------------------------------------------------------- workflow-level fields

def test_node_settings_are_converted() -> None:
    nodes = [TRIGGER,
             n8n_node("A", "noOp", onError="continueErrorOutput", retryOnFail=True, maxTries=4, waitBetweenTries=500,
                      alwaysOutputData=True, notes="why", notesInFlow=True),
             n8n_node("B", "noOp", continueOnFail=True, disabled=True),
             n8n_node("C", "noOp", onError="stopWorkflow")]
    data = convert(n8n_workflow(*nodes)).workflow
    a, b, c = data["nodes"][1:]
    assert (a["onError"], a["retryOnFail"], a["maxTries"], a["waitBetweenTries"], a["alwaysOutputData"],
            a["notes"], a["notesInFlow"]) == ("errorOutput", True, 4, 500, True, "why", True)
    assert (b["onError"], b["disabled"], c["onError"]) == ("passThrough", True, "stop")
    loaded = load_workflow(data)
    assert loaded.nodes["A"].max_tries == 4 and loaded.nodes["A"].always_output_data
    assert loaded.nodes["B"].on_error == "passThrough" and loaded.nodes["B"].disabled


def test_execute_once_is_not_run_differently_but_kept_as_a_placeholder() -> None:
    conversion = convert(n8n_workflow(TRIGGER, n8n_node("Once", "noOp", executeOnce=True)))
    assert conversion.placeholders == ["Once"]
    assert "executeOnce" in entries(conversion, "unsupported")[0][1]


def test_credentials_keep_their_n8n_id_and_say_so() -> None:
    http = n8n_node("Call", "httpRequest", 4.2, {"url": "https://example.com", "authentication":
                    "genericCredentialType", "genericAuthType": "httpHeaderAuth"},
                    credentials={"httpHeaderAuth": {"id": "cr1", "name": "My token"}})
    conversion = convert(n8n_workflow(TRIGGER, http))
    call = conversion.workflow["nodes"][1]
    assert call["credentials"] == {"httpHeaderAuth": "cr1"}
    assert call["parameters"]["authentication"] == "httpHeaderAuth"
    assert any("'My token'" in m and "cr1" in m for _, m in entries(conversion, "approximated"))


def test_connections_of_every_type_are_kept() -> None:
    connections = {"When clicking": {"main": [[{"node": "Edit Fields", "type": "main", "index": 0}]]},
                   "Tool": {"ai_tool": [[{"node": "Edit Fields", "type": "ai_tool", "index": 0}]]}}
    data = convert(n8n_workflow(TRIGGER, SET, n8n_node("Tool", "noOp"), connections=connections)).workflow
    assert data["connections"] == connections  # ai_tool kept for the AI nodes to come
    assert [(c.source, c.target) for c in load_workflow(data).connections] == [("When clicking", "Edit Fields")]


def test_settings_are_converted_and_unknown_ones_reported() -> None:
    settings = {"executionOrder": "v0", "timezone": "Europe/Berlin", "errorWorkflow": "wf9",
                "saveDataSuccessExecution": "none", "saveDataErrorExecution": "all", "saveManualExecutions": False,
                "saveExecutionProgress": "DEFAULT", "executionTimeout": 30}
    conversion = convert({**n8n_workflow(TRIGGER), "settings": settings})
    assert conversion.workflow["settings"] == {
        "expressionLanguage": "javascript", "executionOrder": "v0", "timezone": "Europe/Berlin",
        "errorWorkflow": "wf9", "saveDataSuccessExecution": "none", "saveDataErrorExecution": "all",
        "saveManualExecutions": False}
    approximated = [m for _, m in entries(conversion, "approximated")]
    assert any("executionOrder v0" in m for m in approximated)
    assert any("errorWorkflow 'wf9'" in m for m in approximated)
    assert (None, "setting executionTimeout = 30 is not supported and was left out") in entries(conversion,
                                                                                               "unsupported")
    validate(load_workflow(conversion.workflow))
    no_settings = convert({**n8n_workflow(TRIGGER), "settings": None}).workflow["settings"]
    assert no_settings["executionOrder"] == "v0"  # absent means v0 in n8n: kept, reported as approximated


def test_pin_data_and_static_data() -> None:
    pins = {"When clicking": [{"json": {"a": 1}, "pairedItem": {"item": 0}},
                              {"json": {"b": 2}, "binary": {"data": {"data": "eA==", "mimeType": "text/plain"}}},
                              {"c": 3}]}
    conversion = convert(n8n_workflow(TRIGGER, pinData=pins, staticData={"node:When clicking": {"last": 5}}))
    assert conversion.workflow["pinData"] == {"When clicking": [
        {"a": 1}, {"json": {"b": 2}, "binary": {"data": {"data": "eA==", "mimeType": "text/plain"}}}, {"c": 3}]}
    assert conversion.workflow["staticData"] == {"node:When clicking": {"last": 5}}
    assert any("staticData" in m for _, m in entries(conversion, "approximated"))


def test_an_active_export_is_imported_inactive() -> None:
    conversion = convert({**n8n_workflow(TRIGGER), "active": True})
    assert "active" not in conversion.workflow
    assert any("imported inactive" in m for _, m in entries(conversion, "approximated"))


# ---------------------------------------------------------------- doors

def test_flowbox_run_of_an_export_just_works(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = n8n_workflow(TRIGGER, SET, pinData={"When clicking": [{"json": {"name": "Ada"}}]})
    result = run_json(capsys, tmp_path, data)
    assert result["status"] == "success" and result["lastNode"] == "Edit Fields"
    assert outputs(result, "Edit Fields") == [{"name": "Ada", "greeting": "hello"}]


def test_flowbox_import_prints_the_report_per_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    first, second = tmp_path / "one.json", tmp_path / "two.json"
    first.write_text(json.dumps(n8n_workflow(TRIGGER, SET)))
    second.write_text(json.dumps(n8n_workflow(TRIGGER, AIRTABLE)))
    data_dir = str(tmp_path / "data")
    code, out, err = cli(capsys, "import", str(first), str(second), "--data-dir", data_dir)
    assert code == 0, err
    assert len(out.splitlines()) == 2
    assert f"{first}: converted from n8n" in err and f"{second}: converted from n8n" in err
    assert "mapped       Edit Fields: n8n-nodes-base.set v3.4 -> set" in err
    assert "unsupported  Airtable: n8n-nodes-base.airtable v2.1" in err
    stored_id = out.splitlines()[1].split("\t")[0]
    code, out, err = cli(capsys, "run", stored_id, "--json", "--data-dir", data_dir)
    assert code == 2 and "node 'Airtable' cannot run" in err  # stored, not runnable


def test_the_api_converts_answers_the_report_and_refuses_to_run_a_placeholder(tmp_path: Path) -> None:
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        made = await client.post("/api/v1/workflows", json=n8n_workflow(TRIGGER, AIRTABLE))
        assert made.status_code == 201, made.text
        saved = made.json()
        assert [n["type"] for n in saved["nodes"]] == ["manualTrigger", PLACEHOLDER]
        assert saved["conversion"]["unsupported"][0]["node"] == "Airtable"
        assert {"node": "When clicking", "message": "n8n-nodes-base.manualTrigger v1 -> manualTrigger"} in \
            saved["conversion"]["mapped"]
        wid = saved["id"]
        assert "conversion" not in (await client.get(f"/api/v1/workflows/{wid}")).json()  # not stored
        ran = await client.post(f"/api/v1/workflows/{wid}/run", json={})
        assert ran.status_code == 422, ran.text
        error = ran.json()["error"]
        assert "node 'Airtable' cannot run: n8n-nodes-base.airtable v2.1" in error["message"]
        assert error["details"]["node"] == "Airtable"
        activated = await client.post(f"/api/v1/workflows/{wid}/activate")
        assert activated.status_code == 422, activated.text

        replaced = await client.put(f"/api/v1/workflows/{wid}", json=n8n_workflow(TRIGGER, SET))
        assert replaced.status_code == 200, replaced.text
        assert replaced.json()["conversion"]["mapped"][1]["node"] == "Edit Fields"
        queued = await client.post(f"/api/v1/workflows/{wid}/run", json={"input": {"x": 1}, "wait": False})
        assert queued.status_code == 202, queued.text
        await services.runs.run_queued(queued.json()["id"])
        ran = await client.get(f"/api/v1/executions/{queued.json()['id']}")
        assert ran.json()["nodes"]["Edit Fields"][0]["outputs"] == [[{"x": 1, "greeting": "hello"}]]

        bad = await client.post("/api/v1/workflows", json=n8n_workflow(n8n_node("Edit Fields", "set", 9)))
        assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "typeVersion"
        assert len((await client.get("/api/v1/workflows")).json()["data"]) == 1  # nothing half-stored

    run_with_services(tmp_path, body)


def test_an_imported_n8n_webhook_answers_through_its_respond_node(tmp_path: Path) -> None:
    """n8n's Webhook v2 (POST, "Using 'Respond to Webhook' node") and Respond to Webhook v1.1 (JSON body,
    response code and header in its options) answer the call as n8n documents."""
    hook = n8n_node("Webhook", "webhook", 2, {"httpMethod": "POST", "path": "orders",
                                              "responseMode": "responseNode", "options": {}}, webhookId="w-1")
    respond = n8n_node("Respond", "respondToWebhook", 1.1, {
        "respondWith": "json", "responseBody": "{\"ok\": true}",
        "options": {"responseCode": 201, "responseHeaders": {"entries": [{"name": "X-Flow", "value": "1"}]}}})

    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        made = await client.post("/api/v1/workflows", json={**n8n_workflow(hook, respond), "active": True})
        assert made.status_code == 201, made.text
        assert made.json()["active"] is False  # imported inactive, and the report says so
        activated = await client.post(f"/api/v1/workflows/{made.json()['id']}/activate")
        assert activated.status_code == 200, activated.text
        answer = await client.post("/webhook/orders", json={"n": 1})
        assert answer.status_code == 201, answer.text
        assert answer.json() == {"ok": True} and answer.headers["x-flow"] == "1"
        assert (await client.get("/webhook/orders")).status_code == 405  # POST only, as in n8n

    run_with_services(tmp_path, body)
