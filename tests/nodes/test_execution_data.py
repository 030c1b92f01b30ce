"""executionData through the real engine and CLI: key/values saved on the execution (the last item's win), n8n's
limits refused with a message, kept across a Wait's snapshot, and stored with the execution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import RunNode
from n8n_support import cli, n8n_node, n8n_workflow

from flowbox.engine.runner import Runner
from flowbox.engine.snapshot import freeze, thaw
from flowbox.workflow import load_workflow


def save(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"name": "Save", "type": "executionData", "parameters": {"data": list(rows)}}


def test_the_last_items_values_stay_and_items_pass_on(run_node: RunNode) -> None:
    result = run_node(save({"key": "order", "value": "{{ $json.id }}"}, {"key": "kind", "value": "test"}),
                      [{"id": 7}, {"id": 8}])
    assert result.status == "success", result.error
    assert [i.json for i in result.runs["Save"][-1].outputs[0]] == [{"id": 7}, {"id": 8}]
    assert result.custom_data == {"order": "8", "kind": "test"}
    assert result.to_json()["customData"] == {"order": "8", "kind": "test"}


@pytest.mark.parametrize(("rows", "message"), [
    ([{"key": "k" * 51, "value": "v"}], "must have 1 to 50 characters"),
    ([{"key": "k", "value": "v" * 256}], "the value has 256 characters; at most 255"),
    ([{"key": f"k{n}", "value": "v"} for n in range(11)], "at most 10 custom data keys"),
])
def test_n8ns_limits_are_refused_naming_what_is_too_much(run_node: RunNode, rows: list[dict[str, Any]],
                                                         message: str) -> None:
    result = run_node(save(*rows))
    assert result.status == "error" and message in result.error["message"]
    assert result.error["node"] == "Save"


def test_custom_data_survives_a_snapshot() -> None:
    runner = Runner(load_workflow({"name": "x", "nodes": [{"name": "A", "type": "noOp", "parameters": {}}],
                                   "connections": {}}))
    runner.custom_data = {"order": "9"}
    from flowbox.engine.state import Task

    again = Runner(runner.workflow)
    thaw(again, freeze(runner, [], {}, Task("A", [[]], None), "wait"))
    assert again.custom_data == {"order": "9"}


def test_an_n8n_execution_data_node_stores_it_with_the_execution(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    data = n8n_workflow(n8n_node("Start", "manualTrigger"),
                        n8n_node("Tag", "executionData", 1, {"dataToSave": {"values": [
                            {"key": "customer", "value": "={{ $json.name }}"}]}}),
                        pinData={"Start": [{"json": {"name": "Ann"}}]})
    path = tmp_path / "tag.json"
    path.write_text(json.dumps(data))
    code, out, err = cli(capsys, "run", str(path), "--json", "--data-dir", str(tmp_path / "data"))
    assert code == 0, err
    ran = json.loads(out)
    assert ran["customData"] == {"customer": "Ann"}
    code, out, err = cli(capsys, "execution", ran["executionId"], "--data-dir", str(tmp_path / "data"))
    assert code == 0, err
    assert json.loads(out)["customData"] == {"customer": "Ann"}
    code, out, err = cli(capsys, "executions", "--custom-data", "customer:Ann", "--json",
                         "--data-dir", str(tmp_path / "data"))
    assert code == 0, err
    assert [e["id"] for e in json.loads(out)["data"]] == [ran["executionId"]]
    code, out, err = cli(capsys, "executions", "--custom-data", "customer:Bob", "--json",
                         "--data-dir", str(tmp_path / "data"))
    assert code == 0 and json.loads(out)["data"] == []


def test_the_api_finds_executions_by_their_custom_data(tmp_path: Path) -> None:
    from support import run_with_services

    tagged = {"name": "tagged", "nodes": [
        {"name": "Start", "type": "manualTrigger", "parameters": {}, "position": [0, 0]},
        {"name": "Tag", "type": "executionData", "position": [200, 0],
         "parameters": {"data": [{"key": "order", "value": "{{ $json.n }}"}]}}],
        "connections": {"Start": {"main": [[{"node": "Tag"}]]}}}

    async def body(services: Any, client: Any) -> None:
        flow = load_workflow(tagged)
        runs = [await services.run_here(flow, [{"n": n}]) for n in (1, 2)]
        found = (await client.get("/api/v1/executions", params={"customData": "order:2"})).json()["data"]
        assert [e["id"] for e in found] == [runs[1].execution_id] and found[0]["customData"] == {"order": "2"}
        bad = await client.get("/api/v1/executions", params={"customData": "order"})
        assert bad.status_code in (400, 422) and "key:value" in bad.text

    run_with_services(tmp_path, body)
